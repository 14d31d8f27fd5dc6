package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
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

// TestWriteJSONString: strings are written byte for byte as encoding/json
// writes them.
func TestWriteJSONString(t *testing.T) {
	cases := []string{"", "plain", `q"uote\back`, "<a href='x'>&amp;</a>", "\x00\x01\x1f\x7f\b\f\n\r\t",
		"é ü 日本", "\u2028\u2029", "bad \xff\xfe utf8 \xe2\x82", "\U0001F600"}
	rng := rand.New(rand.NewSource(1))
	for range 2000 {
		b := make([]byte, rng.Intn(12))
		for i := range b {
			b[i] = byte(rng.Intn(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		var buf bytes.Buffer
		writeJSONString(&buf, s)
		want, _ := json.Marshal(s)
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%q: wrote %s, want %s", s, buf.Bytes(), want)
		}
	}
}

// TestHeaderJSON: a document header decoded from the members it is made
// of is the one decoded from the whole document, errors included.
func TestHeaderJSON(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: b, annotations: {x: y}}\nspec: {ports: [{port: 80}]}\n",
		"ApiVersion: v1\nKIND: Service\nMetaData: {Name: a}\n",
		"apiVersion: v1\nkind: Service\nKind: Other\n",
		"kind: 5\n",
		"kind: Service\nmetadata: [a]\n",
		"kind: Service\nmetadata: {annotations: {a: 1}}\n",
		"kind: Service\nmetadata: null\nspec: null\n",
		"kınd: Service\nkind: x\n",
		"\u212aind: Service\n",
		"spec: {kind: Service}\n",
	} {
		nodes, err := input.YAML("x", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var whole bytes.Buffer
		if !nodeJSON(&whole, nodes[0]) {
			t.Fatalf("%q: not written", doc)
		}
		header, ok := headerJSON(nodes[0])
		if !ok {
			t.Fatalf("%q: no header", doc)
		}
		var a, b document
		errA, errB := json.Unmarshal(whole.Bytes(), &a), json.Unmarshal(header, &b)
		if fmt.Sprint(errA) != fmt.Sprint(errB) || !reflect.DeepEqual(a, b) {
			t.Errorf("%q:\n whole  %+v %v\n header %+v %v", doc, a, errA, b, errB)
		}
	}
}
