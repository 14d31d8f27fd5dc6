package replay

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/ruleset"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
	"github.com/routedeck/routedeck/internal/golden"
)

// loadYAML reads a workspace file of testdata.
func loadYAML(t testing.TB, name string) model.Workspace {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := manifest.Load(name, data)
	if err != nil {
		t.Fatal(err)
	}
	ws := f.Workspace
	if err := rules.ResolveWorkspace(&ws); err != nil {
		t.Fatal(err)
	}
	return ws
}

// shopStore is a store with gateway "shop": live.yaml published as
// version 1, draft.yaml as the draft, and three route tests.
func shopStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := storetest.MustOpen(t)
	if _, err := st.Apply(ctx, "test", loadYAML(t, "live.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Publish(ctx, "test", "shop", "golden"); err != nil {
		t.Fatal(err)
	}
	draft := loadYAML(t, "draft.yaml")
	if _, err := st.Apply(ctx, "test", draft); err != nil {
		t.Fatal(err)
	}
	current, err := st.GatewayWorkspace(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range current.Routes {
		if !slices.ContainsFunc(draft.Routes, func(d model.Route) bool { return d.Name == r.Name }) {
			if err := st.Delete(ctx, "test", model.KindRoute, r.Name, r.Version); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []routetest.Test{
		{Name: "cart-items", Request: rules.Request{URL: "http://shop.example.com/api/cart/items"}, Expect: routetest.Expect{Path: ptr("/cart/items")}},
		{Name: "health", Request: rules.Request{Method: "HEAD", URL: "/healthz"}, Expect: routetest.Expect{Status: ptr(200)}},
		{Name: "static", Request: rules.Request{URL: "/static/logo.svg", Headers: map[string][]string{"Host": {"shop.example.com"}}}, Expect: routetest.Expect{Upstream: ptr("web-v1")}},
	} {
		tc.Gateway = "shop"
		stored, err := tc.ToStore()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateRouteTest(ctx, "test", &stored); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func ptr[T any](v T) *T { return &v }

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestGolden replays each source from the live version of gateway shop
// to its draft, through the evaluator and the simulated Envoy, and
// compares the whole report with testdata/golden/NAME.json.
func TestGolden(t *testing.T) {
	st := shopStore(t)
	e := &Engine{Versions: ruleset.NewLoader(ruleset.FromStore(st), 0), Tests: st, Workers: 2}
	tests := map[string]replay.Request{
		"har":        {Source: replay.Source{HAR: readTestdata(t, "shop.har")}},
		"envoy-log":  {Source: replay.Source{Log: readTestdata(t, "shop.envoy.log"), Format: replay.FormatEnvoy}},
		"json-log":   {Source: replay.Source{Log: readTestdata(t, "shop.jsonl")}, Examples: 1},
		"tests":      {Source: replay.Source{Tests: true}},
		"tests-back": {Source: replay.Source{Tests: true}, From: "draft", To: "v1"},
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			rep, err := e.Replay(t.Context(), "shop", req)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Fidelity.Requests != 0 {
				t.Errorf("the evaluator and the simulated Envoy disagree: %+v", rep.Fidelity.Alarms)
			}
			rep.DurationMs = 0
			got, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden.Check(t, filepath.Join("testdata", "golden", name+".json"), got)
		})
	}
}
