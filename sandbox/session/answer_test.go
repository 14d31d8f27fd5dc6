package session

import (
	"net/http"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// TestChosenAnswerThroughResponseFilters: a test request chooses the
// mock's status, headers and body; the gateway's response header rules
// act on what the mock answered, and the body passes unchanged.
func TestChosenAnswerThroughResponseFilters(t *testing.T) {
	ws := demo(t)
	ws.update(func(w *model.Workspace) {
		for i := range w.Routes {
			if w.Routes[i].Name == "static-assets" {
				w.Routes[i].Then.Headers = &model.HeaderPolicy{Response: &model.HeaderMutation{
					Remove: []string{"x-internal-trace"},
					Set:    map[string]string{"cache-control": "public, max-age=60"},
				}}
			}
		}
	})
	s := newService(t, ws)
	req := &rules.Request{URL: "http://shop.example.com/static/app.js", Headers: http.Header{
		upstream.HeaderRespondStatus: {"418"},
		upstream.HeaderRespondHeader: {"x-internal-trace: abc", "x-kept: 1", "cache-control: no-store"},
		upstream.HeaderRespondBody:   {"short and stout"},
	}}
	res, err := s.Do(t.Context(), TestRequest{Gateway: "public", Request: req})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rule == nil || *res.Rule != "static-assets" {
		t.Fatalf("rule %v", res.Rule)
	}
	// The reply's header names are lower case, as HTTP/2 writes them.
	h := func(name string) string {
		if v := res.Response.Headers[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if res.Response.Status != 418 || res.Response.Body != "short and stout" {
		t.Errorf("status %d body %q, want the mock's chosen 418 and body", res.Response.Status, res.Response.Body)
	}
	if h("x-internal-trace") != "" || h("x-kept") != "1" || h("cache-control") != "public, max-age=60" {
		t.Errorf("response headers after the route's rules: %v", res.Response.Headers)
	}

	// Another route has no response rules: the mock's headers pass as chosen.
	req.URL = "http://shop.example.com/cart"
	res, err = s.Do(t.Context(), TestRequest{Gateway: "public", Request: req})
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.Status != 418 || h("x-internal-trace") != "abc" || h("cache-control") != "no-store" {
		t.Errorf("status %d headers %v", res.Response.Status, res.Response.Headers)
	}
}
