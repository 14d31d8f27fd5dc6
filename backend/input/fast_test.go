package input

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/bench/workload"
)

// nodeDiff reports the first difference between two node trees, comments
// aside (the fast parser keeps none), or "".
func nodeDiff(a, b *yaml.Node, at string) string {
	if a == nil || b == nil {
		if a != b {
			return at + ": one node is missing"
		}
		return ""
	}
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor ||
		a.Line != b.Line || a.Column != b.Column || len(a.Content) != len(b.Content) || (a.Alias == nil) != (b.Alias == nil) {
		return fmt.Sprintf("%s:\n fast %+v\n yaml %+v", at, *a, *b)
	}
	for i := range a.Content {
		if d := nodeDiff(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", at, i)); d != "" {
			return d
		}
	}
	return ""
}

// differ compares the fast parser with yaml.v3 on data: the same
// documents, node for node, and the same error.
func differ(data []byte) string {
	fast, ferr := fastStream(data, 0)
	slow, serr := parseStream(data, 0)
	if fmt.Sprint(ferr) != fmt.Sprint(serr) {
		return fmt.Sprintf("error: fast %v, yaml %v", ferr, serr)
	}
	if len(fast) != len(slow) {
		return fmt.Sprintf("%d documents, yaml.v3 %d", len(fast), len(slow))
	}
	for i := range fast {
		if d := nodeDiff(fast[i], slow[i], fmt.Sprintf("doc %d", i)); d != "" {
			return d
		}
	}
	return ""
}

// commonShapes are documents the fast parser reads itself.
var commonShapes = []string{
	"kind: Route\nname: a # x\nthen:\n  forward:\n  - {upstream: x, weight: 1}\n  - upstream: y\n    w: [1, \"a\", 'b']\nlist:\n- - a\n  - b\n",
	"a: true\nb: yes\nc: ~\nd: null\ne: Null\nf: TRUE\ng: on\n",
	"a: é\nb: 'ü'\nc: [é, ü]\n",
	"a: [1, 2, ]\nb: {x: 1, }\nc: []\nd: {}\ne: [[1], {a: [2]}]\n",
	"a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
	"- a\n- b\n-\n  - c\n- d: 1\n  e: 2\n",
	"a: 10.0.0.1\nb: 1.5\nc: 0x10\nd: 017\ne: 2024-01-01\nf: -5\ng: +5\nh: 1_000\ni: .inf\n",
	"a: 5s\nb: 1.2.3-rc1\nc: 0X1F\nd: 0B11\ne: 0O17\nf: 2001-12-14t21:59:43.10-05:00\ng: 2001-12-14 21:59:43.10\nh: 1e3s\ni: +.inf\nj: 0x1p-2\nk: -0b11\nl: 1:20\n",
	"a: 'it''s'\nb: \"q\\\"uote\\n\\u00e9\"\n'c d': [x, \"y\"]\n",
	"a: b # c\n# d\n  # e\nf:\n- g\n",
	"a: {\"x\":1, 'y': 2}\n'b': {\"c\": [1, 2.5, true, null]}\n",
}

var fastCases = append(commonShapes, []string{
	"kind: Route\nname: a # x\nthen:\n  forward:\n  - {upstream: x, weight: 1}\n  - upstream: y\n    w: [1, \"a\", 'b']\nlist:\n- - a\n  - b\n",
	"# c\n\nkind: Route\n---\n  x: 1\n--- \nk: v\n---\n# only a comment\n",
	"a: 10.0.0.1\nb: 1.5\nc: 0x10\nd: 017\ne: 2024-01-01\nf: -5\ng: +5\nh: 1_000\ni: .inf\nj: -.inf\nk: .5\nl: 1e3\nm: 1.2.3\nn: -\n",
	"a: 5s\nb: 1.2.3-rc1\nc: 0X1F\nd: 0B11\ne: 0O17\nf: 2001-12-14t21:59:43.10-05:00\ng: 2001-12-14 21:59:43.10\nh: 1e3s\ni: +.inf\nj: 0x1p-2\nk: -0b11\nl: 1:20\n",
	"a: true\nb: yes\nc: ~\nd: null\ne: Null\nf: TRUE\ng: on\n",
	"a: 'it''s'\nb: \"q\\\"uote\\n\\u00e9\"\nc: \"tab\\there\"\nd: \"\\x41\"\n",
	"a: é\nb: 'ü'\nc: [é, ü]\n",
	"a: [1, 2, ]\nb: {x: 1, }\nc: []\nd: {}\ne: [[1], {a: [2]}]\n",
	"a: {\"x\":1, 'y': 2}\nb: [a:b]\nc: {url: http://x}\nd: [http://x]\n",
	"a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
	"a: 1\n  b: 2\n",
	"a: 1\nb:\n",
	"a: b: c\n",
	"- a\n- b\n-\n  - c\n- d: 1\n  e: 2\n",
	"- a\n  continued\n",
	"a: plain\n  continued\n",
	"a: |\n  literal\n",
	"a: &x 1\nb: *x\n",
	"a: !tag 1\n",
	"a:\tb\n",
	"a: b\r\nc: d\r\n",
	"a: [1,\n  2]\n",
	"? a\n: b\n",
	"a: b #c\nd: e#f\n",
	"a: \"unterminated\n",
	"a: b\n...\n---\nc: d\n",
	"%YAML 1.2\n---\na: b\n",
	"<<: {a: 1}\n",
	"a: [1, 2\n",
	"a: {b: }\n",
	"a: [,]\n",
	"---\n",
	"--- {a: b}\n",
	"",
	"\n\n",
	"a: -1\nb: - 1\n",
	"a: @x\n",
	"'a b': 1\n\"c\": 2\n",
	"a: 1 # c\n# d\n  # e\nb: 2\n",
	"a:\n- 1\n- 2\nb:\n  - 3\n",
	"a:\n - 1\n  - 2\n",
	"x: \"\\u\"\n",
	strings.Repeat("k", 1100) + ": v\n",
	"a: " + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + "\n",
	strings.Repeat("- ", MaxDepth+1) + "x\n",
}...)

