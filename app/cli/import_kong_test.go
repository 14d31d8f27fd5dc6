package cli

import (
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// TestImportKong runs import kong in-process: printed (from a file and
// from stdin), the output must load, validate next to the gateway, list
// the routes in Kong's order and carry the report on stderr; with
// --apply, the server must then hold the routes and upstreams.
func TestImportKong(t *testing.T) {
	dir := t.TempDir()
	const kong = `_format_version: "3.0"
services:
- name: orders
  url: http://10.0.0.5:8080/api
  routes:
  - name: orders-api
    hosts: [api.example.com]
    paths: [/orders]
  - name: orders-any
    paths: [/]
  plugins:
  - {name: key-auth, config: {key_names: [apikey]}}
- name: catalog
  host: catalog.internal
upstreams:
- name: catalog.internal
  targets: [{target: "10.0.1.1:8080", weight: 3}, {target: "10.0.1.2:8080", weight: 1}]
routes:
- name: catalog
  service: {name: catalog}
  paths: ["~/catalog/\\d+"]
consumers:
- username: alice
`
	file := writeFile(t, dir, "kong.yml", kong)
	gateway := writeFile(t, dir, "gateway.yaml", `kind: Gateway
name: public
listeners:
- {name: http, port: 8080, protocol: HTTP}
`)
	tests := map[string]struct {
		stdin  string
		args   []string
		routes []string
		report string
	}{
		"file": {"", []string{"import", "kong", "-f", file, "--gateway", "public"},
			[]string{"orders-api", "catalog", "orders-any"}, "plugin key-auth (service orders): no consumer it lets in has a key-auth key"},
		"stdin": {string(mustRead(t, file)), []string{"import", "kong", "-f", "-", "--gateway", "public"},
			[]string{"orders-api", "catalog", "orders-any"}, "consumers: consumers are not imported as such"},
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
				t.Errorf("printed routes %v, want %v (in Kong's order)", got, tc.routes)
			}
			f.Workspace.Gateways = []model.Gateway{{Meta: model.Meta{Name: "public"},
				Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}
			if err := f.Workspace.Validate(); err != nil {
				t.Fatalf("printed documents do not validate: %v", err)
			}

			if _, errOut, code := e.client(t, "apply", "-f", gateway); code != 0 {
				t.Fatalf("apply gateway: %s", errOut)
			}
			args := append(tc.args, "--apply")
			if tc.stdin == "" {
				out, errOut, code = e.client(t, args...)
			} else {
				out, errOut, code = e.run(t, tc.stdin, append(args, "--server", e.url, "--token", e.token)...)
			}
			if code != 0 {
				t.Fatalf("--apply: exit %d: %s", code, errOut)
			}
			for _, r := range tc.routes {
				if !e.exists(t, model.KindRoute, r) {
					t.Errorf("route %s not stored; output:\n%s", r, out)
				}
			}
			for _, u := range []string{"orders", "catalog.internal"} {
				if !e.exists(t, model.KindUpstream, u) {
					t.Errorf("upstream %s not stored; output:\n%s", u, out)
				}
			}
		})
	}
}
