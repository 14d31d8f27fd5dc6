package diff

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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
			got, err := Unified("a", "b", tt.a, tt.b, tt.context)
			if err != nil {
				t.Fatal(err)
			}
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
			edits, err := Lines(tt.a, tt.b)
			if err != nil {
				t.Fatal(err)
			}
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
		u, err := Unified("a", "b", a, b, ctx)
		if err != nil {
			t.Fatal(err)
		}
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
		edits, err := Lines(a, b)
		if err != nil {
			t.Fatal(err)
		}
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

// TestScriptAppliesOnRandomTexts checks the edit script itself on random
// pairs of every size class, including ones past the search budget where
// the script is coarse: applied to a it must give b, line numbers must
// count both sides, and deletions must come before insertions.
func TestScriptAppliesOnRandomTexts(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	sizes := []struct{ lines, alphabet int }{
		{5, 2}, {40, 3}, {300, 10}, {2000, 50}, {20000, 4}, {20000, 20000},
	}
	for _, sz := range sizes {
		for i := 0; i < max(3, 4000/sz.lines); i++ {
			a := textOf(rng, rng.Intn(sz.lines+1), sz.alphabet)
			b := textOf(rng, rng.Intn(sz.lines+1), sz.alphabet)
			if rng.Intn(2) == 0 {
				b = mutate(rng, a, 1+rng.Intn(sz.lines/4+1), sz.alphabet)
			}
			edits, err := Lines(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if err := applyScript(a, b, edits); err != nil {
				t.Fatalf("%d lines over %d values, case %d: %v", sz.lines, sz.alphabet, i, err)
			}
		}
	}
}

// applyScript replays edits on a's lines and compares with b's.
func applyScript(a, b string, edits []Line) error {
	old, want := strings.Split(a, "\n"), strings.Split(b, "\n")
	var got []string
	i, j := 0, 0
	prev := Equal
	for n, e := range edits {
		switch e.Op {
		case Equal, Delete:
			if e.OldLine != i+1 || old[i] != e.Text {
				return fmt.Errorf("edit %d: %+v does not match old line %d %q", n, e, i+1, old[i])
			}
			i++
			if e.Op == Equal {
				if e.NewLine != j+1 {
					return fmt.Errorf("edit %d: new line %d, want %d", n, e.NewLine, j+1)
				}
				got = append(got, e.Text)
				j++
			} else if prev == Insert {
				return fmt.Errorf("edit %d: a deletion after an insertion in one region", n)
			}
		case Insert:
			if e.NewLine != j+1 {
				return fmt.Errorf("edit %d: new line %d, want %d", n, e.NewLine, j+1)
			}
			got = append(got, e.Text)
			j++
		}
		prev = e.Op
	}
	got = append(got, old[i:]...) // the empty piece after a final newline
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		return fmt.Errorf("script gives %d lines, want %d", len(got), len(want))
	}
	return nil
}

