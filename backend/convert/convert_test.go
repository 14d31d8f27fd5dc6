package convert

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// render writes ws as documents of the manifest file format.
func render(t *testing.T, ws model.Workspace) []byte {
	t.Helper()
	var b bytes.Buffer
	for i, obj := range ws.Objects() {
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		m["kind"] = obj.Kind()
		doc, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(doc)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// TestImport converts each input and compares the routedeck documents and
// the report with golden files; the result must load as a manifest and
// validate together with a stub of the gateway.
func TestImport(t *testing.T) {
	tests := map[string]struct {
		input   string
		convert func([]byte, string) (Result, error)
	}{
		"httproute": {"httproute.in.yaml", GatewayAPI},
		"ingress":   {"ingress.in.yaml", Ingress},
		"kong":      {"kong.in.yaml", Kong},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tc.input))
			if err != nil {
				t.Fatal(err)
			}
			res, err := tc.convert(in, "public")
			if err != nil {
				t.Fatal(err)
			}
			out := render(t, res.Workspace)
			golden(t, name+".out.yaml", out)
			var rep strings.Builder
			for _, is := range res.Report {
				rep.WriteString(is.String() + "\n")
			}
			golden(t, name+".report.txt", []byte(rep.String()))

			f, err := manifest.Load(name+".out.yaml", out)
			if err != nil {
				t.Fatalf("output is not a valid manifest: %v", err)
			}
			if diff := cmp.Diff(res.Workspace, f.Workspace); diff != "" {
				t.Errorf("manifest round trip differs (-converted +loaded):\n%s", diff)
			}
			ws := res.Workspace
			ws.Gateways = []model.Gateway{{Meta: model.Meta{Name: "public"},
				Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}
			if err := ws.Validate(); err != nil {
				t.Fatalf("converted workspace does not validate: %v", err)
			}
			// An import is only useful if it can be published: every
			// converted rule must translate to Envoy.
			if _, err := translate.Gateway(ws, "public", translate.Options{}); err != nil {
				t.Fatalf("converted workspace does not translate: %v", err)
			}
		})
	}
}
