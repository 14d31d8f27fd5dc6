package convert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// TestImportOpenAPI converts a petstore document and compares routes and
// report with golden files; the routes must load as a manifest, validate
// next to stubs of the gateway and upstream, and send concrete paths to
// their own rule before the templated one.
func TestImportOpenAPI(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "openapi.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := OpenAPI(in, OpenAPIOptions{Gateway: "public", Upstream: "petstore", Host: "pets.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	out := render(t, res.Workspace)
	goldenFile(t, "openapi.out.yaml", out)
	var rep strings.Builder
	for _, is := range res.Report {
		rep.WriteString(is.String() + "\n")
	}
	goldenFile(t, "openapi.report.txt", []byte(rep.String()))

	f, err := manifest.Load("openapi.out.yaml", out)
	if err != nil {
		t.Fatalf("output is not a valid manifest: %v", err)
	}
	if diff := cmp.Diff(res.Workspace, f.Workspace); diff != "" {
		t.Errorf("manifest round trip differs (-converted +loaded):\n%s", diff)
	}
	ws := res.Workspace
	ws.Gateways = []model.Gateway{{Meta: model.Meta{Name: "public"},
		Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}
	ws.Upstreams = []model.Upstream{{Meta: model.Meta{Name: "petstore"},
		Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 8080}}}}}
	if err := ws.Validate(); err != nil {
		t.Fatalf("converted workspace does not validate: %v", err)
	}

	tests := map[string]struct {
		method, url string
		rule        string
	}{
		"concrete path wins":     {"GET", "http://pets.example.com/v1/pets/mine", "petstore-v1-pets-mine"},
		"template":               {"GET", "http://pets.example.com/v1/pets/42", "petstore-v1-pets-petid"},
		"template other method":  {"DELETE", "http://pets.example.com/v1/pets/42", "petstore-v1-pets-petid"},
		"method not in the spec": {"PUT", "http://pets.example.com/v1/pets/42", ""},
		"concrete, wrong method": {"DELETE", "http://pets.example.com/v1/pets/mine", "petstore-v1-pets-petid"},
		"collection":             {"POST", "http://pets.example.com/v1/pets", "petstore-v1-pets"},
		"two segments too many":  {"GET", "http://pets.example.com/v1/pets/42/x", ""},
		"suffix after variable":  {"GET", "http://pets.example.com/v1/files/a.json", "petstore-v1-files-name.json"},
		"prefix root":            {"GET", "http://pets.example.com/v1", "petstore-v1"},
		"no prefix":              {"GET", "http://pets.example.com/pets/42", ""},
		"other host":             {"GET", "http://other.example.com/v1/pets/42", ""},
		"renamed variables":      {"PUT", "http://pets.example.com/v1/pets/7/photos/front", "petstore-v1-pets-pet-id-photos-1st"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := rules.Evaluate(ws.Routes, "public", rules.Request{Method: tc.method, URL: tc.url})
			if got.Rule != tc.rule {
				t.Errorf("%s %s matched rule %q, want %q", tc.method, tc.url, got.Rule, tc.rule)
			}
			if tc.rule != "" && got.Upstream != "petstore" {
				t.Errorf("forwarded to %q, want petstore", got.Upstream)
			}
		})
	}
}

// TestImportOpenAPIOptions covers the prefix choice and the refusals.
func TestImportOpenAPIOptions(t *testing.T) {
	const spec = "openapi: 3.1.0\nservers: [{url: /base}]\npaths:\n  /a: {get: {}}\n"
	tests := map[string]struct {
		spec    string
		opts    OpenAPIOptions
		path    string
		wantErr string
	}{
		"servers prefix":  {spec, OpenAPIOptions{Gateway: "g", Upstream: "u"}, "/base/a", ""},
		"explicit prefix": {spec, OpenAPIOptions{Gateway: "g", Upstream: "u", Prefix: "api/"}, "/api/a", ""},
		"no prefix":       {spec, OpenAPIOptions{Gateway: "g", Upstream: "u", Prefix: "/"}, "/a", ""},
		"json":            {`{"openapi": "3.0.0", "paths": {"/b": {"post": {}}}}`, OpenAPIOptions{Gateway: "g", Upstream: "u"}, "/b", ""},
		"swagger":         {"swagger: '2.0'\npaths: {}\n", OpenAPIOptions{Gateway: "g", Upstream: "u"}, "", "swagger 2.0"},
		"not openapi":     {"kind: Route\n", OpenAPIOptions{Gateway: "g", Upstream: "u"}, "", "not an OpenAPI 3.x document"},
		"no upstream":     {spec, OpenAPIOptions{Gateway: "g"}, "", "upstream are required"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := OpenAPI([]byte(tc.spec), tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Workspace.Routes) != 1 {
				t.Fatalf("got %d routes, want 1", len(res.Workspace.Routes))
			}
			c := res.Workspace.Routes[0].When.All[0]
			if c.Field != model.FieldPath || c.Value != tc.path {
				t.Errorf("path condition %+v, want %s", c, tc.path)
			}
		})
	}
}
