package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/internal/golden"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	yamlv3 "gopkg.in/yaml.v3"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/model"
)

// testOptions is an extra document kind in golden inputs: translation
// options such as discovered endpoints.
type testOptions struct {
	Kind      string                      `json:"kind"`
	Gateway   string                      `json:"gateway"`
	Endpoints map[string][]model.Endpoint `json:"endpoints"`
}

// loadCase reads a multi-document YAML workspace (the file format of
// `routedeck apply -f`) plus an optional TranslateOptions document.
func loadCase(t *testing.T, path string) (model.Workspace, string, Options) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ws model.Workspace
	var opts Options
	gateway := "" // the first Gateway document's, unless the options name one
	optsGateway := ""
	dec := yamlv3.NewDecoder(bytes.NewReader(raw))
	for i := 0; ; i++ {
		var node yamlv3.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		// Decode with YAML 1.2 rules (yaml.v3), so `on:` and `y` stay strings.
		var doc any
		if err := node.Decode(&doc); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		js, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		var head struct{ Kind string }
		if err := json.Unmarshal(js, &head); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		strict := func(v any) {
			d := json.NewDecoder(bytes.NewReader(js))
			d.DisallowUnknownFields()
			if err := d.Decode(v); err != nil {
				t.Fatalf("%s: document %d (%s): %v", path, i, head.Kind, err)
			}
		}
		switch head.Kind {
		case "TranslateOptions":
			var o testOptions
			strict(&o)
			opts.Endpoints = o.Endpoints
			optsGateway = o.Gateway
		default:
			obj := model.NewObject(head.Kind)
			if obj == nil {
				t.Fatalf("%s: document %d: unknown kind %q", path, i, head.Kind)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatal(err)
			}
			delete(m, "kind")
			js, _ = json.Marshal(m)
			strict(obj)
			ws.Add(obj)
			if g, ok := obj.(*model.Gateway); ok && gateway == "" {
				gateway = g.Name
			}
		}
	}
	if optsGateway != "" {
		gateway = optsGateway
	}
	resolveWorkspace(t, &ws)
	return ws, gateway, opts
}

// yamlOf renders resources as a YAML list: protojson (Any contents expanded)
// turned into YAML, whose keys are sorted, so the files are stable.
func yamlOf[M proto.Message](t *testing.T, list []M) []byte {
	t.Helper()
	items := make([]json.RawMessage, len(list))
	for i, m := range list {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		items[i] = b
	}
	js, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func outputs(t *testing.T, res *Resources, err error) map[string][]byte {
	if err != nil {
		return map[string][]byte{"error.txt": []byte(err.Error() + "\n")}
	}
	out := map[string][]byte{
		"listeners.yaml": yamlOf(t, res.Listeners),
		"routes.yaml":    yamlOf(t, res.Routes),
		"clusters.yaml":  yamlOf(t, res.Clusters),
		"endpoints.yaml": yamlOf(t, res.Endpoints),
	}
	// Only cases with TLS have secrets; the others keep four files.
	if len(res.Secrets) > 0 {
		out["secrets.yaml"] = yamlOf(t, res.Secrets)
	}
	return out
}

// TestGolden translates every testdata/in case and compares with
// testdata/out. `go test ./backend/translate -update` rewrites the outputs
// and deletes outputs whose case or kind no longer exists.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/in/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 30 {
		t.Errorf("only %d golden cases; the translator needs at least 30", len(inputs))
	}
	written := map[string]bool{}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			ws, gateway, opts := loadCase(t, in)
			res, err := Gateway(ws, gateway, opts)
			if err != nil && model.ErrorCode(err) != model.EINVALID {
				t.Errorf("error code = %q, want %q (%v)", model.ErrorCode(err), model.EINVALID, err)
			}
			if err == nil {
				assertValid(t, res)
				assertDeterministic(t, ws, gateway, opts, res)
			}
			for kind, got := range outputs(t, res, err) {
				path := filepath.Join("testdata/out", name+"."+kind)
				written[path] = true
				golden.Check(t, path, got)
			}
		})
	}
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return // a subset ran: the other outputs are not stale
	}
	outs, _ := filepath.Glob("testdata/out/*")
	for _, path := range outs {
		if written[path] {
			continue
		}
		if golden.Update() {
			if err := os.Remove(path); err != nil {
				t.Error(err)
			}
		} else {
			t.Errorf("stale golden output %s (run with -update to delete it)", path)
		}
	}
}

// assertValid checks every resource with go-control-plane's validation,
// walking the whole tree (the translator validates piecewise for speed).
func assertValid(t *testing.T, res *Resources) {
	t.Helper()
	for typ, list := range res.lists() {
		for _, m := range list {
			if err := m.(validatable).Validate(); err != nil {
				t.Errorf("%s: %v", typ, err)
			}
		}
	}
}

// assertDeterministic translates again, from scratch and through a warm
// Translator, and expects the same content and version.
func assertDeterministic(t *testing.T, ws model.Workspace, gateway string, opts Options, first *Resources) {
	t.Helper()
	tr := NewTranslator()
	for i := 0; i < 2; i++ {
		again, err := tr.Translate(ws, gateway, opts)
		if err != nil {
			t.Fatalf("translation %d failed: %v", i+2, err)
		}
		if again.Version() != first.Version() {
			t.Errorf("translation %d: version %s, want %s", i+2, again.Version(), first.Version())
		}
		for typ, list := range again.lists() {
			for j, m := range list {
				var want proto.Message
				for typ2, l2 := range first.lists() {
					if typ2 == typ && j < len(l2) {
						want = l2[j]
					}
				}
				if !proto.Equal(m, want) {
					t.Errorf("translation %d: %s[%d] differs", i+2, typ, j)
				}
			}
		}
	}
}
