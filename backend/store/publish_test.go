package store_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

func routeNames(ws model.Workspace) []string {
	var out []string
	for _, r := range ws.Routes {
		out = append(out, r.Name)
	}
	return out
}

func TestPublish(t *testing.T) {
	s := seeded(t)
	mustCreate(t, s, gateway("internal"), route("a", "public", "web", 0))
	p1, err := s.Publish(ctx, "alice", "public", "first")
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, route("b", "public", "api", 0))
	p2, err := s.Publish(ctx, "bob", "public", "")
	if err != nil {
		t.Fatal(err)
	}
	pi, err := s.Publish(ctx, "bob", "internal", "")
	if err != nil {
		t.Fatal(err)
	}
	if p1.Version != 1 || p2.Version != 2 || pi.Version != 1 {
		t.Errorf("versions: public %d, %d; internal %d; want 1, 2; 1", p1.Version, p2.Version, pi.Version)
	}
	if diff := cmp.Diff([]string{"a", "b"}, routeNames(p2.Workspace)); diff != "" {
		t.Errorf("published routes:\n%s", diff)
	}

	tests := map[string]struct {
		gateway    string
		version    int64
		wantCode   string
		wantVer    int64
		wantRoutes []string
	}{
		"latest":          {gateway: "public", version: 0, wantVer: 2, wantRoutes: []string{"a", "b"}},
		"older":           {gateway: "public", version: 1, wantVer: 1, wantRoutes: []string{"a"}},
		"missing version": {gateway: "public", version: 3, wantCode: model.ENOTFOUND},
		"never published": {gateway: "nope", version: 0, wantCode: model.ENOTFOUND},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := s.GetPublished(ctx, tt.gateway, tt.version)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if p.Version != tt.wantVer {
				t.Errorf("version %d, want %d", p.Version, tt.wantVer)
			}
			if diff := cmp.Diff(tt.wantRoutes, routeNames(p.Workspace)); diff != "" {
				t.Errorf("routes:\n%s", diff)
			}
		})
	}
	got, err := s.GetPublished(ctx, "public", 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p1, got); diff != "" {
		t.Errorf("stored version differs from the one returned by Publish:\n%s", diff)
	}

	list, err := s.ListPublished(ctx, "public")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Version != 2 || list[0].Actor != "bob" || list[1].Note != "first" || len(list[0].Workspace.Routes) != 0 {
		t.Errorf("list: %+v", list)
	}

	_, err = s.Publish(ctx, "x", "nope", "")
	wantCode(t, err, model.ENOTFOUND)
}

func TestRollback(t *testing.T) {
	s := seeded(t)
	keep := route("keep", "public", "web", 0)
	mustCreate(t, s, upstream("old-up"), keep, route("gone-later", "public", "old-up", 0), route("elsewhere", "public", "api", 0))
	v1, err := s.Publish(ctx, "alice", "public", "")
	if err != nil {
		t.Fatal(err)
	}
	// Since version 1: keep edited, gone-later and old-up deleted, a new
	// route added, elsewhere unchanged, and the gateway edited.
	keep.Priority = 42
	if err := s.Update(ctx, "bob", keep); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ kind, name string }{{model.KindRoute, "gone-later"}, {model.KindUpstream, "old-up"}} {
		if err := s.Delete(ctx, "bob", d.kind, d.name, 0); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, route("added", "public", "web", 0))
	g, _ := s.Get(ctx, model.KindGateway, "public")
	g.(*model.Gateway).Description = "edited"
	if err := s.Update(ctx, "bob", g); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, "bob", "public", ""); err != nil {
		t.Fatal(err)
	}
	_, revsBefore, _ := s.ListRevisions(ctx, store.RevisionFilter{})

	p, err := s.Rollback(ctx, "carol", "public", v1.Version)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 3 || p.Note != "rollback to version 1" {
		t.Errorf("rollback published %d (%q), want version 3", p.Version, p.Note)
	}
	draft, err := s.GatewayWorkspace(ctx, "public")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(routeNames(v1.Workspace), routeNames(draft)); diff != "" {
		t.Errorf("draft routes after rollback (-v1 +draft):\n%s", diff)
	}
	if draft.Gateways[0].Description != "" {
		t.Errorf("gateway not restored: %q", draft.Gateways[0].Description)
	}
	k, _ := s.Get(ctx, model.KindRoute, "keep")
	if k.(*model.Route).Priority != 0 || k.ObjectMeta().Version != 3 || k.ObjectMeta().UpdatedBy != "carol" {
		t.Errorf("keep after rollback: %+v prio %d", k.ObjectMeta(), k.(*model.Route).Priority)
	}
	if _, err := s.Get(ctx, model.KindUpstream, "old-up"); err != nil {
		t.Errorf("upstream of v1 not restored: %v", err)
	}
	if _, err := s.Get(ctx, model.KindRoute, "added"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("route added after v1 should be deleted: %v", err)
	}
	// gateway, keep, old-up, gone-later restored; added deleted; elsewhere
	// unchanged so not rewritten.
	revs, total, _ := s.ListRevisions(ctx, store.RevisionFilter{Limit: 10})
	if total-revsBefore != 5 {
		t.Errorf("rollback recorded %d revisions, want 5", total-revsBefore)
	}
	for _, r := range revs[:5] {
		if r.Action != "rollback" || r.Actor != "carol" {
			t.Errorf("revision %+v should be a rollback by carol", r)
		}
	}
	if diff := cmp.Diff(routeNames(v1.Workspace), routeNames(p.Workspace)); diff != "" {
		t.Errorf("published rollback content:\n%s", diff)
	}

	_, err = s.Rollback(ctx, "carol", "public", 99)
	wantCode(t, err, model.ENOTFOUND)
}

// TestRollbackRefusedWritesNothing rolls back to a version whose content no
// longer validates against the draft (its route names an upstream that does
// not exist) and checks that the draft, revisions, audit log and published
// versions are untouched.
func TestRollbackRefusedWritesNothing(t *testing.T) {
	s := seeded(t)
	mustCreate(t, s, route("a", "public", "web", 0))
	v1, err := s.Publish(ctx, "alice", "public", "")
	if err != nil {
		t.Fatal(err)
	}
	// Break version 1 in storage so that restoring it cannot validate.
	store.RawWriteForTest(t, s, `UPDATE version_blobs SET body = CAST(replace(CAST(body AS TEXT), '"upstream":"web"', '"upstream":"missing"') AS BLOB)`)
	mustCreate(t, s, route("b", "public", "web", 0))
	before, _ := s.Workspace(ctx)
	revs, audits := counts(t, s)
	_, err = s.Rollback(ctx, "carol", "public", v1.Version)
	wantCode(t, err, model.EINVALID)
	after, _ := s.Workspace(ctx)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("refused rollback changed the draft:\n%s", diff)
	}
	if r, a := counts(t, s); r != revs || a != audits {
		t.Errorf("refused rollback recorded something")
	}
	if list, _ := s.ListPublished(ctx, "public"); len(list) != 1 {
		t.Errorf("refused rollback published: %d versions", len(list))
	}
}
