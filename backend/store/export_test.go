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
