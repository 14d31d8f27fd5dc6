package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
)

// TestImportOpenAPI runs import openapi in-process: printed (from a YAML
// file and a JSON stdin), the output must load, validate next to the
// gateway and upstream and carry the report on stderr; with --apply, the
// server must then hold the routes.
func TestImportOpenAPI(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	spec := write("petstore.yaml", `openapi: 3.0.3
info: {title: Petstore, version: "1"}
servers: [{url: "https://petstore.example.com/v1"}]
paths:
  /pets: {get: {}, post: {}}
  /pets/mine: {get: {}}
  /pets/{petId}: {get: {}, delete: {}}
  /report.{format}: {get: {}}
`)
	const jsonSpec = `{"openapi": "3.1.0", "paths": {"/pets/{petId}": {"get": {}}, "/pets/mine": {"get": {}}}}`
	base := write("base.yaml", `kind: Gateway
name: public
listeners:
- {name: http, port: 8080, protocol: HTTP}
---
kind: Upstream
name: petstore
static:
  endpoints: [{address: 10.0.0.1, port: 8080}]
`)
	tests := map[string]struct {
		stdin  string
		args   []string
		routes []string
		report string
	}{
		"yaml file, servers prefix, host": {"",
			[]string{"import", "openapi", "-f", spec, "--gateway", "public", "--upstream", "petstore", "--host", "pets.example.com"},
			[]string{"petstore-v1-pets-mine", "petstore-v1-pets", "petstore-v1-pets-petid"},
			`path /report.{format}: cannot be written as a path template`},
		"json stdin, prefix": {jsonSpec,
			[]string{"import", "openapi", "-f", "-", "--gateway", "public", "--upstream", "petstore", "--prefix", "/api"},
			[]string{"petstore-api-pets-mine", "petstore-api-pets-petid"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			out, errOut, code := e.run(t, tc.stdin, tc.args...)
			if code != 0 {
				t.Fatalf("print: exit %d: %s", code, errOut)
			}
			if !strings.Contains(errOut, tc.report) {
				t.Errorf("stderr lacks %q:\n%s", tc.report, errOut)
			}
			f := loadPrinted(t, out)
			var got []string
			for _, r := range f.Workspace.Routes {
				got = append(got, r.Name)
			}
			if strings.Join(got, " ") != strings.Join(tc.routes, " ") {
				t.Errorf("printed routes %v, want %v (in priority order)", got, tc.routes)
			}
			b, err := manifest.Load("base.yaml", mustRead(t, base))
			if err != nil {
				t.Fatal(err)
			}
			f.Workspace.Gateways, f.Workspace.Upstreams = b.Workspace.Gateways, b.Workspace.Upstreams
			if err := f.Workspace.Validate(); err != nil {
				t.Fatalf("printed documents do not validate: %v", err)
			}

			if _, errOut, code := e.client(t, "apply", "-f", base); code != 0 {
				t.Fatalf("apply gateway and upstream: %s", errOut)
			}
			var applyOut string
			if tc.stdin == "" {
				applyOut, errOut, code = e.client(t, append(tc.args, "--apply")...)
			} else {
				applyOut, errOut, code = e.run(t, tc.stdin, append(tc.args, "--apply", "--server", e.url, "--token", e.token)...)
			}
			if code != 0 {
				t.Fatalf("--apply: exit %d: %s", code, errOut)
			}
			for _, r := range tc.routes {
				if !e.exists(t, model.KindRoute, r) {
					t.Errorf("route %s not stored; output:\n%s", r, applyOut)
				}
			}
		})
	}
}

// TestImportOpenAPIErrors checks the refusals.
func TestImportOpenAPIErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, []byte("openapi: 3.0.0\npaths:\n  /health: {summary: none}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		args []string
		want string
	}{
		"no gateway":  {[]string{"import", "openapi", "-f", empty, "--upstream", "u"}, "--gateway is required"},
		"no upstream": {[]string{"import", "openapi", "-f", empty, "--gateway", "g"}, "--upstream is required"},
		"nothing":     {[]string{"import", "openapi", "-f", empty, "--gateway", "g", "--upstream", "u"}, "nothing to import"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			_, errOut, code := e.run(t, "", tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want failure with %q", code, errOut, tc.want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
