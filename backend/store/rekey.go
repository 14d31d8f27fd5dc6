package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// checkPlaintext is what the seal_check row holds, sealed.
const checkPlaintext = "routedeck seal check"

// checkKeys makes sure keys open this database's secrets. On the first open
// after an upgrade it first seals every secret left in clear.
func (s *Store) checkKeys(ctx context.Context) error {
	var sealed string
	err := s.wdb.QueryRowContext(ctx, `SELECT sealed FROM seal_check WHERE id = 1`).Scan(&sealed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return s.sealClear(ctx)
	case err != nil:
		return fmt.Errorf("read seal check: %w", err)
	}
	if err := s.openCheck(sealed); err != nil {
		return err
	}
	return s.sealNotifierURLs(ctx)
}

// sealNotifierURLs moves webhook URLs that notifiers kept in clear in
// their spec (written before the URL counted as a credential) into their
// sealed secrets, then compacts the file so the clear URLs do not linger
// in free pages or the WAL. Reading a notifier already takes such a URL
// from the spec (alert.Notifier.SetSecrets); writing it back seals it.
func (s *Store) sealNotifierURLs(ctx context.Context) error {
	rows, err := s.wdb.QueryContext(ctx, `SELECT name FROM alert_notifiers
		WHERE json_extract(spec, '$.webhook.url') IS NOT NULL AND json_extract(spec, '$.webhook.url') NOT LIKE 'fp:%'`)
	if err != nil {
		return fmt.Errorf("seal notifier URLs: %w", err)
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("seal notifier URLs: %w", err)
		}
		names = append(names, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("seal notifier URLs: %w", err)
	}
	if len(names) == 0 {
		return nil
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seal notifier URLs: %w", err)
	}
	defer tx.Rollback()
	for _, name := range names {
		n, err := s.scanNotifier(tx.QueryRowContext(ctx, `SELECT name, version, spec, secrets, updated_at, updated_by
			FROM alert_notifiers WHERE name = ?`, name))
		if err != nil {
			return fmt.Errorf("seal notifier URLs: %w", err)
		}
		spec, sealed, err := s.encodeNotifier(&n)
		if err != nil {
			return fmt.Errorf("seal notifier URLs: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE alert_notifiers SET spec = ?, secrets = ? WHERE name = ?`, spec, sealed, name); err != nil {
			return fmt.Errorf("seal notifier URLs: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seal notifier URLs: commit: %w", err)
	}
	return s.Compact(ctx)
}

func (s *Store) openCheck(sealed string) error {
	got, err := s.keys.Unseal(sealed)
	if errors.Is(err, seal.ErrUnknownKey) {
		id, _ := seal.KeyID(sealed)
		return fmt.Errorf("the secrets in this database are sealed with master key %s, but the key from %s is %s: "+
			"restore the key file that was backed up with this database, or set %s to that key",
			id, s.keys.Source(), s.keys.CurrentID(), seal.EnvMasterKey)
	}
	if err != nil {
		return fmt.Errorf("seal check: %w", err)
	}
	if string(got) != checkPlaintext {
		return errors.New("seal check: the check value has unexpected content")
	}
	return nil
}

// sealClear is the one-time migration to sealed secrets. Everything is
// rewritten in one transaction; afterwards the file is vacuumed and the WAL
// checkpointed and truncated, so the clear values of the old rows do not
// linger in free pages or old WAL frames.
func (s *Store) sealClear(ctx context.Context) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seal secrets: %w", err)
	}
	defer tx.Rollback()
	// Another process may have done it between our read and our lock:
	// then there is only its key to check.
	var sealed string
	err = tx.QueryRowContext(ctx, `SELECT sealed FROM seal_check WHERE id = 1`).Scan(&sealed)
	if err == nil {
		return s.openCheck(sealed)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("seal secrets: %w", err)
	}
	sealClearValue := func(v string) (string, error) {
		if seal.IsSealed(v) {
			return v, nil
		}
		return s.keys.Seal([]byte(v))
	}
	n, err := rewriteSecrets(ctx, tx, s.keys, sealClearValue)
	if err != nil {
		return fmt.Errorf("seal secrets: %w", err)
	}
	check, err := s.keys.Seal([]byte(checkPlaintext))
	if err != nil {
		return fmt.Errorf("seal secrets: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO seal_check (id, sealed) VALUES (1, ?)`, check); err != nil {
		return fmt.Errorf("seal secrets: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seal secrets: commit: %w", err)
	}
	if n > 0 {
		return s.Compact(ctx)
	}
	return nil
}

// Compact rewrites the database file without its free pages and empties
// the WAL, so values a transaction replaced are gone from the disk, not
// only from the tables. It takes as long as copying the database.
func (s *Store) Compact(ctx context.Context) error {
	if _, err := s.wdb.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	if _, err := s.wdb.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// Rekey reseals every secret in the database under the current key of
// keys, which must also hold the key they are sealed with now, in one
// transaction, and returns how many rows it rewrote. It is the database
// half of a key rotation; the caller owns the key file and must keep the
// old key readable until Rekey has returned (see the rotate-key command),
// and should Compact afterwards, so the old ciphertexts leave the file.
// The store must be open with keys, and no other process may have the
// database open.
func (s *Store) Rekey(ctx context.Context) (int, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("rekey: %w", err)
	}
	defer tx.Rollback()
	reseal := func(v string) (string, error) {
		if !seal.IsSealed(v) {
			// Left by a write that bypassed sealing: seal it now.
			return s.keys.Seal([]byte(v))
		}
		out, _, err := s.keys.Reseal(v)
		return out, err
	}
	n, err := rewriteSecrets(ctx, tx, s.keys, reseal)
	if err != nil {
		return 0, fmt.Errorf("rekey: %w", err)
	}
	check, err := s.keys.Seal([]byte(checkPlaintext))
	if err != nil {
		return 0, fmt.Errorf("rekey: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO seal_check (id, sealed) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed`, check); err != nil {
		return 0, fmt.Errorf("rekey: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("rekey: commit: %w", err)
	}
	// The draft cache holds plaintext, which has not changed; it stays.
	// The version encoder's kept encodings hold the old sealings.
	s.versions.forget()
	return n, nil
}

// rewriteSecrets applies f to every secret value stored in the draft,
// revisions and published versions, and to every setting, and writes back
// the rows it changed. Revision diffs with secrets are computed again,
// over fingerprints under the current key: an old diff may hold a clear
// value, and a rotation changes every fingerprint. It returns how many
// rows it rewrote.
func rewriteSecrets(ctx context.Context, tx *sql.Tx, keys *seal.Keyring, f func(string) (string, error)) (int, error) {
	apply := func(obj model.Object) (bool, error) {
		changed := false
		err := model.MapSecrets(obj, func(_, v string) (string, error) {
			if v == model.RedactedPrivateKey {
				return v, nil
			}
			out, err := f(v)
			if out != v {
				changed = true
			}
			return out, err
		})
		return changed, err
	}
	total := 0
	// The draft's credentials in clear, to find them where the store
	// keeps text it does not know the fields of (route tests).
	var sc scrubber

	// The draft.
	type objRow struct{ kind, name, spec string }
	var objs []objRow
	if err := collect(ctx, tx, `SELECT kind, name, spec FROM objects WHERE kind IN ('Secret', 'Route')`,
		func(r *sql.Rows) error {
			var o objRow
			if err := r.Scan(&o.kind, &o.name, &o.spec); err != nil {
				return err
			}
			objs = append(objs, o)
			return nil
		}); err != nil {
		return 0, fmt.Errorf("read draft: %w", err)
	}
	for _, o := range objs {
		obj := model.NewObject(o.kind)
		if err := json.Unmarshal([]byte(o.spec), obj); err != nil {
			return 0, fmt.Errorf("decode %s %q: %w", o.kind, o.name, err)
		}
		obj.ObjectMeta().Name = o.name
		plain := shallowCopy(obj)
		if err := openSecrets(keys, plain); err != nil {
			return 0, err
		}
		sc.add(plain)
		changed, err := apply(obj)
		if err != nil || !changed {
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", o.kind, o.name, err)
			}
			continue
		}
		spec, err := encodeSpec(obj)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE objects SET spec = ? WHERE kind = ? AND name = ?`, spec, o.kind, o.name); err != nil {
			return 0, fmt.Errorf("write %s %q: %w", o.kind, o.name, err)
		}
		total++
	}

	// Revisions: the objects before and after, and the diff between them.
	revs, err := readRevisions(ctx, tx, `kind IN ('Secret', 'Route')`)
	if err != nil {
		return 0, fmt.Errorf("read revisions: %w", err)
	}
	for _, r := range revs {
		var stored, plain [2]model.Object
		var texts [2]sql.NullString
		changed := false
		for i, raw := range []sql.NullString{r.before, r.after} {
			texts[i] = raw
			if !raw.Valid {
				continue
			}
			obj := model.NewObject(r.kind)
			if err := json.Unmarshal([]byte(raw.String), obj); err != nil {
				return 0, fmt.Errorf("decode revision %d: %w", r.id, err)
			}
			if !model.HasSecrets(obj) {
				stored[i], plain[i] = obj, obj
				continue
			}
			c, err := apply(obj)
			if err != nil {
				return 0, fmt.Errorf("revision %d: %w", r.id, err)
			}
			stored[i] = obj
			if c {
				changed = true
				b, err := objectJSON(obj)
				if err != nil {
					return 0, err
				}
				texts[i] = sql.NullString{String: string(b), Valid: true}
			}
			p := model.NewObject(r.kind)
			_ = json.Unmarshal([]byte(texts[i].String), p)
			if err := openSecrets(keys, p); err != nil {
				return 0, fmt.Errorf("revision %d: %w", r.id, err)
			}
			plain[i] = p
		}
		hasSecrets := (stored[0] != nil && model.HasSecrets(stored[0])) || (stored[1] != nil && model.HasSecrets(stored[1]))
		if !changed && !hasSecrets {
			continue
		}
		d, err := revisionDiff(keys, r.kind, r.name, plain[0], plain[1])
		if err != nil {
			return 0, fmt.Errorf("revision %d: %w", r.id, err)
		}
		if !changed && d == r.diff.String {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE revisions SET before = ?, after = ?, diff = ? WHERE id = ?`,
			nullString(texts[0]), nullString(texts[1]), d, r.id); err != nil {
			return 0, fmt.Errorf("write revision %d: %w", r.id, err)
		}
		total++
	}

	// Published versions.
	n, err := rewriteVersionSecrets(ctx, tx, apply)
	if err != nil {
		return 0, err
	}
	total += n

	// Route tests, sealed whole, and their revisions, whose diffs are
	// computed again and scrubbed of the draft's credentials.
	n, err = resealWhole(ctx, tx, "route_tests", "name", "spec", "route test", f)
	if err != nil {
		return 0, err
	}
	total += n
	testRevs, err := readRevisions(ctx, tx, `kind = '`+KindRouteTest+`'`)
	if err != nil {
		return 0, fmt.Errorf("read route test revisions: %w", err)
	}
	for _, r := range testRevs {
		var texts [2]sql.NullString
		var yamls [2]string
		for i, raw := range []sql.NullString{r.before, r.after} {
			if !raw.Valid {
				continue
			}
			plain, err := openText(keys, "revision", raw.String)
			if err != nil {
				return 0, fmt.Errorf("revision %d: %w", r.id, err)
			}
			if yamls[i], err = routeTestYAML(plain); err != nil {
				return 0, fmt.Errorf("revision %d: %w", r.id, err)
			}
			out, err := f(raw.String)
			if err != nil {
				return 0, fmt.Errorf("revision %d: %w", r.id, err)
			}
			texts[i] = sql.NullString{String: out, Valid: true}
		}
		d := sc.scrub(keys, routeTestDiff(r.name, yamls[0], yamls[1]))
		if texts == [2]sql.NullString{r.before, r.after} && d == r.diff.String {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE revisions SET before = ?, after = ?, diff = ? WHERE id = ?`,
			nullString(texts[0]), nullString(texts[1]), d, r.id); err != nil {
			return 0, fmt.Errorf("write revision %d: %w", r.id, err)
		}
		total++
	}

	// Settings, sealed whole.
	n, err = resealWhole(ctx, tx, "settings", "key", "value", "setting", f)
	if err != nil {
		return 0, err
	}
	total += n

	// Notifiers' credentials, sealed whole.
	n, err = resealWhole(ctx, tx, "alert_notifiers", "name", "secrets", "notifier", f)
	if err != nil {
		return 0, err
	}
	return total + n, nil
}

// collect runs query and hands each row to scan; rows are read in full
// before the caller writes, as one connection cannot do both at once.
func collect(ctx context.Context, tx *sql.Tx, query string, scan func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func nullString(s sql.NullString) any {
	if !s.Valid {
		return nil
	}
	return s.String
}

// resealWhole rewrites with f every value of a table whose rows are sealed
// whole (a key column and a value column), writing back only the rows f
// changed. The table and column names are the caller's constants.
func resealWhole(ctx context.Context, tx *sql.Tx, table, keyCol, valCol, what string, f func(string) (string, error)) (int, error) {
	type row struct{ key, value string }
	var rows []row
	if err := collect(ctx, tx, `SELECT `+keyCol+`, `+valCol+` FROM `+table, func(r *sql.Rows) error {
		var v row
		if err := r.Scan(&v.key, &v.value); err != nil {
			return err
		}
		rows = append(rows, v)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("read %ss: %w", what, err)
	}
	n := 0
	for _, v := range rows {
		out, err := f(v.value)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", what, v.key, err)
		}
		if out == v.value {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET `+valCol+` = ? WHERE `+keyCol+` = ?`, out, v.key); err != nil {
			return 0, fmt.Errorf("write %s %q: %w", what, v.key, err)
		}
		n++
	}
	return n, nil
}

// revRow is a revision as resealing reads it: the objects before and
// after, and the diff between them.
type revRow struct {
	id                  int64
	kind, name          string
	before, after, diff sql.NullString
}

// readRevisions reads the revisions matching where (the caller's constant
// SQL condition).
func readRevisions(ctx context.Context, tx *sql.Tx, where string) ([]revRow, error) {
	var revs []revRow
	err := collect(ctx, tx, `SELECT id, kind, name, before, after, diff FROM revisions WHERE `+where,
		func(r *sql.Rows) error {
			var v revRow
			var d string
			if err := r.Scan(&v.id, &v.kind, &v.name, &v.before, &v.after, &d); err != nil {
				return err
			}
			v.diff = sql.NullString{String: d, Valid: true}
			revs = append(revs, v)
			return nil
		})
	return revs, err
}
