package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/routedeck/routedeck/backend/diff"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

func TestRevisions(t *testing.T) {
	s := seeded(t)
	r := route("home", "public", "web", 1)
	mustCreate(t, s, r)
	r.Priority = 7
	r.Then.Forward[0].Upstream = "api"
	if err := s.Update(ctx, "bob", r); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "carol", model.KindRoute, "home", 2); err != nil {
		t.Fatal(err)
	}

	list, total, err := s.ListRevisions(ctx, store.RevisionFilter{Kind: model.KindRoute, Name: "home"})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(list) != 3 {
		t.Fatalf("want 3 revisions, got %d (total %d)", len(list), total)
	}
	type summary struct {
		Actor, Action string
		Version       int64
	}
	var got []summary
	for _, rev := range list {
		got = append(got, summary{rev.Actor, rev.Action, rev.Version})
		if rev.Before != nil || rev.After != nil || rev.Diff != "" {
			t.Errorf("list must omit bodies, revision %d has them", rev.ID)
		}
	}
	want := []summary{{"carol", "delete", 2}, {"bob", "update", 2}, {"alice", "create", 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revisions newest first (-want +got):\n%s", diff)
	}

	tests := map[string]struct {
		id                    int64
		wantBefore, wantAfter bool
		wantDiff              []string
	}{
		"create": {id: list[2].ID, wantAfter: true, wantDiff: []string{"--- a/Route/home", "+++ b/Route/home", "@@ -0,0 +1,", "+kind: Route", "+name: home", "+priority: 1"}},
		"update": {id: list[1].ID, wantBefore: true, wantAfter: true, wantDiff: []string{"-priority: 1", "+priority: 7", "-  - upstream: web", "+  - upstream: api"}},
		"delete": {id: list[0].ID, wantBefore: true, wantDiff: []string{"-kind: Route", "+0,0 @@"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rev, err := s.GetRevision(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if (rev.Before != nil) != tt.wantBefore || (rev.After != nil) != tt.wantAfter {
				t.Errorf("before %s, after %s", rev.Before, rev.After)
			}
			for _, raw := range []json.RawMessage{rev.Before, rev.After} {
				if raw == nil {
					continue
				}
				var back model.Route
				if err := json.Unmarshal(raw, &back); err != nil || back.Name != "home" {
					t.Errorf("object JSON does not decode as the route: %v %s", err, raw)
				}
			}
			for _, w := range tt.wantDiff {
				if !strings.Contains(rev.Diff, w) {
					t.Errorf("diff lacks %q:\n%s", w, rev.Diff)
				}
			}
			if strings.Contains(rev.Diff, "updatedAt") || strings.Contains(rev.Diff, "version:") {
				t.Errorf("diff shows bookkeeping fields:\n%s", rev.Diff)
			}
		})
	}

	_, err = s.GetRevision(ctx, 9999)
	wantCode(t, err, model.ENOTFOUND)

	page, total, err := s.ListRevisions(ctx, store.RevisionFilter{Limit: 2, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	// seed wrote 3 objects, then the 3 writes above.
	if total != 6 || len(page) != 2 || page[0].ID != list[1].ID {
		t.Errorf("paging: total %d, got %+v", total, page)
	}
}

func TestAuditOfWrites(t *testing.T) {
	s := seeded(t)
	mustCreate(t, s, route("home", "public", "web", 1))
	entries, err := s.ListAudit(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "route.create" || entries[0].Target != "home" || entries[0].Actor != "alice" {
		t.Errorf("audit of a create: %+v", entries)
	}
}

// TestRevisionTooLargeToDiff writes an upstream whose YAML is past the
// diff caps (an endpoint list: descriptions are capped well below them): the revision keeps both objects and records a note, flagged as
// such when read back, in place of a diff.
func TestRevisionTooLargeToDiff(t *testing.T) {
	s := seeded(t)
	r := upstream("long")
	mustCreate(t, s, r)
	// Each endpoint is two lines of YAML.
	r.Static.Endpoints = make([]model.Endpoint, diff.MaxLines/2+1)
	for i := range r.Static.Endpoints {
		r.Static.Endpoints[i] = model.Endpoint{Address: fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), Port: 8080}
	}
	if err := s.Update(ctx, "bob", r); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.ListRevisions(ctx, store.RevisionFilter{Kind: model.KindUpstream, Name: "long"})
	if err != nil || len(list) != 2 {
		t.Fatalf("revisions: %v %+v", err, list)
	}
	created, err := s.GetRevision(ctx, list[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if created.DiffTooLarge || !strings.HasPrefix(created.Diff, "--- a/Upstream/long") {
		t.Errorf("a small create must have its diff: too large %v, %q", created.DiffTooLarge, created.Diff)
	}
	rev, err := s.GetRevision(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !rev.DiffTooLarge {
		t.Errorf("revision not flagged too large to diff")
	}
	want := fmt.Sprintf("Upstream/long changed, too large to diff (over %d lines or %d MiB)\n", diff.MaxLines, diff.MaxBytes>>20)
	if rev.Diff != want {
		t.Errorf("diff = %q, want %q", rev.Diff, want)
	}
	var back model.Upstream
	if err := json.Unmarshal(rev.After, &back); err != nil || len(back.Static.Endpoints) != len(r.Static.Endpoints) {
		t.Errorf("the revision must keep the whole object: %v", err)
	}
}
