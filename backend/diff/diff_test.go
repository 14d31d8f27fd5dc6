package diff

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	tests := map[string]struct {
		a, b    string
		context int
		want    string
	}{
		"equal":      {a: "x\ny\n", b: "x\ny\n", context: 3, want: ""},
		"both empty": {a: "", b: "", context: 3, want: ""},
		"create": {a: "", b: "a\nb\n", context: 3, want: `--- a
+++ b
@@ -0,0 +1,2 @@
+a
+b
`},
		"delete all": {a: "a\nb\n", b: "", context: 3, want: `--- a
+++ b
@@ -1,2 +0,0 @@
-a
-b
`},
		"change in middle": {
			a:       "1\n2\n3\n4\n5\n6\n7\n8\n9\n",
			b:       "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			context: 3,
			want: `--- a
+++ b
@@ -2,7 +2,7 @@
 2
 3
 4
-5
+five
 6
 7
 8
`},
		"two hunks far apart": {
			a:       "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
			b:       "one\n2\n3\n4\n5\n6\n7\n8\n9\nten\n",
			context: 1,
			want: `--- a
+++ b
@@ -1,2 +1,2 @@
-1
+one
 2
@@ -9,2 +9,2 @@
 9
-10
+ten
`},
		"close changes merge into one hunk": {
			a:       "1\n2\n3\n4\n5\n",
			b:       "one\n2\n3\n4\nfive\n",
			context: 2,
			want: `--- a
+++ b
@@ -1,5 +1,5 @@
-1
+one
 2
 3
 4
-5
+five
`},
		"gap one longer than twice the context splits": {
			a:       "1\n2\n3\n4\n5\n6\n",
			b:       "one\n2\n3\n4\n5\nsix\n",
			context: 1,
			want: `--- a
+++ b
@@ -1,2 +1,2 @@
-1
+one
 2
@@ -5,2 +5,2 @@
 5
-6
+six
`},
		"insert only with no context addresses the line before": {
			a:       "1\n2\n3\n",
			b:       "1\n2\nnew\n3\n",
			context: 0,
			want: `--- a
+++ b
@@ -2,0 +3 @@
+new
`},
		"delete only with no context": {
			a:       "1\n2\n3\n",
			b:       "1\n3\n",
			context: 0,
			want: `--- a
+++ b
@@ -2 +1,0 @@
-2
`},
		"missing newline at end added": {
			a:       "x\ny",
			b:       "x\ny\n",
			context: 3,
			want: `--- a
+++ b
@@ -1,2 +1,2 @@
 x
-y
\ No newline at end of file
+y
`},
		"negative context means default": {
			a:       "1\n2\n3\n4\n5\n6\n7\n8\n",
			b:       "1\n2\n3\n4\nX\n6\n7\n8\n",
			context: -1,
			want: `--- a
+++ b
@@ -2,7 +2,7 @@
 2
 3
 4
-5
+X
 6
 7
 8
`},
		"yaml field change": {
			a:       "kind: Route\nname: r\npriority: 10\nthen:\n  forward:\n  - upstream: web-v1\n",
			b:       "kind: Route\nname: r\npriority: 20\nthen:\n  forward:\n  - upstream: web-v2\n",
			context: 1,
			want: `--- a
+++ b
@@ -2,5 +2,5 @@
 name: r
-priority: 10
+priority: 20
 then:
   forward:
-  - upstream: web-v1
+  - upstream: web-v2
`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Unified("a", "b", tt.a, tt.b, tt.context)
			if got != tt.want {
				t.Errorf("Unified mismatch\ngot:\n%s\nwant:\n%s", got, tt.want)
			}
			if tt.want != "" {
				if back, err := apply(tt.a, got); err != nil || back != tt.b {
					t.Errorf("patch does not apply: err=%v got %q want %q", err, back, tt.b)
				}
			}
		})
	}
}

