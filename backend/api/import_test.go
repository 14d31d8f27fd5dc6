package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const importHTTPRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: web, annotations: {example.com/team: checkout}}
spec:
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /cart}}]
    backendRefs: [{name: cart, port: 8080}]
`

const importOpenAPIDoc = `openapi: 3.0.3
info: {title: pets, version: "1"}
paths:
  /pets:
    get: {responses: {"200": {description: ok}}}
  /pets/{petId}:
    get: {responses: {"200": {description: ok}}}
`

func decodeImport(t *testing.T, r reply) importResponse {
	t.Helper()
	var out importResponse
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("import answer: %v\n%s", err, r.body)
	}
	return out
}

func TestImportPreviewThenApply(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	req := map[string]any{"format": "gateway-api", "content": importHTTPRoute, "gateway": "public"}

	prev := decodeImport(t, a.do(t, "editor", "POST", "/api/v1/import", req).must(t, http.StatusOK))
	if len(prev.Workspace.Routes) != 1 || len(prev.Workspace.Upstreams) != 1 {
		t.Fatalf("preview: %d routes, %d upstreams", len(prev.Workspace.Routes), len(prev.Workspace.Upstreams))
	}
	if len(prev.Report) != 1 || !strings.Contains(prev.Report[0].Message, "annotations are not imported") {
		t.Errorf("report: %+v", prev.Report)
	}
	if len(prev.Problems) != 0 || prev.Applied != nil {
		t.Errorf("preview problems %v, applied %v", prev.Problems, prev.Applied)
	}
	// A preview stores nothing.
	name := prev.Workspace.Routes[0].Name
	a.do(t, "viewer", "GET", "/api/v1/routes/"+name, nil).must(t, http.StatusNotFound)

	req["apply"] = true
	done := decodeImport(t, a.do(t, "editor", "POST", "/api/v1/import", req).must(t, http.StatusOK))
	if len(done.Applied) != 2 {
		t.Fatalf("applied: %+v", done.Applied)
	}
	got := a.do(t, "viewer", "GET", "/api/v1/routes/"+name, nil).must(t, http.StatusOK).json(t)
	if got["gateway"] != "public" {
		t.Errorf("imported route: %v", got)
	}
}

func TestImportPreviewShowsWhatApplyingWouldRefuse(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	req := map[string]any{"format": "openapi", "content": importOpenAPIDoc, "gateway": "public", "openapi": map[string]any{"upstream": "nowhere"}}
	prev := decodeImport(t, a.do(t, "editor", "POST", "/api/v1/import", req).must(t, http.StatusOK))
	if len(prev.Workspace.Routes) != 2 {
		t.Fatalf("routes: %d", len(prev.Workspace.Routes))
	}
	var unknown bool
	for _, p := range prev.Problems {
		unknown = unknown || strings.Contains(p.Message, "nowhere")
	}
	if !unknown {
		t.Errorf("problems do not name the unknown upstream: %+v", prev.Problems)
	}
	req["apply"] = true
	fields := a.do(t, "editor", "POST", "/api/v1/import", req).must(t, http.StatusBadRequest).problemFields(t)
	if len(fields) == 0 {
		t.Error("apply refused without field problems")
	}
	req["openapi"] = map[string]any{"upstream": "web", "host": "pets.example.com"}
	done := decodeImport(t, a.do(t, "editor", "POST", "/api/v1/import", req).must(t, http.StatusOK))
	if len(done.Applied) != 2 {
		t.Errorf("applied: %+v", done.Applied)
	}
}

func TestImportRefusesBadRequests(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	tests := map[string]struct {
		role   string
		body   any
		status int
		fields []string
	}{
		"every problem at once": {"editor", map[string]any{"format": "helm", "content": " ", "gateway": ""}, http.StatusBadRequest,
			[]string{"format", "content", "gateway"}},
		"openapi needs its upstream": {"editor", map[string]any{"format": "openapi", "content": importOpenAPIDoc, "gateway": "public"}, http.StatusBadRequest,
			[]string{"openapi.upstream"}},
		"openapi options only for openapi": {"editor", map[string]any{"format": "kong", "content": "x: 1", "gateway": "public", "openapi": map[string]any{"upstream": "web"}}, http.StatusBadRequest,
			[]string{"openapi"}},
		"unknown field":  {"editor", map[string]any{"format": "kong", "content": "x", "gateway": "public", "dryRun": true}, http.StatusBadRequest, []string{"dryRun"}},
		"broken YAML":    {"editor", map[string]any{"format": "ingress", "content": "a: [", "gateway": "public"}, http.StatusBadRequest, []string{"content"}},
		"nothing in it":  {"editor", map[string]any{"format": "gateway-api", "content": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", "gateway": "public"}, http.StatusBadRequest, []string{"content"}},
		"viewers cannot": {"viewer", map[string]any{"format": "gateway-api", "content": importHTTPRoute, "gateway": "public"}, http.StatusForbidden, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, tc.role, "POST", "/api/v1/import", tc.body).must(t, tc.status)
			if tc.fields == nil {
				return
			}
			got := r.problemFields(t)
			for _, f := range tc.fields {
				if _, ok := got[f]; !ok {
					t.Errorf("no problem on %s: %v", f, got)
				}
			}
		})
	}
}

func TestImportContentBounded(t *testing.T) {
	a := newTestAPI(t, func(d *Deps) { d.MaxBodyBytes = 16 << 20 })
	a.seed(t)
	big := strings.Repeat("# padding\n", (4<<20)/10+1)
	fields := a.do(t, "editor", "POST", "/api/v1/import", map[string]any{"format": "kong", "content": big, "gateway": "public"}).
		must(t, http.StatusBadRequest).problemFields(t)
	if !strings.Contains(fields["content"], "at most") {
		t.Errorf("content over the input limit: %v", fields)
	}
}
