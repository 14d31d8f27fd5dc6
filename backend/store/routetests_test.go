package store_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

func TestRouteTestLifecycle(t *testing.T) {
	s := storetest.MustOpen(t)
	spec := json.RawMessage(`{"request":{"url":"/a"},"expect":{"upstream":"web"}}`)
	a := &store.RouteTest{Name: "a", Gateway: "public", Spec: spec}
	if err := s.CreateRouteTest(ctx, "alice", a); err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 || a.UpdatedBy != "alice" {
		t.Errorf("after create: version %d by %q", a.Version, a.UpdatedBy)
	}
	if err := s.CreateRouteTest(ctx, "alice", &store.RouteTest{Name: "a", Gateway: "public", Spec: spec}); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("duplicate create: %v, want conflict", err)
	}
	b := &store.RouteTest{Name: "b", Gateway: "internal", Spec: spec}
	if err := s.CreateRouteTest(ctx, "alice", b); err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		gateway string
		want    []string
	}{
		"all":      {"", []string{"b", "a"}}, // by gateway, then name
		"public":   {"public", []string{"a"}},
		"internal": {"internal", []string{"b"}},
		"none":     {"other", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			list, err := s.ListRouteTests(ctx, tc.gateway)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rt := range list {
				got = append(got, rt.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	stale := &store.RouteTest{Name: "a", Gateway: "public", Version: 7, Spec: spec}
	if err := s.UpdateRouteTest(ctx, "bob", stale); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("stale update: %v, want conflict", err)
	}
	upd := &store.RouteTest{Name: "a", Gateway: "public", Version: 1, Spec: json.RawMessage(`{"request":{"url":"/a"},"expect":{"upstream":"api"}}`)}
	if err := s.UpdateRouteTest(ctx, "bob", upd); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRouteTest(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.UpdatedBy != "bob" || !strings.Contains(string(got.Spec), `"api"`) {
		t.Errorf("after update: %+v", got)
	}
	if err := s.DeleteRouteTest(ctx, "carol", "a", 1); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("stale delete: %v, want conflict", err)
	}
	if err := s.DeleteRouteTest(ctx, "carol", "a", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRouteTest(ctx, "a"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("get after delete: %v, want not found", err)
	}
	if err := s.DeleteRouteTest(ctx, "carol", "a", 0); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("delete twice: %v, want not found", err)
	}

	revs, _, err := s.ListRevisions(ctx, store.RevisionFilter{Kind: store.KindRouteTest, Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range revs {
		actions = append(actions, r.Action+"/"+r.Actor)
	}
	if want := "delete/carol,update/bob,create/alice"; strings.Join(actions, ",") != want {
		t.Errorf("revisions %v, want %s", actions, want)
	}
	full, err := s.GetRevision(ctx, revs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(full.Diff, "-  upstream: web") || !strings.Contains(full.Diff, "+  upstream: api") {
		t.Errorf("update diff does not show the change:\n%s", full.Diff)
	}
	audit, err := s.ListAudit(ctx, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) == 0 || audit[0].Action != "test.delete" || audit[0].Actor != "carol" {
		t.Errorf("latest audit entry %+v, want test.delete by carol", audit[0])
	}
}
