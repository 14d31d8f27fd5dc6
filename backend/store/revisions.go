package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/diff"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
	"sigs.k8s.io/yaml"
)

// newRevision describes op: the objects before and after as JSON, their
// secrets sealed, and the diff of their YAML forms with each secret shown as
// its fingerprint. Private keys of secrets are redacted: the history is
// shown to every viewer and must not keep key material.
func newRevision(keys *seal.Keyring, now time.Time, o op) (Revision, error) {
	rev := Revision{At: now, Actor: o.actor, Action: o.action}
	o.before, o.after = redact(o.before), redact(o.after)
	obj := o.after
	if obj == nil {
		obj = o.before
	}
	rev.Kind, rev.Name, rev.Version = obj.Kind(), obj.ObjectMeta().Name, obj.ObjectMeta().Version
	var err error
	if rev.Before, err = sealedObjectJSON(keys, o.before); err != nil {
		return rev, err
	}
	if rev.After, err = sealedObjectJSON(keys, o.after); err != nil {
		return rev, err
	}
	rev.Diff, err = revisionDiff(keys, rev.Kind, rev.Name, o.before, o.after)
	rev.DiffTooLarge = isTooLargeNote(rev.Diff)
	return rev, err
}

// revisionDiff is the unified diff of the YAML forms of before and after
// (either may be nil), secrets shown as fingerprints.
func revisionDiff(keys *seal.Keyring, kind, name string, before, after model.Object) (string, error) {
	b, err := documentYAML(fingerprinted(keys, before))
	if err != nil {
		return "", err
	}
	a, err := documentYAML(fingerprinted(keys, after))
	if err != nil {
		return "", err
	}
	return unifiedOrNote(kind+"/"+name, b, a), nil
}

// unifiedOrNote is the unified diff of two YAML forms of the object label
// names. Past the diff package's size caps it is a one-line note instead,
// naming the object and the caps. A unified diff starts with "--- ", so
// the note is told apart from one when read back (isTooLargeNote).
func unifiedOrNote(label, before, after string) string {
	d, err := diff.Unified("a/"+label, "b/"+label, before, after, diff.DefaultContext)
	if err != nil { // diff.ErrTooLarge, the only error Unified has
		return fmt.Sprintf("%s changed, %v\n", label, err)
	}
	return d
}

// isTooLargeNote reports whether a recorded diff is the note unifiedOrNote
// writes for a change too large to diff ("" is no change at all).
func isTooLargeNote(d string) bool {
	return d != "" && !strings.HasPrefix(d, "--- ")
}

// redact returns obj with any private key replaced by a placeholder.
func redact(obj model.Object) model.Object {
	if s, ok := obj.(*model.Secret); ok {
		return s.Redacted()
	}
	return obj
}

func objectJSON(obj model.Object) (json.RawMessage, error) {
	if obj == nil {
		return nil, nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", obj.Kind(), obj.ObjectMeta().Name, err)
	}
	return b, nil
}

// documentYAML renders obj as the document an operator would write (kind and
// name, no bookkeeping), so a diff shows changes of content only; the
// version and author are in the revision itself. nil renders as "".
func documentYAML(obj model.Object) (string, error) {
	if obj == nil {
		return "", nil
	}
	spec, err := encodeSpec(obj)
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(spec), &doc); err != nil {
		return "", fmt.Errorf("render %s %q: %w", obj.Kind(), obj.ObjectMeta().Name, err)
	}
	doc["kind"] = obj.Kind()
	doc["name"] = obj.ObjectMeta().Name
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("render %s %q: %w", obj.Kind(), obj.ObjectMeta().Name, err)
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return "", fmt.Errorf("render %s %q as YAML: %w", obj.Kind(), obj.ObjectMeta().Name, err)
	}
	return string(y), nil
}

func nullable(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func insertRevision(ctx context.Context, tx *sql.Tx, rev *Revision) error {
	err := tx.QueryRowContext(ctx, `INSERT INTO revisions (at, actor, kind, name, action, version, before, after, diff)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		unixNano(rev.At), rev.Actor, rev.Kind, rev.Name, rev.Action, rev.Version,
		nullable(rev.Before), nullable(rev.After), rev.Diff).Scan(&rev.ID)
	if err != nil {
		return fmt.Errorf("record revision of %s %q: %w", rev.Kind, rev.Name, err)
	}
	return nil
}

func listRevisions(ctx context.Context, q querier, f RevisionFilter) ([]Revision, int, error) {
	where, args := `1 = 1`, []any{}
	if f.Kind != "" {
		where += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if f.Name != "" {
		where += ` AND name = ?`
		args = append(args, f.Name)
	}
	var total int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM revisions WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count revisions: %w", err)
	}
	limit, offset := page(f.Limit, f.Offset)
	rows, err := q.QueryContext(ctx, `SELECT id, at, actor, kind, name, action, version FROM revisions
		WHERE `+where+` ORDER BY id DESC LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list revisions: %w", err)
	}
	defer rows.Close()
	var out []Revision
	for rows.Next() {
		var r Revision
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Actor, &r.Kind, &r.Name, &r.Action, &r.Version); err != nil {
			return nil, 0, fmt.Errorf("list revisions: %w", err)
		}
		r.At = fromUnixNano(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list revisions: %w", err)
	}
	return out, total, nil
}

func getRevision(ctx context.Context, q querier, keys *seal.Keyring, id int64) (Revision, error) {
	var r Revision
	var at int64
	var before, after sql.NullString
	err := q.QueryRowContext(ctx, `SELECT id, at, actor, kind, name, action, version, before, after, diff
		FROM revisions WHERE id = ?`, id).Scan(&r.ID, &at, &r.Actor, &r.Kind, &r.Name, &r.Action, &r.Version,
		&before, &after, &r.Diff)
	if errors.Is(err, sql.ErrNoRows) {
		return r, model.Errorf(model.ENOTFOUND, "revision %d not found", id)
	} else if err != nil {
		return r, fmt.Errorf("get revision %d: %w", id, err)
	}
	r.At = fromUnixNano(at)
	r.DiffTooLarge = isTooLargeNote(r.Diff)
	if before.Valid {
		r.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		r.After = json.RawMessage(after.String)
	}
	if r.Before, err = openObjectJSON(keys, r.Kind, r.Before); err != nil {
		return r, fmt.Errorf("revision %d: before: %w", id, err)
	}
	if r.After, err = openObjectJSON(keys, r.Kind, r.After); err != nil {
		return r, fmt.Errorf("revision %d: after: %w", id, err)
	}
	return r, nil
}
