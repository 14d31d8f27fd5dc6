package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestExportOpenAPI(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	got := a.do(t, "viewer", "GET", "/api/v1/gateways/public/export/openapi", nil).must(t, http.StatusOK).json(t)
	doc, _ := got["document"].(map[string]any)
	if got["version"] != "draft" || doc["openapi"] != "3.1.0" || len(doc["paths"].(map[string]any)) == 0 {
		t.Fatalf("draft export: %v", got)
	}
	if _, ok := got["report"].([]any); !ok {
		t.Errorf("report is not a list: %v", got["report"])
	}

	// Once published, the published version is documented, not the draft.
	if _, err := a.store.Publish(context.Background(), "test", "public", ""); err != nil {
		t.Fatal(err)
	}
	a.do(t, "editor", "DELETE", "/api/v1/routes/api", nil).must(t, http.StatusNoContent)
	got = a.do(t, "viewer", "GET", "/api/v1/gateways/public/export/openapi", nil).must(t, http.StatusOK).json(t)
	paths, _ := got["document"].(map[string]any)["paths"].(map[string]any)
	if got["version"] != "1" || paths["/api"] == nil {
		t.Errorf("published export: version %v, paths %v", got["version"], paths)
	}

	r := a.do(t, "viewer", "GET", "/api/v1/gateways/public/export/openapi?download=true", nil).must(t, http.StatusOK)
	if !strings.Contains(r.header.Get("Content-Disposition"), `filename="public.openapi.json"`) || r.json(t)["openapi"] != "3.1.0" {
		t.Errorf("download: %s %s", r.header.Get("Content-Disposition"), r.body)
	}
	fields := a.do(t, "viewer", "GET", "/api/v1/gateways/public/export/openapi?version=x&download=maybe", nil).must(t, http.StatusBadRequest).problemFields(t)
	if fields["version"] == "" || fields["download"] == "" {
		t.Errorf("bad parameters: %v", fields)
	}
	a.do(t, "viewer", "GET", "/api/v1/gateways/public/export/openapi?format=yaml", nil).must(t, http.StatusBadRequest)
	a.do(t, "viewer", "GET", "/api/v1/gateways/public/export/openapi?version=9", nil).must(t, http.StatusNotFound)
	a.do(t, "viewer", "GET", "/api/v1/gateways/nope/export/openapi", nil).must(t, http.StatusNotFound)
}
