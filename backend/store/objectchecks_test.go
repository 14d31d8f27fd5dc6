package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// Kept answers give what Validate gives, through an object made invalid,
// fixed, and one gone; objects not from the store are checked each time.
func TestObjectChecksAnswerAsValidate(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ws := model.Workspace{
		Gateways:  []model.Gateway{{Meta: model.Meta{Name: "gw", Version: 1, UpdatedAt: at}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web", Version: 1, UpdatedAt: at}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}},
	}
	for _, name := range []string{"a", "b", "c"} {
		ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: name, Version: 1, UpdatedAt: at}, Gateway: "gw",
			When: model.Pred(model.FieldPath, model.OpPrefix, "/"+name), Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}})
	}
	c := newObjectChecks()
	check := func(step string, ws model.Workspace) {
		t.Helper()
		want, got := ws.Validate(), c.validate(ws)
		if !reflect.DeepEqual(model.ErrorFields(got), model.ErrorFields(want)) || (got == nil) != (want == nil) {
			t.Fatalf("%s: kept answers give %v, Validate %v", step, got, want)
		}
	}
	check("first", ws)
	check("again", ws)
	bad := ws
	bad.Routes = append([]model.Route(nil), ws.Routes...)
	bad.Routes[1].Version, bad.Routes[1].UpdatedAt = 2, at.Add(time.Second)
	bad.Routes[1].When = model.Pred(model.FieldPath, model.OpPrefix, "no slash")
	check("invalid route", bad)
	if bad.Validate() == nil {
		t.Fatal("setting up: the invalid route validates")
	}
	check("invalid route again", bad)
	bad.Routes[1].Version, bad.Routes[1].UpdatedAt = 0, time.Time{}
	check("not from the store", bad)
	check("fixed", ws)
	ws.Routes = ws.Routes[:2]
	check("one gone", ws)
	if len(c.known) != 4 {
		t.Errorf("%d answers kept, want 4 (gateway, upstream, two routes)", len(c.known))
	}
}
