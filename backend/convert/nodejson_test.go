package convert

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/bench/workload"
)

// TestNodeJSON: the JSON written straight from the nodes means what
// decoding the document and encoding it again means, or the fast path
// gives up where only the decoder knows the answer.
func TestNodeJSON(t *testing.T) {
	inputs := map[string][]byte{
		"corpus":  workload.CorpusGatewayAPI(200),
		"scalars": []byte("a: 1\nb: -2.5e3\nc: true\nd: ~\ne: 'x'\nf: \"<&>\"\ng: [1, yes, no, 0.5]\nh: {i: [], j: {}}\nk: &x {l: 1}\nm: *x\n"),
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = b
	}
	for name, data := range inputs {
		nodes, err := input.YAML(name, data)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range nodes {
			var buf bytes.Buffer
			if !nodeJSON(&buf, n) {
				t.Errorf("%s document %d: not written", name, i)
				continue
			}
			var slow any
			if err := n.Decode(&slow); err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(slow)
			var a, b any
			if err := json.Unmarshal(buf.Bytes(), &a); err != nil {
				t.Fatalf("%s document %d: %v\n%s", name, i, err, buf.Bytes())
			}
			_ = json.Unmarshal(want, &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s document %d:\n fast %s\n slow %s", name, i, buf.Bytes(), want)
			}
		}
	}
	for _, doc := range []string{
		"a: &b {x: 1}\nc:\n  <<: *b\n", // merge key
		"a: 1\na: 2\n",                 // duplicate key
		"a: 0x1F\n",                    // hex
		"a: 2001-12-14\n",              // timestamp
		"a: .inf\n",
		"1: a\n", // key that is not a string
	} {
		nodes, err := input.YAML("x", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if nodeJSON(&buf, nodes[0]) {
			t.Errorf("%q: written as %s, want the decoder to judge it", doc, buf.Bytes())
		}
	}
}
