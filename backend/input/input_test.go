package input

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/internal/bombs"
)

func TestReadStopsAtTheCap(t *testing.T) {
	src := &bombs.Endless{}
	_, err := Read("<stdin>", src)
	want := fmt.Sprintf("<stdin>: larger than %d MiB, the limit for an input file", MaxBytes>>20)
	if err == nil || err.Error() != want || !IsLimit(err) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if src.N > MaxBytes+64<<10 {
		t.Errorf("read %d bytes from an endless stream; the cap is %d", src.N, MaxBytes)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(small, []byte("kind: Route\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	atCap := filepath.Join(dir, "at-cap.yaml")
	big := filepath.Join(dir, "big.yaml")
	for path, size := range map[string]int64{atCap: MaxBytes, big: MaxBytes + 1} {
		// Sparse files: their size is what is checked.
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	tooBig := fmt.Sprintf("larger than %d MiB, the limit for an input file", MaxBytes>>20)
	tests := map[string]struct {
		path    string
		wantErr string
		limit   bool
	}{
		"small":          {path: small},
		"exactly at cap": {path: atCap},
		"one byte past":  {path: big, wantErr: big + ": " + tooBig, limit: true},
		"missing":        {path: filepath.Join(dir, "nope.yaml"), wantErr: "read " + filepath.Join(dir, "nope.yaml") + ": open "},
		"a directory":    {path: dir, wantErr: "read " + dir + ": is a directory"},
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		tests["endless device"] = struct {
			path    string
			wantErr string
			limit   bool
		}{path: "/dev/zero", wantErr: "/dev/zero: " + tooBig, limit: true}
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := ReadFile(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || IsLimit(err) != tt.limit {
				t.Fatalf("err = %v, want %q (limit %v)", err, tt.wantErr, tt.limit)
			}
			if data != nil {
				t.Errorf("data returned with the error")
			}
		})
	}
}

// laughs is a "billion laughs" document: the item on line levels+4
// stands for 10^levels copies of "lol".
func laughs(levels int) string {
	return "kind: Route\nname: lol\nl:\n" + bombs.Laughs("", `"lol"`, levels)
}

// nested returns a flow list nested depth levels deep.
func nested(depth int) string {
	return "when: " + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "\n"
}

// deepAliases returns a document whose written nesting is shallow but
// where each anchor holds an alias to the one before, one level down:
// expanded, it is levels*2 deep.
func deepAliases(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 x\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [[*a%d]]\n", i, i, i-1)
	}
	return b.String()
}

func TestYAML(t *testing.T) {
	tests := map[string]struct {
		data    string
		docs    int    // documents returned
		wantErr string // "" for none
		limit   bool
	}{
		"plain manifest": {data: "kind: Route\nname: a\n---\nkind: Route\nname: b\n", docs: 2},
		"json":           {data: `{"kind": "Route", "name": "a", "then": {"forward": [{"upstream": "web"}]}}`, docs: 1},
		"empty":          {data: "", docs: 0},
		"anchors used as meant": {data: `common: &common {timeout: 5s, retries: {attempts: 2}}
routes:
- {<<: *common, name: a}
- {<<: *common, name: b}
`, docs: 1},
		"billion laughs":        {data: laughs(9), wantErr: "f.yaml:9: l[5][7]: YAML aliases expand to more than 100000 nodes, the limit", limit: true},
		"laughs within the cap": {data: laughs(4), docs: 1},
		"laughs over documents": {
			// Each document adds 12,340 nodes: eight fit under the cap.
			data:    strings.Repeat(laughs(4)+"---\n", 10),
			docs:    8,
			wantErr: "YAML aliases expand to more than 100000 nodes, the limit", limit: true,
		},
		"alias inside its anchor": {data: "a: &a [1, *a]\n", wantErr: "f.yaml:1: a[1]: YAML alias *a is inside the node it refers to", limit: true},
		"cycle over two anchors":  {data: "a: &a [&b [*a]]\nc: *b\n", wantErr: "f.yaml:1: a[0][0]: YAML alias *a is inside the node it refers to", limit: true},
		"nested to the cap":       {data: nested(MaxDepth), docs: 1},
		"nested past the cap":     {data: nested(MaxDepth + 1), wantErr: "f.yaml:1: when[0][0][0][0][0][0][0][0][0][0][0]...: YAML nested deeper than 512 levels, the limit", limit: true},
		"deep through aliases":    {data: deepAliases(300), wantErr: "YAML nested deeper than 512 levels, the limit", limit: true},
		"aliases, shallow enough": {data: deepAliases(200), docs: 1},
		"dense, within the cap":   {data: "l: [" + strings.Repeat("a,", MaxSeparators/2-2) + "a]\n", docs: 1},
		"too dense": {
			data:    "kind: Route\nname: d\nwhen: {any: [" + strings.Repeat("a,", MaxSeparators) + "a]}\n",
			wantErr: fmt.Sprintf("f.yaml:3: YAML has more than %d separators (, : - [ { and line breaks), the limit", MaxSeparators),
			limit:   true,
		},
		"syntax error": {data: "kind: Route\n  name: [\n", wantErr: "yaml: line 2: mapping values are not allowed in this context"},
		"good then bad": {
			data: "kind: Route\nname: a\n---\n" + laughs(9),
			docs: 1, wantErr: "f.yaml:12: l[5][7]: YAML aliases expand", limit: true,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			docs, err := YAML("f.yaml", []byte(tt.data))
			if len(docs) != tt.docs {
				t.Errorf("%d documents, want %d", len(docs), tt.docs)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if IsLimit(err) != tt.limit {
				t.Errorf("IsLimit = %v", !tt.limit)
			}
		})
	}
}

// TestBombsAreCheap runs the checks on documents that expand beyond any
// memory: refusing them must cost about what reading them does.
func TestBombsAreCheap(t *testing.T) {
	bombs := map[string]string{
		"billion laughs, 30 levels": laughs(30),
		"wide fan-out":              "a: &a [" + strings.Repeat("x, ", 5000) + "x]\nb: &b [" + strings.Repeat("*a, ", 5000) + "*a]\n",
		"deep via aliases":          deepAliases(5000),
	}
	for name, data := range bombs {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := CheckYAML("bomb.yaml", []byte(data))
			runtime.ReadMemStats(&after)
			if !IsLimit(err) {
				t.Fatalf("err = %v, want a limit", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2000*uint64(len(data))+1<<20 {
				t.Errorf("allocated %d bytes checking %d bytes", alloc, len(data))
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	var e *Error
	_, err := YAML("in.yaml", []byte(laughs(9)))
	if !errors.As(err, &e) || e.Name != "in.yaml" || e.Line != 9 {
		t.Fatalf("err = %#v", err)
	}
	if _, err := Read("x", io.LimitReader(&bombs.Endless{}, 10)); err != nil {
		t.Fatal(err)
	}
}

func TestNamed(t *testing.T) {
	_, unnamed := YAML("", []byte(laughs(9)))
	other := errors.New("other")
	tests := map[string]struct {
		err  error
		want string
	}{
		"unnamed limit": {unnamed, "k.yml:9: l[5][7]: YAML aliases expand to more than 100000 nodes, the limit"},
		"already named": {&Error{Name: "a.yaml", Line: 2, Msg: "m"}, "a.yaml:2: m"},
		"not a limit":   {other, "other"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Named(tt.err, "k.yml"); got.Error() != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if unnamed.Error() != "line 9: l[5][7]: YAML aliases expand to more than 100000 nodes, the limit" {
		t.Errorf("Named changed the original: %v", unnamed)
	}
}
