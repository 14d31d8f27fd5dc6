package consul

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
)

// releaseOf reads gateway's release from a fresh tree.
func releaseOf(t *testing.T, kv *KV, index uint64, gateway string) (Release, *Tree, error) {
	t.Helper()
	tree, err := kv.Watch(context.Background(), index, 10*time.Second)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	rel, err := tree.Release(gateway)
	return rel, tree, err
}

func TestPublishVersionRecordsTheVersionWithTheContent(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	small, old, next := bigWorkspace("public", 10, 2, "v1"), bigWorkspace("public", 200, 5, "v2"), bigWorkspace("public", 200, 5, "v3")

	if err := kv.PublishVersion(ctx, "public", 1, small); err != nil {
		t.Fatal(err)
	}
	rel, tree, err := releaseOf(t, kv, 0, "public")
	if err != nil || rel.Version != 1 {
		t.Fatalf("one-transaction publish: release %d, %v; want version 1", rel.Version, err)
	}
	if diff := cmp.Diff(small, rel.Workspace); diff != "" {
		t.Fatalf("released workspace (-want +got):\n%s", diff)
	}
	if got := tree.Gateways(); !cmp.Equal(got, []string{"public"}) {
		t.Fatalf("gateways %v", got)
	}
	// Nothing changed: the blocking query waits its time out and gives
	// the same tree back.
	start := time.Now()
	if again, err := kv.Watch(ctx, tree.Index, 300*time.Millisecond); err != nil || again.Index != tree.Index {
		t.Fatalf("watch without change: %v, %v", again, err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("watch without change returned after %s, not blocking", waited)
	}

	if err := kv.PublishVersion(ctx, "public", 2, old); err != nil {
		t.Fatal(err)
	}
	rel, tree, err = releaseOf(t, kv, tree.Index, "public")
	if err != nil || rel.Version != 2 {
		t.Fatalf("split publish: release %d, %v; want version 2", rel.Version, err)
	}

	// A split publish paused half-way: the tree holds a mix, the record
	// says so, and the version stays with the content it named.
	paused, releaseCh, result := make(chan struct{}), make(chan error), make(chan error, 1)
	writer := New(client, BeforeBatch(func(batch int) error {
		if batch == 2 {
			close(paused)
			return <-releaseCh
		}
		return nil
	}))
	go func() { result <- writer.PublishVersion(ctx, "public", 3, next) }()
	waitPaused(t, paused, result)
	_, tree, err = releaseOf(t, kv, 0, "public")
	wantCode(t, err, model.ECONFLICT)
	if !strings.Contains(err.Error(), "is being published") {
		t.Fatalf("release during a split publish: %v", err)
	}
	if v := tree.snap.versions["public"].Version; v != 2 {
		t.Fatalf("version record during the publish: %d, want 2", v)
	}
	// A follower wakes on every batch and sees conflicts until the
	// record says done, then the whole new version.
	woke := make(chan error, 1)
	go func() {
		index := tree.Index
		for {
			tree, err := kv.Watch(ctx, index, 10*time.Second)
			if err != nil {
				woke <- err
				return
			}
			rel, err := tree.Release("public")
			switch {
			case err == nil && rel.Version == 3:
				woke <- nil
				return
			case err == nil:
				woke <- fmt.Errorf("served version %d during the publish", rel.Version)
				return
			case model.ErrorCode(err) != model.ECONFLICT:
				woke <- err
				return
			}
			index = tree.Index
		}
	}()
	releaseCh <- nil
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Fatalf("following the publish: %v", err)
	}
	rel, tree, err = releaseOf(t, kv, 0, "public")
	if err != nil || rel.Version != 3 {
		t.Fatalf("after the split publish: release %d, %v; want version 3", rel.Version, err)
	}
	if diff := cmp.Diff(next, rel.Workspace); diff != "" {
		t.Fatalf("released workspace (-want +got):\n%s", diff)
	}

	// The same content under a new number (a rollback to equal content)
	// writes the record alone.
	if err := kv.PublishVersion(ctx, "public", 4, next); err != nil {
		t.Fatal(err)
	}
	if rel, _, err = releaseOf(t, kv, 0, "public"); err != nil || rel.Version != 4 {
		t.Fatalf("record alone: release %d, %v; want version 4", rel.Version, err)
	}

	// A publish without a number removes the record: no replica may label
	// new content with the old number.
	if err := kv.Publish(ctx, "public", small); err != nil {
		t.Fatal(err)
	}
	_, _, err = releaseOf(t, kv, 0, "public")
	wantCode(t, err, model.ECONFLICT)
	if !strings.Contains(err.Error(), "no version record") {
		t.Fatalf("release without a record: %v", err)
	}
	if _, err := kv.List(ctx); err != nil {
		t.Fatalf("list skips the records: %v", err)
	}
	wantCode(t, kv.PublishVersion(ctx, "public", 0, small), model.EINVALID)
	if _, _, err := releaseOf(t, kv, 0, "nope"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("unpublished gateway: %v", err)
	}
}
