package convert

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/internal/golden"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/translate"
)

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

func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
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
		"gateway":   {"gateway.in.yaml", GatewayAPI},
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
			goldenFile(t, name+".out.yaml", out)
			var rep strings.Builder
			for _, is := range res.Report {
				rep.WriteString(is.String() + "\n")
			}
			goldenFile(t, name+".report.txt", []byte(rep.String()))

			f, err := manifest.Load(name+".out.yaml", out)
			if err != nil {
				t.Fatalf("output is not a valid manifest: %v", err)
			}
			if diff := cmp.Diff(res.Workspace, f.Workspace); diff != "" {
				t.Errorf("manifest round trip differs (-converted +loaded):\n%s", diff)
			}
			ws := res.Workspace
			if len(ws.Gateways) == 0 {
				ws.Gateways = []model.Gateway{{Meta: model.Meta{Name: "public"},
					Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}
			}
			ws.Secrets = secretsFor(t, ws.Gateways)
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

// TestDecodeProblems: an input of the wrong shape is refused with every
// entity's problem at once, with where it is and what it must be.
func TestDecodeProblems(t *testing.T) {
	openAPI := func(data []byte, gateway string) (Result, error) {
		return OpenAPI(data, OpenAPIOptions{Gateway: gateway, Upstream: "u"})
	}
	tests := map[string]struct {
		convert func([]byte, string) (Result, error)
		doc     string
		want    []model.FieldError
	}{
		"kong: one per entity, all together": {Kong,
			"_format_version: \"3.0\"\nservices:\n- {name: a, host: x, routes: [{name: r, paths: 5}]}\n- {name: b, retries: many}\nupstreams:\n- {name: u, targets: x}\n",
			[]model.FieldError{
				{Field: "services[0].routes.paths", Message: "must be a list of strings, not a number"},
				{Field: "services[1].retries", Message: "must be a whole number, not a string"},
				{Field: "upstreams[0].targets", Message: "must be a list, not a string"},
			}},
		"kong: a section of the wrong shape": {Kong, "_format_version: \"3.0\"\nservices: {name: a}\n",
			[]model.FieldError{{Field: "services", Message: "must be a list, not a mapping"}}},
		"gateway api: each document": {GatewayAPI,
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: a}\nspec: {hostnames: 5}\n---\n" +
				"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: b, namespace: shop}\nspec: {rules: {}}\n",
			[]model.FieldError{
				{Field: "HTTPRoute default/a: spec.hostnames", Message: "must be a list of strings, not a number"},
				{Field: "HTTPRoute shop/b: spec.rules", Message: "must be a list, not a mapping"},
			}},
		"ingress": {Ingress, "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\nspec: {rules: 3}\n",
			[]model.FieldError{{Field: "Ingress default/a: spec.rules", Message: "must be a list, not a number"}}},
		"openapi": {openAPI, "openapi: 3.0.0\ninfo: {title: x, version: \"1\"}\npaths: 5\n",
			[]model.FieldError{{Field: "paths", Message: "must be a mapping, not a number"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.convert([]byte(tc.doc), "public")
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
			if diff := cmp.Diff(tc.want, model.ErrorFields(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// secretsFor makes a certificate for every secret the gateways' listeners
// reference, standing in for the Secrets an import asks the user to add.
func secretsFor(t *testing.T, gws []model.Gateway) []model.Secret {
	var out []model.Secret
	for _, g := range gws {
		for _, l := range g.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, c := range l.TLS.Certificates {
				out = append(out, secrettest.TLS(t, c.Secret, append([]string{"localhost"}, c.Hosts...)...))
			}
		}
	}
	return out
}
