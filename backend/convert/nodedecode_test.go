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

	"gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/bench/workload"
)

// agree checks that a route (or a document header) decoded from the nodes, when the nodes allow
// it, is the one decoded from their JSON.
func agree(t *testing.T, name string, n *yaml.Node) (decoded bool) {
	t.Helper()
	for _, typ := range []reflect.Type{reflect.TypeFor[httpRoute](), reflect.TypeFor[grpcRoute](), reflect.TypeFor[document]()} {
		fast := reflect.New(typ)
		if !decodeNode(n, fast.Elem()) {
			continue
		}
		decoded = true
		var b bytes.Buffer
		if !nodeJSON(&b, n) {
			t.Errorf("%s: decoded from nodes nodeJSON does not write", name)
			continue
		}
		slow := reflect.New(typ).Interface()
		if err := json.Unmarshal(b.Bytes(), slow); err != nil {
			t.Errorf("%s: decoded from nodes, but its JSON does not decode: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(fast.Interface(), slow) {
			t.Errorf("%s as %v:\n nodes %+v\n JSON  %+v", name, typ, fast.Interface(), slow)
		}
	}
	return decoded
}

func TestDecodeNodeAgreesWithJSON(t *testing.T) {
	inputs := map[string][]byte{"corpus": workload.CorpusGatewayAPI(300)}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = b
	}
	var docs []*yaml.Node
	for name, data := range inputs {
		nodes, err := input.YAML(name, data)
		if err != nil {
			continue
		}
		fast := 0
		for i, n := range nodes {
			if agree(t, fmt.Sprintf("%s document %d", name, i), n) {
				fast++
			}
		}
		if name == "corpus" && fast != len(nodes) {
			t.Errorf("corpus: %d of %d documents decoded from the nodes", fast, len(nodes))
		}
		docs = append(docs, nodes...)
	}
	// Edits of the documents: values of other types, keys in other case,
	// nulls, duplicates.
	values := []string{"1", "-1", "1.5", "true", "x", "[1]", "{a: 1}", "null", "0x10", "99999999999999999999", ".nan", "[]", "{}", "'5'", "2024-01-01", "{name: a}", "[{name: a}]", "010", "1e3"}
	keys := []string{"Name", "NAME", "name", "namespace", "weight", "port", "type", "value", "matches", "rules", "spec", "kınd", "bogus"}
	rng := rand.New(rand.NewSource(1))
	for i := range 5000 {
		src, _ := yaml.Marshal(docs[rng.Intn(len(docs))])
		var doc yaml.Node
		if yaml.Unmarshal(src, &doc) != nil {
			continue
		}
		var all []*yaml.Node
		var walk func(*yaml.Node)
		walk = func(x *yaml.Node) {
			all = append(all, x)
			for _, c := range x.Content {
				walk(c)
			}
		}
		walk(&doc)
		if len(all) < 3 {
			continue
		}
		x := all[2+rng.Intn(len(all)-2)]
		if x.Kind == yaml.ScalarNode && rng.Intn(2) == 0 {
			x.Value, x.Tag, x.Style = keys[rng.Intn(len(keys))], "!!str", 0
		} else {
			var r yaml.Node
			_ = yaml.Unmarshal([]byte(values[rng.Intn(len(values))]), &r)
			*x = *r.Content[0]
		}
		agree(t, fmt.Sprintf("edit %d", i), &doc)
	}
}
