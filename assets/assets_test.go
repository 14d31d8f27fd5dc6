package assets

import (
	"testing"

	"github.com/routedeck/routedeck/backend/rules"
)

// The demo workspace is what a first start shows: it must load, parse and
// validate, and keep the examples the dashboard tour relies on.
func TestDemoWorkspaceIsValid(t *testing.T) {
	ws, err := DemoWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	if err := rules.ResolveWorkspace(&ws); err != nil {
		t.Fatalf("conditions: %v", err)
	}
	if err := ws.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	names := map[string]bool{}
	for _, o := range ws.Objects() {
		names[o.Kind()+"/"+o.ObjectMeta().Name] = true
	}
	for _, want := range []string{"Gateway/public", "Upstream/web-v1", "Upstream/web-v2", "Upstream/api",
		"Route/shop-api", "Route/static-assets", "Route/web-canary", "Route/web", "Route/old-catalog", "Route/healthz"} {
		if !names[want] {
			t.Errorf("demo lacks %s", want)
		}
	}
	var features struct{ or, redirect, respond, weighted, rewrite bool }
	for _, r := range ws.Routes {
		features.or = features.or || len(r.When.Any) > 0
		features.redirect = features.redirect || r.Then.Redirect != nil
		features.respond = features.respond || r.Then.Respond != nil
		features.weighted = features.weighted || len(r.Then.Forward) > 1
		features.rewrite = features.rewrite || (r.Then.Rewrite != nil && r.When.All != nil)
	}
	if features != (struct{ or, redirect, respond, weighted, rewrite bool }{true, true, true, true, true}) {
		t.Errorf("demo should show an OR rule, a redirect, a mock response, a weighted split and a canary rewrite: %+v", features)
	}
}
