package session

import (
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// TestRulesOnOneListener: a rule that names a listener answers on that
// listener's port only, through the data plane as in the evaluator; a
// request that names no listener goes to one that reads the gateway's
// route configuration.
func TestRulesOnOneListener(t *testing.T) {
	ws := demo(t)
	ws.update(func(w *model.Workspace) {
		gw := &w.Gateways[0]
		gw.Listeners = append(gw.Listeners, model.Listener{Name: "admin", Port: 8081, Protocol: model.ProtocolHTTP})
		w.Routes = append(w.Routes, model.Route{Meta: model.Meta{Name: "admin-only"}, Gateway: gw.Name,
			Listeners: []string{"admin"}, Priority: 1000,
			When: model.Pred(model.FieldPath, model.OpPrefix, "/"),
			Then: model.Action{Respond: &model.Respond{Status: 299, Body: "admin"}}})
	})
	s := newService(t, ws)
	gateway := ws.ws.Gateways[0].Name
	other := ws.ws.Gateways[0].Listeners[0].Name
	prog := rules.Compile(ws.ws.Routes, gateway)
	for _, listener := range []string{"admin", other, ""} {
		req := rules.Request{URL: "http://shop.example.com/cart", Listener: listener}
		res, err := s.Do(t.Context(), TestRequest{Gateway: gateway, Request: &req})
		if err != nil {
			t.Fatal(err)
		}
		want := prog.Evaluate(req).Rule
		if (want == "admin-only") != (listener == "admin") {
			t.Fatalf("listener %q: the evaluator picks %q", listener, want)
		}
		if res.Rule == nil || *res.Rule != want {
			t.Errorf("listener %q: the data plane picked %v, the evaluator %q (status %d)", listener, res.Rule, want, res.Response.Status)
		}
		if got := res.Response.Status == 299; got != (listener == "admin") {
			t.Errorf("listener %q: status %d", listener, res.Response.Status)
		}
	}
	req := rules.Request{URL: "/", Listener: "nowhere"}
	if _, err := s.Do(t.Context(), TestRequest{Gateway: gateway, Request: &req}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("unknown listener: %v", err)
	}
}
