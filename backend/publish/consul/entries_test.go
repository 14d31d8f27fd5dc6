package consul

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/routedeck/routedeck/internal/golden"

	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
)

func entriesWorkspace() model.Workspace {
	return model.Workspace{
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "public"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: "HTTP"}}}},
		Upstreams: []model.Upstream{
			{Meta: model.Meta{Name: "web-v1"}, Consul: &model.ConsulSource{Service: "web", Tags: []string{"v1"}}},
			{Meta: model.Meta{Name: "web-v2"}, Consul: &model.ConsulSource{Service: "web", Tags: []string{"v2"}}},
			{Meta: model.Meta{Name: "api"}, Consul: &model.ConsulSource{Service: "api"}},
			{Meta: model.Meta{Name: "static"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}},
		},
		Routes: []model.Route{
			{Meta: model.Meta{Name: "web"}, Gateway: "public", Priority: 100,
				When: model.Condition{All: []model.Condition{
					{Field: "path", Op: "prefix", Value: "/shop"},
					{Field: "header[x-debug]", Op: "absent"},
					{Field: "method", Op: "in", Values: []string{"GET", "POST"}},
				}},
				Then: model.Action{
					Forward: []model.Backend{{Upstream: "web-v1", Weight: 3}, {Upstream: "web-v2", Weight: 1}},
					Rewrite: &model.Rewrite{PathPrefix: "/"},
					Timeout: model.Duration(5 * time.Second),
					Retries: &model.Retries{Attempts: 2, On: []string{"5xx", "connect-failure"}},
					Headers: &model.HeaderPolicy{Request: &model.HeaderMutation{Set: map[string]string{"x-team": "shop"}}},
				}},
			{Meta: model.Meta{Name: "api"}, Gateway: "public", Priority: 50,
				When: model.Condition{Any: []model.Condition{
					{Field: "header[x-api]", Op: "present"},
					{Field: "query[api]", Op: "present"},
				}},
				Then: model.Action{Forward: []model.Backend{{Upstream: "api"}}, CORS: &model.CORS{}}},
			{Meta: model.Meta{Name: "private"}, Gateway: "public",
				When: model.Condition{Field: "path", Op: "prefix", Value: "/admin"},
				Then: model.Action{Forward: []model.Backend{{Upstream: "api"}}, Auth: &model.Auth{APIKey: &model.APIKeyAuth{Header: "x-key"}}}},
			{Meta: model.Meta{Name: "by-host"}, Gateway: "public",
				When: model.Condition{Field: "host", Op: "equals", Value: "api.example.com"},
				Then: model.Action{Forward: []model.Backend{{Upstream: "api"}}}},
			{Meta: model.Meta{Name: "mock"}, Gateway: "public",
				When: model.Condition{Field: "path", Op: "exact", Value: "/health"},
				Then: model.Action{Respond: &model.Respond{Status: 200}}},
			{Meta: model.Meta{Name: "legacy"}, Gateway: "public",
				Then: model.Action{Forward: []model.Backend{{Upstream: "static"}}}},
		},
	}
}

func TestExportEntriesGolden(t *testing.T) {
	ex := ExportEntries(entriesWorkspace(), "public")
	got, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden.Check(t, filepath.Join("testdata", "entries.golden.json"), got)
}

// TestApplyEntriesToAgent writes the exported entries to a real Consul
// agent, which checks them (protocols, splits adding up to 100, subsets
// that exist), and reads them back.
func TestApplyEntriesToAgent(t *testing.T) {
	_, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex := ExportEntries(entriesWorkspace(), "public")
	got, err := ApplyEntries(ctx, client, ex.Entries)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(got) != len(ex.Entries) {
		t.Fatalf("read back %d entries, want %d", len(got), len(ex.Entries))
	}
	e, _, err := client.ConfigEntries().Get(api.ServiceRouter, "public", nil)
	if err != nil {
		t.Fatal(err)
	}
	router := e.(*api.ServiceRouterConfigEntry)
	if len(router.Routes) != 4 || router.Routes[0].Destination.Service != "public-web" || router.Routes[0].Destination.PrefixRewrite != "/" ||
		router.Routes[3].Destination.Service != "api" || router.Routes[3].Match.HTTP.QueryParam[0].Name != "api" {
		b, _ := json.Marshal(router.Routes)
		t.Errorf("router read back: %s", b)
	}
	e, _, err = client.ConfigEntries().Get(api.ServiceSplitter, "public-web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sp := e.(*api.ServiceSplitterConfigEntry); len(sp.Splits) != 2 || sp.Splits[0].Weight != 75 || sp.Splits[0].ServiceSubset != "v1" {
		t.Errorf("splitter read back: %+v", sp.Splits)
	}

	// Writing the same entries again is accepted (they are upserts).
	if _, err := ApplyEntries(ctx, client, ex.Entries); err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	// The agent's own validation comes back as invalid input.
	bad := &api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "public-web",
		Splits: []api.ServiceSplit{{Weight: 10, Service: "web"}}}
	if _, err := ApplyEntries(ctx, client, []api.ConfigEntry{bad}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("splits not adding up to 100: err %v, want EINVALID", err)
	}
}
