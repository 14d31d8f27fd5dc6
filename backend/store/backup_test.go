package store_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

// TestSnapshotDuringWrites takes snapshots while writers commit, and
// checks each one is a single moment of the database: every object's
// version is that of its newest revision (both are written in one
// transaction, so a copy that mixed two moments would show them apart),
// and the draft generation counts every change it holds.
func TestSnapshotDuringWrites(t *testing.T) {
	s := seeded(t)
	dir := t.TempDir()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 3 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				r := route(fmt.Sprintf("r%d-%d", w, i%20), "public", "web", i)
				if i >= 20 {
					cur, err := s.Get(ctx, model.KindRoute, r.Name)
					if err != nil {
						t.Error(err)
						return
					}
					r.Version = cur.ObjectMeta().Version
					if err := s.Update(ctx, "alice", r); err != nil {
						t.Error(err)
						return
					}
				} else if err := s.Create(ctx, "alice", r); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		})
	}
	var versions []int64
	for i := range 8 {
		// Let some writes land between snapshots.
		for n := writes.Load(); writes.Load() < n+5 && !t.Failed(); {
			time.Sleep(time.Millisecond)
		}
		path := filepath.Join(dir, fmt.Sprintf("snap-%d.db", i))
		if err := s.Snapshot(ctx, path); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, checkConsistent(t, path))
	}
	stop.Store(true)
	wg.Wait()
	if versions[0] == versions[len(versions)-1] {
		t.Errorf("every snapshot saw %d revisions: the writers did not write between them", versions[0])
	}
}

// checkConsistent checks a snapshot's invariants and returns its number of
// revisions.
func checkConsistent(t *testing.T, path string) int64 {
	t.Helper()
	if _, err := store.InspectSnapshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mismatched, revisions int64
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM objects o
		WHERE o.version != (SELECT version FROM revisions r WHERE r.kind = o.kind AND r.name = o.name ORDER BY id DESC LIMIT 1)`).Scan(&mismatched)
	if err != nil {
		t.Fatal(err)
	}
	if mismatched != 0 {
		t.Errorf("%s: %d objects whose version is not their newest revision's", path, mismatched)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM revisions`).Scan(&revisions); err != nil {
		t.Fatal(err)
	}
	return revisions
}

// TestSnapshotKeepsSecretsSealed: the snapshot holds a secret as the
// database does, sealed; the key that sealed it opens it and another
// does not.
func TestSnapshotKeepsSecretsSealed(t *testing.T) {
	dir := t.TempDir()
	keys := storetest.Keys(t, dir)
	s := storetest.MustOpenAt(t, filepath.Join(dir, "routedeck.db"), keys)
	sec := secrettest.TLS(t, "web-tls", "shop.example.com")
	mustCreate(t, s, &sec)
	path := filepath.Join(t.TempDir(), "snap.db")
	if err := s.Snapshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keyBody := strings.Split(sec.TLS.PrivateKey, "\n")[1] // a line of the PEM body
	if bytes.Contains(raw, []byte(keyBody)) {
		t.Fatal("the snapshot holds the private key in clear")
	}
	info, err := store.InspectSnapshot(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if info.KeyID != keys.CurrentID() || info.SchemaVersion < 4 {
		t.Errorf("info = %+v, want key %s", info, keys.CurrentID())
	}
	if err := info.CheckKeys(keys); err != nil {
		t.Errorf("the store's own key: %v", err)
	}
	other, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := info.CheckKeys(other); err == nil || !strings.Contains(err.Error(), keys.CurrentID()) {
		t.Errorf("another key: %v, want an error naming %s", err, keys.CurrentID())
	}
	// The snapshot opens as a store with its key and has the secret.
	again := storetest.MustOpenAt(t, path, keys)
	got, err := again.Get(ctx, model.KindSecret, "web-tls")
	if err != nil || got.(*model.Secret).TLS.PrivateKey != sec.TLS.PrivateKey {
		t.Errorf("secret from the snapshot: %v", err)
	}
	if err := s.Snapshot(ctx, path); err == nil {
		t.Error("a snapshot over an existing file must be refused")
	}
}

// TestSnapshotFile copies a database that a store has open, without its
// key, and the copy has the store's latest commit.
func TestSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	s := storetest.MustOpenAt(t, filepath.Join(dir, "routedeck.db"), storetest.Keys(t, dir))
	mustCreate(t, s, gateway("edge"))
	out := filepath.Join(t.TempDir(), "snap.db")
	if err := store.SnapshotFile(ctx, filepath.Join(dir, "routedeck.db"), out); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM objects WHERE kind = 'Gateway' AND name = 'edge'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("gateway in the copy: %d, %v", n, err)
	}
	if err := store.SnapshotFile(ctx, filepath.Join(dir, "missing.db"), filepath.Join(t.TempDir(), "x.db")); err == nil {
		t.Error("a missing database must be an error, not an empty snapshot")
	}
}

// TestInspectSnapshotRefuses files this version cannot restore.
func TestInspectSnapshotRefuses(t *testing.T) {
	s := storetest.MustOpen(t)
	good := filepath.Join(t.TempDir(), "good.db")
	if err := s.Snapshot(ctx, good); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		make func(path string)
		want string
	}{
		"not a database": {
			make: func(path string) { os.WriteFile(path, []byte("hello, this is not SQLite at all"), 0o600) },
			want: "not a database",
		},
		"damaged pages": {
			make: func(path string) {
				b := bytes.Clone(raw)
				// Overwrite the middle of the file past the header: b-tree
				// pages that no longer parse.
				for i := 4096; i < len(b)-4096; i += 97 {
					b[i] ^= 0x5a
				}
				os.WriteFile(path, b, 0o600)
			},
			want: "",
		},
		"newer schema": {
			make: func(path string) {
				os.WriteFile(path, raw, 0o600)
				execOn(t, path, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`)
			},
			want: "made by a newer one",
		},
		"renamed migration": {
			make: func(path string) {
				os.WriteFile(path, raw, 0o600)
				execOn(t, path, `UPDATE schema_migrations SET name = '0001_other.sql' WHERE version = 1`)
			},
			want: "0001_other.sql in the backup",
		},
		"another program's database": {
			make: func(path string) { execOn(t, path, `CREATE TABLE t (x)`) },
			want: "not a routedeck database",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			tc.make(path)
			_, err := store.InspectSnapshot(ctx, path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func execOn(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}
