package input

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// bigStream is a stream large enough to be parsed in chunks, with what
// could fool a cut at "---": markers inside block scalars and quoted
// strings (indented, so not markers), "---" without a following space,
// anchors and aliases, comments and a "..." end marker.
func bigStream(docs int) string {
	var b strings.Builder
	for i := range docs {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "---\nkind: Route\nname: r%d\nbody: |\n  ---\n  not a marker %d\n", i, i)
		case 1:
			fmt.Fprintf(&b, "--- # comment\nbase: &b {x: %d}\nuse: *b\nq: \"a\n  --- b\"\n", i)
		case 2:
			fmt.Fprintf(&b, "---\n- ---x\n- {k: v%d}\n...\n", i)
		default:
			fmt.Fprintf(&b, "---\t\nplain: value %d\nlist: [1, 2, 3]\n", i)
		}
	}
	return b.String()
}

func sameNodes(t *testing.T, path string, want, got *yaml.Node) {
	t.Helper()
	if want.Kind != got.Kind || want.Tag != got.Tag || want.Value != got.Value || want.Line != got.Line ||
		want.Column != got.Column || want.Anchor != got.Anchor || len(want.Content) != len(got.Content) {
		t.Fatalf("%s: want %+v, got %+v", path, *want, *got)
	}
	if (want.Alias == nil) != (got.Alias == nil) || want.Alias != nil && want.Alias.Line != got.Alias.Line {
		t.Fatalf("%s: aliases differ", path)
	}
	for i := range want.Content {
		sameNodes(t, fmt.Sprintf("%s[%d]", path, i), want.Content[i], got.Content[i])
	}
}

// TestChunkedParse: a stream parsed in chunks gives the nodes (lines
// included) and the syntax errors (their lines included) of a parse in
// one piece.
func TestChunkedParse(t *testing.T) {
	data := []byte(bigStream(24000))
	if n := len(splitStream(data, 4)); n != 4 {
		t.Fatalf("%d chunks, want 4 (%d bytes)", n, len(data))
	}
	want, err := parseStream(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseChunks(data, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d documents, want %d", len(got), len(want))
	}
	for i := range want {
		sameNodes(t, fmt.Sprintf("doc %d", i), want[i], got[i])
	}

	// A syntax error in the last chunk: same documents before it, same
	// message and line.
	bad := append(append([]byte{}, data...), "---\nkey: [unclosed\n---\nx: 1\n"...)
	want, wantErr := parseStream(bad, 0)
	got, gotErr := parseChunks(bad, 4)
	if wantErr == nil || gotErr == nil || wantErr.Error() != gotErr.Error() {
		t.Fatalf("error %v, want %v", gotErr, wantErr)
	}
	if len(got) != len(want) {
		t.Fatalf("%d documents before the error, want %d", len(got), len(want))
	}
}

// TestSmallStreamsWhole: streams under the chunk size, or with
// directives, are parsed in one piece.
func TestSmallStreamsWhole(t *testing.T) {
	if n := len(splitStream([]byte(bigStream(100)), 4)); n != 1 {
		t.Errorf("small stream: %d chunks", n)
	}
	if n := len(splitStream([]byte("%YAML 1.2\n"+bigStream(24000)), 4)); n != 1 {
		t.Errorf("stream with a directive: %d chunks", n)
	}
}
