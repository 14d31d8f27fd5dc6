package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// RawWriteForTest runs SQL on the writer behind the store's back, to set up
// states the API cannot produce.
func RawWriteForTest(t testing.TB, s *Store, query string, args ...any) int64 {
	t.Helper()
	res, err := s.wdb.Exec(query, args...)
	if err != nil {
		t.Fatalf("raw write: %v", err)
	}
	// The cached draft is keyed by generation; a write outside the store
	// must move it like any other writer.
	if _, err := s.wdb.Exec(`UPDATE draft_generation SET generation = generation + 1`); err != nil {
		t.Fatalf("raw write: %v", err)
	}
	n, _ := res.RowsAffected()
	return n
}

// UnsealForTest turns s's database back into what a version that did not
// seal secrets wrote: every secret in clear, diffs of the clear values, no
// seal check. The next Open must seal it all again.
func UnsealForTest(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	open := func(v string) (string, error) {
		if !seal.IsSealed(v) {
			return v, nil
		}
		return s.keys.UnsealString(v)
	}
	if _, err := rewriteSecrets(ctx, tx, s.keys, open); err != nil {
		t.Fatal(err)
	}
	// Diffs as they were: of the clear values.
	type rev struct {
		id            int64
		kind, name    string
		before, after sql.NullString
	}
	var revs []rev
	if err := collect(ctx, tx, `SELECT id, kind, name, before, after FROM revisions WHERE kind IN ('Route', 'RouteTest')`, func(r *sql.Rows) error {
		var v rev
		if err := r.Scan(&v.id, &v.kind, &v.name, &v.before, &v.after); err != nil {
			return err
		}
		revs = append(revs, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range revs {
		if r.kind == KindRouteTest {
			var y [2]string
			for i, raw := range []sql.NullString{r.before, r.after} {
				if raw.Valid {
					y[i], _ = routeTestYAML([]byte(raw.String))
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE revisions SET diff = ? WHERE id = ?`, routeTestDiff(r.name, y[0], y[1]), r.id); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var objs [2]model.Object
		for i, raw := range []sql.NullString{r.before, r.after} {
			if raw.Valid {
				objs[i] = model.NewObject(r.kind)
				if err := json.Unmarshal([]byte(raw.String), objs[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		b, _ := documentYAML(objs[0])
		a, _ := documentYAML(objs[1])
		d := unifiedOrNote(r.kind+"/"+r.name, b, a)
		if _, err := tx.ExecContext(ctx, `UPDATE revisions SET diff = ? WHERE id = ?`, d, r.id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM seal_check`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE draft_generation SET generation = generation + 1`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// WholeVersionsForTest turns s's published versions back into what a
// version of the store before the version store wrote: one workspace
// document per version in published, no version_blobs, migration 7 not
// applied. The next Open must move them again.
func WholeVersionsForTest(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	type row struct {
		gateway, actor, note string
		version, at          int64
		digest               sql.NullString
		manifest             []byte
	}
	var rows []row
	if err := collect(ctx, tx, `SELECT gateway, version, at, actor, note, digest, manifest FROM published`, func(r *sql.Rows) error {
		var v row
		if err := r.Scan(&v.gateway, &v.version, &v.at, &v.actor, &v.note, &v.digest, &v.manifest); err != nil {
			return err
		}
		rows = append(rows, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`ALTER TABLE published RENAME TO published_new`, `CREATE TABLE published (
		gateway TEXT NOT NULL, version INTEGER NOT NULL CHECK (version > 0), at INTEGER NOT NULL,
		actor TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', workspace TEXT NOT NULL, digest TEXT,
		PRIMARY KEY (gateway, version))`, `CREATE INDEX published_latest ON published (gateway, version, digest)`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		secs, err := readVersion(ctx, tx, r.manifest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO published (gateway, version, at, actor, note, workspace, digest) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.gateway, r.version, r.at, r.actor, r.note, string(secs.json()), r.digest); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`DROP TABLE published_new`, `DROP TABLE version_blobs`, `DELETE FROM schema_migrations WHERE version = 7`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// VersionBlobsForTest counts the blobs of the version store and their
// bytes.
func VersionBlobsForTest(t testing.TB, s *Store) (n, size int64) {
	t.Helper()
	if err := s.db.QueryRow(`SELECT count(*), coalesce(sum(length(body)), 0) FROM version_blobs`).Scan(&n, &size); err != nil {
		t.Fatal(err)
	}
	return n, size
}

// NotifierURLInClearForTest gives notifier name the shape notifiers were
// stored in before a webhook URL counted as a credential: the URL in
// clear in the spec, the sealed credentials without it.
func NotifierURLInClearForTest(t testing.TB, s *Store, name, url string) {
	t.Helper()
	sealed, err := sealText(s.keys, "notifier "+name, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.Exec(`UPDATE alert_notifiers SET spec = json_set(spec, '$.webhook.url', ?), secrets = ? WHERE name = ?`,
		url, sealed, name); err != nil {
		t.Fatal(err)
	}
}

// GatewayDraftBuiltForTest is GatewayDraft built whole from the cached
// draft, as if no earlier generation's workspace could be reused.
func GatewayDraftBuiltForTest(t testing.TB, s *Store, gateway string) model.Workspace {
	t.Helper()
	s.mu.Lock()
	c := s.draft
	s.mu.Unlock()
	ws, err := c.buildGatewayWorkspace(gateway)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// DraftProblemsForTest are the problems the cached draft knows of, as
// "routes/name.field: message", or nil when it knows none yet.
func DraftProblemsForTest(s *Store) map[string]bool {
	s.mu.Lock()
	c := s.draft
	s.mu.Unlock()
	if !c.problemsKnown {
		return nil
	}
	out := map[string]bool{}
	for _, ps := range c.problems {
		for _, p := range ps {
			out[listName(p.key.kind)+"/"+p.key.name+"."+p.field+": "+p.message] = true
		}
	}
	return out
}

// DraftDecodesForTest is how many times s decoded the whole draft.
func DraftDecodesForTest(s *Store) int64 { return s.draftDecodes.Load() }

// DraftHooksForTest stops s's draft reads once they have read the draft
// generation (generationRead) and its draft writes once they committed
// (committed); nil leaves a point alone.
func DraftHooksForTest(s *Store, generationRead func(gen int64), committed func()) {
	s.hooks.generationRead, s.hooks.committed = generationRead, committed
}
