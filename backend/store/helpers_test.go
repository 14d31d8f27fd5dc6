package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

var ctx = context.Background()

func gateway(name string) *model.Gateway {
	return &model.Gateway{
		Meta:      model.Meta{Name: name},
		Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}},
	}
}

func upstream(name string) *model.Upstream {
	return &model.Upstream{
		Meta:   model.Meta{Name: name},
		Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 8080}}},
	}
}

func route(name, gw, up string, priority int) *model.Route {
	return &model.Route{
		Meta:     model.Meta{Name: name},
		Gateway:  gw,
		Priority: priority,
		When:     model.Pred(model.FieldPath, model.OpPrefix, "/"+name),
		Then:     model.Action{Forward: []model.Backend{{Upstream: up}}},
	}
}

// seeded opens a store holding gateway "public", upstreams "web" and "api"
// and no routes.
func seeded(t testing.TB) *store.Store {
	t.Helper()
	s := storetest.MustOpen(t)
	_, err := s.Apply(ctx, "seed", model.Workspace{
		Gateways:  []model.Gateway{*gateway("public")},
		Upstreams: []model.Upstream{*upstream("web"), *upstream("api")},
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return s
}

func mustCreate(t testing.TB, s *store.Store, objs ...model.Object) {
	t.Helper()
	for _, o := range objs {
		if err := s.Create(ctx, "alice", o); err != nil {
			t.Fatalf("create %s %s: %v", o.Kind(), o.ObjectMeta().Name, err)
		}
	}
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := model.ErrorCode(err); got != code {
		t.Fatalf("want error code %q, got %q (%v)", code, got, err)
	}
	var e *model.Error
	if code != "" && !errors.As(err, &e) {
		t.Fatalf("want a *model.Error, got %T", err)
	}
}

// counts returns how many revisions and audit entries exist, to show that a
// refused write recorded nothing.
func counts(t testing.TB, s *store.Store) (revisions, audit int) {
	t.Helper()
	_, revisions, err := s.ListRevisions(ctx, store.RevisionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit`).Scan(&audit); err != nil {
		t.Fatal(err)
	}
	return revisions, audit
}
