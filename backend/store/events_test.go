package store_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
)

// next takes the events queued on sub; every store announcement is made
// before the call that caused it returns, so they are already queued.
func next[T any](t *testing.T, sub *events.Subscription[T]) []T {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // queued events come back at once; none queued fails
	got, _, ok := sub.Next(ctx)
	if !ok {
		t.Fatal("no event announced")
	}
	return got
}

func TestStoreAnnouncesCommittedChanges(t *testing.T) {
	s := seeded(t)
	ctx := t.Context()
	draft, pubs, settings := s.Events().Draft.Subscribe(), s.Events().Published.Subscribe(), s.Events().Settings.Subscribe()
	defer draft.Close()
	defer pubs.Close()
	defer settings.Close()

	r := route("extra", "public", "web", 5)
	mustCreate(t, s, r)
	ev := next(t, draft)
	if len(ev) != 1 || len(ev[0].Changed) != 1 || ev[0].Changed[0].ObjectMeta().Name != "extra" || ev[0].Generation == 0 {
		t.Fatalf("create announced %+v, want one change of route extra with its generation", ev)
	}
	if err := s.Delete(ctx, "alice", model.KindRoute, "extra", 0); err != nil {
		t.Fatal(err)
	}
	ev = next(t, draft)
	if len(ev) != 1 || len(ev[0].Deleted) != 1 || ev[0].Deleted[0].(*model.Route).Gateway != "public" {
		t.Fatalf("delete announced %+v, want the deleted route with its gateway", ev)
	}
	gws, _ := ev[0].Gateways()
	if !gws["public"] {
		t.Fatalf("delete touches %v, want public", gws)
	}

	// A refused write announces nothing.
	if err := s.Create(ctx, "alice", route("bad", "nope", "web", 1)); err == nil {
		t.Fatal("route of a missing gateway accepted")
	}

	mustCreate(t, s, route("kept", "public", "web", 5))
	next(t, draft)
	p, err := s.Publish(ctx, "alice", "public", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := next(t, pubs); len(got) != 1 || got[0].Gateway != "public" || got[0].Version != p.Version || len(got[0].Workspace.Routes) == 0 {
		t.Fatalf("publish announced %+v, want version %d of public with its workspace", got, p.Version)
	}
	if _, err := s.Rollback(ctx, "alice", "public", p.Version); err != nil {
		t.Fatal(err)
	}
	if got := next(t, pubs); len(got) != 1 || got[0].Version != p.Version+1 {
		t.Fatalf("rollback announced %+v, want version %d", got, p.Version+1)
	}

	if err := s.PutSetting(ctx, "alice", "k", map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if got := next(t, settings); len(got) != 1 || got[0].Key != "k" {
		t.Fatalf("setting announced %+v, want key k", got)
	}
	// Nothing else was announced: not the refused write, not the setting.
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if got, _, ok := draft.Next(ctxDone); ok {
		t.Fatalf("unexpected draft events: %+v", got)
	}
}

func TestPublishWorkspaceSkipsAnUnchangedDraft(t *testing.T) {
	s := seeded(t)
	ctx := t.Context()
	ws, err := s.GatewayWorkspace(ctx, "public")
	if err != nil {
		t.Fatal(err)
	}
	first, unchanged, err := s.PublishWorkspace(ctx, "alice", "public", "", ws)
	if err != nil || unchanged {
		t.Fatalf("first publish: %v, unchanged %v", err, unchanged)
	}
	again, unchanged, err := s.PublishWorkspace(ctx, "alice", "public", "", ws)
	if err != nil || !unchanged || again.Version != first.Version {
		t.Fatalf("same draft again: version %d, unchanged %v, %v; want version %d unchanged", again.Version, unchanged, err, first.Version)
	}
	if list, _ := s.ListPublished(ctx, "public"); len(list) != 1 {
		t.Fatalf("%d versions recorded, want 1", len(list))
	}
	mustCreate(t, s, route("extra", "public", "web", 5))
	ws, _ = s.GatewayWorkspace(ctx, "public")
	next, unchanged, err := s.PublishWorkspace(ctx, "alice", "public", "", ws)
	if err != nil || unchanged || next.Version != first.Version+1 {
		t.Fatalf("changed draft: version %d, unchanged %v, %v; want version %d", next.Version, unchanged, err, first.Version+1)
	}
}

func TestGatewayDraftEqualsGatewayWorkspace(t *testing.T) {
	s := seeded(t)
	ctx := t.Context()
	mustCreate(t, s, gateway("internal"), route("b", "public", "web", 5), route("a", "public", "api", 5),
		route("c", "public", "web", 9), route("x", "internal", "api", 1))
	for _, gw := range []string{"public", "internal"} {
		want, err := s.GatewayWorkspace(ctx, gw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GatewayDraft(ctx, gw)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GatewayDraft(%s) = %+v\nGatewayWorkspace = %+v", gw, got, want)
		}
	}
	if _, err := s.GatewayDraft(ctx, "nope"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("missing gateway: %v", err)
	}
}

func TestDraftUpstreams(t *testing.T) {
	s := seeded(t)
	ups, err := s.DraftUpstreams(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 2 || ups[0].Name != "api" || ups[1].Name != "web" {
		t.Fatalf("DraftUpstreams = %+v, want api and web", ups)
	}
}
