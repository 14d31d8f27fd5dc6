package store_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

// manyRoutes creates n routes of gateway public.
func manyRoutes(t *testing.T, s *store.Store, n int) {
	t.Helper()
	ws := model.Workspace{}
	for i := range n {
		ws.Routes = append(ws.Routes, *route(fmt.Sprintf("r%04d", i), "public", "web", 0))
	}
	if _, err := s.Apply(ctx, "alice", ws); err != nil {
		t.Fatal(err)
	}
}

// checkVersions reads every version in want back and compares.
func checkVersions(t *testing.T, s *store.Store, want []store.Published) {
	t.Helper()
	for _, p := range want {
		got, err := s.GetPublished(ctx, p.Gateway, p.Version)
		if err != nil {
			t.Fatalf("version %d: %v", p.Version, err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Fatalf("version %d read back differs:\n%s", p.Version, diff)
		}
	}
}

// A publish after a one-route edit writes that route, the chunk around
// it, and not the gateway again; every version still reads back whole,
// through edits, a route added in the middle, one deleted, and a rollback.
func TestVersionStoreWritesWhatChanged(t *testing.T) {
	s := seeded(t)
	manyRoutes(t, s, 2000)
	p1, err := s.Publish(ctx, "alice", "public", "")
	if err != nil {
		t.Fatal(err)
	}
	n1, size1 := store.VersionBlobsForTest(t, s)
	if n1 < 2003 {
		t.Fatalf("%d blobs after the first publish, want every object and its chunks", n1)
	}
	obj, err := s.Get(ctx, model.KindRoute, "r0700")
	if err != nil {
		t.Fatal(err)
	}
	r := obj.(*model.Route)
	r.Description = "edited"
	if err := s.Update(ctx, "bob", r); err != nil {
		t.Fatal(err)
	}
	p2, err := s.Publish(ctx, "bob", "public", "")
	if err != nil {
		t.Fatal(err)
	}
	n2, size2 := store.VersionBlobsForTest(t, s)
	// The route and its chunk; a chunk boundary that moved makes it two
	// chunks at most. Chunk lengths follow the routes' hashes (their
	// times of change among them), so a chunk may hold up to maxChunk
	// (512) hashes of 32 bytes: that, not an average, bounds the bytes.
	if n2-n1 < 2 || n2-n1 > 3 || size2-size1 > 2*512*32+1024 {
		t.Errorf("a one-route edit stored %d blobs of %d bytes (the first version: %d bytes), want the route and its chunk",
			n2-n1, size2-size1, size1)
	}
	mustCreate(t, s, route("r0700a", "public", "api", 0))
	if err := s.Delete(ctx, "alice", model.KindRoute, "r0100", 0); err != nil {
		t.Fatal(err)
	}
	p3, err := s.Publish(ctx, "alice", "public", "")
	if err != nil {
		t.Fatal(err)
	}
	if n3, _ := store.VersionBlobsForTest(t, s); n3-n2 > 6 {
		t.Errorf("adding and deleting a route stored %d blobs, want those routes' chunks", n3-n2)
	}
	p4, err := s.Rollback(ctx, "alice", "public", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(p4.Workspace.Routes) != 2000 || len(p3.Workspace.Routes) != 2000 {
		t.Fatalf("routes: version 3 %d, rollback %d, want 2000", len(p3.Workspace.Routes), len(p4.Workspace.Routes))
	}
	checkVersions(t, s, []store.Published{p1, p2, p3, p4})
}

// Versions stored whole by earlier releases move to the version store on
// open, read back as they were, share their objects, and publishing,
// the no-op check and rollback go on from them.
func TestVersionStoreMigration(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routedeck.db")
	keys := storetest.Keys(t, dir)
	s := storetest.MustOpenAt(t, path, keys)
	mustCreate(t, s, upstream("web"))
	secrets := secretFixture(t, s) // publishes edge, with secrets
	mustCreate(t, s, route("plain", "edge", "web", 0))
	var want []store.Published
	for i := range 3 {
		obj, err := s.Get(ctx, model.KindRoute, "plain")
		if err != nil {
			t.Fatal(err)
		}
		obj.(*model.Route).Description = fmt.Sprint("edit ", i)
		if err := s.Update(ctx, "bob", obj); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(ctx, "bob", "edge", fmt.Sprint("note ", i)); err != nil {
			t.Fatal(err)
		}
	}
	for v := int64(1); v <= 4; v++ {
		p, err := s.GetPublished(ctx, "edge", v)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	list, err := s.ListPublished(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	store.WholeVersionsForTest(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = storetest.MustOpenAt(t, path, keys)
	checkVersions(t, s, want)
	got, err := s.ListPublished(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list, got); diff != "" {
		t.Errorf("history after the move differs:\n%s", diff)
	}
	// Four versions of four objects, three edits of one route: shared.
	if n, _ := store.VersionBlobsForTest(t, s); n > 4+3+4*2 {
		t.Errorf("%d blobs after the move, want the versions' objects shared", n)
	}
	storetest.ScanForSecrets(t, dir, secrets)

	draft, err := s.GatewayDraft(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	p, unchanged, err := s.PublishWorkspace(ctx, "bob", "edge", "", draft)
	if err != nil || !unchanged || p.Version != 4 {
		t.Fatalf("publish of the unchanged draft: version %d, unchanged %v, %v; want 4, unchanged", p.Version, unchanged, err)
	}
	rb, err := s.Rollback(ctx, "alice", "edge", 1)
	if err != nil || rb.Version != 5 {
		t.Fatalf("rollback: version %d, %v", rb.Version, err)
	}
	checkVersions(t, s, append(want, rb))
}