// textOf returns n lines drawn from alphabet distinct values.
func textOf(rng *rand.Rand, n, alphabet int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteString("line ")
		sb.WriteString(strconv.Itoa(rng.Intn(alphabet)))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// mutate changes, inserts or deletes edits lines of text at random places.
func mutate(rng *rand.Rand, text string, edits, alphabet int) string {
	lines := strings.SplitAfter(text, "\n")
	lines = lines[:len(lines)-1]
	for e := 0; e < edits; e++ {
		at := rng.Intn(len(lines) + 1)
		switch rng.Intn(3) {
		case 0:
			lines = slices.Insert(lines, at, "new "+strconv.Itoa(rng.Intn(alphabet))+"\n")
		case 1:
			if at < len(lines) {
				lines = slices.Delete(lines, at, at+1)
			}
		default:
			if at < len(lines) {
				lines[at] = "changed " + strconv.Itoa(e) + "\n"
			}
		}
	}
	return strings.Join(lines, "")
}

// scattered returns a text of n numbered lines and a copy with a line
// changed every gap lines.
func scattered(n, gap int) (string, string) {
	var a, b strings.Builder
	for i := 0; i < n; i++ {
		line := "  - line " + strconv.Itoa(i) + "\n"
		a.WriteString(line)
		if i%gap == gap/2 {
			line = "  - edited " + strconv.Itoa(i) + "\n"
		}
		b.WriteString(line)
	}
	return a.String(), b.String()
}

// TestMemoryIsLinear diffs two 20,000-line texts with a change every 50
// lines (800 edits). Storing a frontier per edit step, as a greedy search
// with a trace does, allocates hundreds of megabytes here; the
// linear-space search must stay within a small multiple of the input.
func TestMemoryIsLinear(t *testing.T) {
	a, b := scattered(20000, 50)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := Unified("a", "b", a, b, DefaultContext)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := apply(a, d); err != nil || got != b {
		t.Fatalf("the diff does not apply: %v", err)
	}
	if n := strings.Count(d, "\n-  - line "); n != 400 {
		t.Errorf("diff deletes %d lines, want the 400 changed ones", n)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	limit := 20 * uint64(len(a)+len(b)+len(d))
	t.Logf("allocated %d KiB for %d KiB of input", alloc>>10, (len(a)+len(b))>>10)
	if alloc > limit {
		t.Errorf("allocated %d bytes, want at most %d (20 bytes per byte of input and output)", alloc, limit)
	}
}

// TestTimeIsBounded diffs the worst inputs at the size cap: texts with no
// line in common, and texts over a two-line alphabet, where a shortest
// script is both long and everywhere. The budget makes both a fraction
// of a second; the bound is far above that so a loaded machine does not
// fail it, and far below the minutes an unbounded search takes.
func TestTimeIsBounded(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	n := MaxLines
	var x, y strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&x, "old %d\n", i)
		fmt.Fprintf(&y, "new %d\n", i)
	}
	tests := map[string]struct{ a, b string }{
		"nothing in common": {x.String(), y.String()},
		"two-line alphabet": {textOf(rng, n, 2), textOf(rng, n, 2)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			d, err := Unified("a", "b", tt.a, tt.b, DefaultContext)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := apply(tt.a, d); err != nil || got != tt.b {
				t.Fatalf("the diff does not apply: %v", err)
			}
			t.Logf("%d lines each side: %v", n, took)
			if took > 10*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

func TestSizeCaps(t *testing.T) {
	lines := strings.Repeat("x\n", MaxLines)
	tests := map[string]struct {
		a, b    string
		tooBig  bool
		comment string
	}{
		"at the line cap":      {a: lines, b: lines + "", tooBig: false},
		"one line past":        {a: "", b: lines + "y\n", tooBig: true},
		"old side past":        {a: lines + "y\n", b: "", tooBig: true},
		"past the byte cap":    {a: strings.Repeat("z", MaxBytes+1), b: "", tooBig: true},
		"at the byte cap":      {a: strings.Repeat("z", MaxBytes), b: "", tooBig: false},
		"equal but past a cap": {a: lines + "y\n", b: lines + "y\n", tooBig: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := TooLarge(tt.a, tt.b); got != tt.tooBig {
				t.Errorf("TooLarge = %v", got)
			}
			_, err := Lines(tt.a, tt.b)
			if tt.tooBig != errors.Is(err, ErrTooLarge) {
				t.Errorf("Lines: %v", err)
			}
			d, err := Unified("a", "b", tt.a, tt.b, 0)
			if tt.a != tt.b && tt.tooBig != errors.Is(err, ErrTooLarge) {
				t.Errorf("Unified: %v", err)
			}
			if err != nil && d != "" {
				t.Errorf("Unified gave a diff and an error")
			}
		})
	}
}

// BenchmarkUnified diffs texts of a few sizes with scattered changes, and
// with nothing in common (where the search budget gives up).
func BenchmarkUnified(b *testing.B) {
	for _, n := range []int{100, 2000, 20000} {
		a, c := scattered(n, 50)
		b.Run(fmt.Sprintf("scattered/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Unified("a", "b", a, c, DefaultContext); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	rng := rand.New(rand.NewSource(4))
	a, c := textOf(rng, 20000, 20000), textOf(rng, 20000, 20000)
	b.Run("unrelated/20000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Unified("a", "b", a, c, DefaultContext); err != nil {
				b.Fatal(err)
			}
		}
	})
}