func TestLinesIsShortest(t *testing.T) {
	tests := map[string]struct {
		a, b      string
		ins, dels int
	}{
		"identical":        {a: "a\nb\nc\n", b: "a\nb\nc\n"},
		"one replaced":     {a: "a\nb\nc\n", b: "a\nx\nc\n", ins: 1, dels: 1},
		"myers paper":      {a: "A\nB\nC\nA\nB\nB\nA\n", b: "C\nB\nA\nB\nA\nC\n", ins: 2, dels: 3},
		"prepend":          {a: "b\nc\n", b: "a\nb\nc\n", ins: 1},
		"all different":    {a: "a\nb\n", b: "c\nd\ne\n", ins: 3, dels: 2},
		"moved block":      {a: "1\n2\n3\n4\n", b: "3\n4\n1\n2\n", ins: 2, dels: 2},
		"empty to content": {a: "", b: "x\n", ins: 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			edits := Lines(tt.a, tt.b)
			var ins, dels int
			for _, e := range edits {
				switch e.Op {
				case Insert:
					ins++
				case Delete:
					dels++
				}
			}
			if ins != tt.ins || dels != tt.dels {
				t.Errorf("got %d inserts, %d deletes; want %d, %d", ins, dels, tt.ins, tt.dels)
			}
			if lcs := lcsLen(split(tt.a), split(tt.b)); len(edits)-ins-dels != lcs {
				t.Errorf("script keeps %d lines, longest common subsequence is %d", len(edits)-ins-dels, lcs)
			}
		})
	}
}

// TestRandomRoundTrip checks, over many random pairs of texts, that the
// diff applies back to the new text and that the edit script is minimal.
func TestRandomRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 500; i++ {
		a, b := randomText(rng), randomText(rng)
		ctx := rng.Intn(4)
		u := Unified("a", "b", a, b, ctx)
		if a == b {
			if u != "" {
				t.Fatalf("case %d: equal texts gave a diff", i)
			}
			continue
		}
		got, err := apply(a, u)
		if err != nil || got != b {
			t.Fatalf("case %d (context %d): patch of %q to %q gave %q, err %v\n%s", i, ctx, a, b, got, err, u)
		}
		edits := Lines(a, b)
		kept := 0
		for _, e := range edits {
			if e.Op == Equal {
				kept++
			}
		}
		if want := lcsLen(split(a), split(b)); kept != want {
			t.Fatalf("case %d: script keeps %d lines, LCS is %d", i, kept, want)
		}
	}
}

func randomText(rng *rand.Rand) string {
	n := rng.Intn(12)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteString(strconv.Itoa(rng.Intn(4)))
		sb.WriteByte('\n')
	}
	s := sb.String()
	if s != "" && rng.Intn(5) == 0 {
		s = s[:len(s)-1] // drop the final newline sometimes
	}
	return s
}

func lcsLen(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// apply is a strict patch(1): every context and deleted line must match at
// exactly the position the hunk header gives.
func apply(old, patch string) (string, error) {
	src := strings.SplitAfter(old, "\n")
	if src[len(src)-1] == "" {
		src = src[:len(src)-1]
	}
	lines := strings.SplitAfter(patch, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "--- ") || !strings.HasPrefix(lines[1], "+++ ") {
		return "", fmt.Errorf("missing headers")
	}
	var out []string
	pos := 0 // next unread line of src
	var last *string
	for _, l := range lines[2:] {
		if l == "" {
			continue
		}
		switch {
		case strings.HasPrefix(l, "@@ "):
			var os, oc, ns, nc int
			if _, err := fmt.Sscanf(normalizeHeader(l), "@@ -%d,%d +%d,%d @@", &os, &oc, &ns, &nc); err != nil {
				return "", fmt.Errorf("bad hunk header %q: %v", l, err)
			}
			start := os - 1
			if oc == 0 {
				start = os
			}
			if start < pos {
				return "", fmt.Errorf("hunk %q overlaps", l)
			}
			out = append(out, src[pos:start]...)
			pos = start
			last = nil
		case l == "\\ No newline at end of file\n":
			if last == nil {
				return "", fmt.Errorf("stray no-newline marker")
			}
			*last = strings.TrimSuffix(*last, "\n")
		case l[0] == ' ' || l[0] == '-':
			if pos >= len(src) || strings.TrimSuffix(src[pos], "\n") != strings.TrimSuffix(l[1:], "\n") {
				return "", fmt.Errorf("line %d does not match %q", pos+1, l)
			}
			if l[0] == ' ' {
				// The source line is kept with its own ending, so a marker
				// after it has nothing left to change.
				out = append(out, src[pos])
			}
			last = new(string)
			pos++
		case l[0] == '+':
			out = append(out, l[1:])
			last = &out[len(out)-1]
		default:
			return "", fmt.Errorf("bad line %q", l)
		}
	}
	out = append(out, src[pos:]...)
	return strings.Join(out, ""), nil
}

// normalizeHeader writes omitted counts ("-3" means "-3,1") explicitly.
func normalizeHeader(h string) string {
	f := strings.Fields(h)
	for i := 1; i <= 2; i++ {
		if !strings.Contains(f[i], ",") {
			f[i] += ",1"
		}
	}
	return strings.Join(f, " ")
}