func TestFastParserAgreesWithYAML(t *testing.T) {
	for _, c := range fastCases {
		if d := differ([]byte(c)); d != "" {
			t.Errorf("%q: %s", c, d)
		}
	}
	for name, data := range map[string][]byte{"corpus": workload.CorpusYAML(2000), "gateway api": workload.CorpusGatewayAPI(2000)} {
		if d := differ(data); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
	var files []string
	filepath.WalkDir("../..", func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() && (e.Name() == "node_modules" || strings.HasPrefix(e.Name(), ".")) && p != "../.." {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 20 {
		t.Fatalf("only %d YAML files found", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) > MaxBytes {
			continue
		}
		if d := differ(data); d != "" {
			t.Errorf("%s: %s", f, d)
		}
	}
}

// TestFastParserReadsCommonShapes: the shapes of routedeck's manifests
// and of Kubernetes objects are read by the fast parser, not handed to
// yaml.v3.
func TestFastParserReadsCommonShapes(t *testing.T) {
	streams := map[string]string{
		"manifest corpus":    string(workload.CorpusYAML(200)),
		"gateway api corpus": string(workload.CorpusGatewayAPI(200)),
		"common shapes":      strings.Join(commonShapes, "---\n"),
	}
	for name, src := range streams {
		p := &fastParser{src: src, tags: map[string]string{}}
		docs := 0
		for start, line := 0, 1; start < len(src); {
			end := nextMarker(src, start)
			if _, ok := p.document(start, end, line); !ok {
				t.Errorf("%s: left to yaml.v3:\n%s", name, src[start:end])
			}
			docs++
			line += strings.Count(src[start:end], "\n")
			start = end
		}
		if docs < 9 {
			t.Errorf("%s: %d documents", name, docs)
		}
	}
}

// TestFastParserMutations compares the parsers on many small edits of
// well-formed files: indentation off by one, a character inserted or
// removed, lines swapped.
func TestFastParserMutations(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	inserts := []string{" ", "  ", "-", "- ", ":", ": ", "#", " #", "'", "\"", "[", "]", "{", "}", ",", "\n", "\\", "é", "0", "&a ", "*a", "!", "|", ">", "?", "---\n", "...", "~", "\t"}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		base := fastCases[rng.Intn(len(fastCases))]
		if base == "" {
			continue
		}
		src := []byte(base)
		for range 1 + rng.Intn(3) {
			at := rng.Intn(len(src) + 1)
			switch rng.Intn(3) {
			case 0:
				ins := inserts[rng.Intn(len(inserts))]
				src = append(src[:at:at], append([]byte(ins), src[at:]...)...)
			case 1:
				if at < len(src) {
					src = append(src[:at:at], src[at+1:]...)
				}
			case 2:
				lines := strings.Split(string(src), "\n")
				j := rng.Intn(len(lines))
				k := rng.Intn(len(lines))
				lines[j], lines[k] = lines[k], lines[j]
				src = []byte(strings.Join(lines, "\n"))
			}
		}
		if d := differ(src); d != "" {
			t.Errorf("%q: %s", src, d)
		}
	}
}

// FuzzFastParser: whatever the input, the fast parser gives what yaml.v3
// gives.
func FuzzFastParser(f *testing.F) {
	for _, c := range fastCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		if d := differ(data); d != "" {
			t.Errorf("%q: %s", data, d)
		}
	})
}
