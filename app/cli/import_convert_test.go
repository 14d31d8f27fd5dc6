package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// TestImportKubernetes runs import gateway-api and import ingress
// in-process: printed, the output must load as a manifest and carry the
// report on stderr; with --apply, the server must then hold the routes and
// upstreams.
func TestImportKubernetes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	httproute := write("route.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: web}
spec:
  parentRefs: [{name: public}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters: [{type: ExtensionRef, extensionRef: {group: x, kind: y, name: z}}]
    backendRefs: [{name: api, port: 8080, weight: 3}, {name: api-v2, port: 8080, weight: 1}]
`)
	ing := write("ingress.yaml", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: web}
spec:
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  rules:
  - host: shop.example.com
    http:
      paths: [{path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 8080}}}}]
`)
	gateway := write("gateway.yaml", `kind: Gateway
name: public
listeners:
- {name: http, port: 8080, protocol: HTTP}
`)
	tests := map[string]struct {
		args      []string
		routes    []string
		upstreams []string
		report    string
	}{
		"gateway-api": {[]string{"import", "gateway-api", "-f", httproute, "--gateway", "public"},
			[]string{"public.http.web.shop.r0.m0"}, []string{"api-web-8080", "api-v2-web-8080"}, "ExtensionRef filters are implementation-specific"},
		"ingress": {[]string{"import", "ingress", "-f", ing, "--gateway", "public"},
			[]string{"web-shop-r0-p0", "web-shop-default"}, []string{"api-web-8080", "fallback-web-80"}, `add secret "shop-tls" as a routedeck Secret`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			out, errOut, code := e.run(t, "", tc.args...)
			if code != 0 {
				t.Fatalf("print: exit %d: %s", code, errOut)
			}
			if !strings.Contains(errOut, tc.report) {
				t.Errorf("stderr lacks %q:\n%s", tc.report, errOut)
			}
			f := loadPrinted(t, out)
			f.Workspace.Gateways = []model.Gateway{{Meta: model.Meta{Name: "public"},
				Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}
			if err := f.Workspace.Validate(); err != nil {
				t.Fatalf("printed documents do not validate: %v", err)
			}
			if got := len(f.Workspace.Routes); got != len(tc.routes) {
				t.Errorf("printed %d routes, want %d", got, len(tc.routes))
			}

			if _, errOut, code := e.client(t, "apply", "-f", gateway); code != 0 {
				t.Fatalf("apply gateway: %s", errOut)
			}
			out, errOut, code = e.client(t, append(tc.args, "--apply")...)
			if code != 0 {
				t.Fatalf("--apply: exit %d: %s", code, errOut)
			}
			for _, r := range tc.routes {
				if !e.exists(t, model.KindRoute, r) {
					t.Errorf("route %s not stored; output:\n%s", r, out)
				}
			}
			for _, u := range tc.upstreams {
				if !e.exists(t, model.KindUpstream, u) {
					t.Errorf("upstream %s not stored; output:\n%s", u, out)
				}
			}
		})
	}
}

// TestImportConvertErrors checks the refusals of the converting importers:
// no gateway, a file of the wrong kind, one with nothing to import, and
// applying to a server without the gateway.
func TestImportConvertErrors(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc.yaml")
	if err := os.WriteFile(svc, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: api}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ing := filepath.Join(dir, "ing.yaml")
	if err := os.WriteFile(ing, []byte(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: x}
spec: {defaultBackend: {service: {name: fallback, port: {number: 80}}}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	notKong := writeFile(t, dir, "route.yaml", "kind: Route\nname: x\n")
	streamOnly := writeFile(t, dir, "stream.yml", "_format_version: \"3.0\"\nservices:\n- {name: s, url: \"tcp://10.0.0.1:5432\", routes: [{name: r, protocols: [tcp], destinations: [{port: 5432}]}]}\n")
	kong := writeFile(t, dir, "ok.yml", "_format_version: \"3.0\"\nservices:\n- {name: s, url: \"http://10.0.0.1\", routes: [{name: r, paths: [/]}]}\n")
	tests := map[string]struct {
		args   []string
		client bool
		want   string
	}{
		"no gateway":            {[]string{"import", "ingress", "-f", ing}, false, "--gateway is required"},
		"nothing":               {[]string{"import", "gateway-api", "-f", svc, "--gateway", "public"}, false, "nothing to import"},
		"missing gateway":       {[]string{"import", "ingress", "-f", ing, "--gateway", "public", "--apply"}, true, "public"},
		"kong: no gateway":      {[]string{"import", "kong", "-f", kong}, false, "--gateway is required"},
		"kong: not kong":        {[]string{"import", "kong", "-f", notKong, "--gateway", "public"}, false, "_format_version is missing"},
		"kong: nothing":         {[]string{"import", "kong", "-f", streamOnly, "--gateway", "public"}, false, "nothing to import"},
		"kong: missing gateway": {[]string{"import", "kong", "-f", kong, "--gateway", "public", "--apply"}, true, "public"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			run := e.run
			if tc.client {
				run = func(t *testing.T, _ string, args ...string) (string, string, int) { return e.client(t, args...) }
			}
			_, errOut, code := run(t, "", tc.args...)
			if code == 0 {
				t.Fatalf("exit 0, want a failure")
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errOut)
			}
		})
	}
}

// TestImportRouteOfAnotherGateway: an import whose route name is taken by
// a route of another gateway is refused, naming both, and changes nothing.
func TestImportRouteOfAnotherGateway(t *testing.T) {
	dir := t.TempDir()
	route := writeFile(t, dir, "route.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: web}
spec:
  rules: [{backendRefs: [{name: api, port: 8080}]}]
`)
	existing := writeFile(t, dir, "existing.yaml", `kind: Gateway
name: public
listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Gateway
name: other
listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Upstream
name: u
static: {endpoints: [{address: 10.0.0.1, port: 80}]}
---
kind: Route
name: public.http.web.shop.r0.m0
gateway: other
when: path.prefix("/")
then: {forward: [{upstream: u}]}
`)
	e := newEnv(t)
	if _, errOut, code := e.client(t, "apply", "-f", existing); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	_, errOut, code := e.client(t, "import", "gateway-api", "-f", route, "--gateway", "public", "--apply")
	if code == 0 {
		t.Fatal("exit 0, want a refusal")
	}
	if want := "route public.http.web.shop.r0.m0 of gateway other already exists: the import for gateway public would take it over"; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	out, _, _ := e.client(t, "get", "route", "public.http.web.shop.r0.m0", "-o", "json")
	if !strings.Contains(out, `"gateway": "other"`) {
		t.Errorf("the route changed gateway:\n%s", out)
	}

	// An upstream another gateway uses, which the import would change.
	grpc := writeFile(t, dir, "grpc.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: cart, namespace: web}
spec:
  rules: [{backendRefs: [{name: cart, port: 9090}]}]
`)
	shared := writeFile(t, dir, "shared.yaml", `kind: Upstream
name: cart-web-9090
kubernetes: {namespace: web, service: cart, port: 9090}
---
kind: Route
name: cart-http
gateway: other
when: path.prefix("/cart")
then: {forward: [{upstream: cart-web-9090}]}
`)
	if _, errOut, code := e.client(t, "apply", "-f", shared); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	_, errOut, code = e.client(t, "import", "gateway-api", "-f", grpc, "--gateway", "public", "--apply")
	if want := "upstream cart-web-9090 is used by gateway other and differs from the import for gateway public"; code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, errOut)
	}
}
