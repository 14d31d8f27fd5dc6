package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// KindRouteTest is the revision kind of route test writes.
const KindRouteTest = "RouteTest"

// RouteTest is a saved route test as the store keeps it. The store does not
// interpret the test (backend/routetest does): Spec is its JSON without name,
// gateway and version, kept as written.
type RouteTest struct {
	Name      string          `json:"name"`
	Gateway   string          `json:"gateway"`
	Version   int64           `json:"version"`
	Spec      json.RawMessage `json:"spec"`
	UpdatedAt time.Time       `json:"updatedAt"`
	UpdatedBy string          `json:"updatedBy"`
}

// ListRouteTests returns the tests of a gateway ("" for every gateway),
// sorted by gateway and name.
func (s *Store) ListRouteTests(ctx context.Context, gateway string) ([]RouteTest, error) {
	query := `SELECT name, gateway, version, spec, updated_at, updated_by FROM route_tests`
	var args []any
	if gateway != "" {
		query += ` WHERE gateway = ?`
		args = append(args, gateway)
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY gateway, name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list route tests: %w", err)
	}
	defer rows.Close()
	var out []RouteTest
	for rows.Next() {
		t, err := scanRouteTest(s.keys, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list route tests: %w", err)
	}
	return out, nil
}

// GetRouteTest returns one test or ENOTFOUND.
func (s *Store) GetRouteTest(ctx context.Context, name string) (RouteTest, error) {
	return getRouteTest(ctx, s.db, s.keys, name)
}

// CreateRouteTest stores a new test with version 1 (ECONFLICT if the name
// is taken) and records a revision. t's Version and Updated* are filled in.
func (s *Store) CreateRouteTest(ctx context.Context, actor string, t *RouteTest) error {
	return s.writeRouteTest(ctx, actor, "create", t.Name, func(tx *sql.Tx, now time.Time) (before, after *RouteTest, err error) {
		if _, err := getRouteTest(ctx, tx, s.keys, t.Name); err == nil {
			return nil, nil, model.Errorf(model.ECONFLICT, "route test %q already exists", t.Name)
		} else if model.ErrorCode(err) != model.ENOTFOUND {
			return nil, nil, err
		}
		spec, err := sealText(s.keys, fmt.Sprintf("route test %q", t.Name), t.Spec)
		if err != nil {
			return nil, nil, err
		}
		t.Version, t.UpdatedAt, t.UpdatedBy = 1, now, actor
		if _, err := tx.ExecContext(ctx, `INSERT INTO route_tests (name, gateway, version, spec, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?)`, t.Name, t.Gateway, t.Version, spec, unixNano(now), actor); err != nil {
			return nil, nil, fmt.Errorf("insert route test %q: %w", t.Name, err)
		}
		return nil, t, nil
	})
}

// UpdateRouteTest replaces a test. t.Version must be the stored version
// (ECONFLICT otherwise, nothing written); it is incremented on success.
func (s *Store) UpdateRouteTest(ctx context.Context, actor string, t *RouteTest) error {
	return s.writeRouteTest(ctx, actor, "update", t.Name, func(tx *sql.Tx, now time.Time) (before, after *RouteTest, err error) {
		old, err := getRouteTest(ctx, tx, s.keys, t.Name)
		if err != nil {
			return nil, nil, err
		}
		if old.Version != t.Version {
			return nil, nil, model.Errorf(model.ECONFLICT, "route test %q is at version %d, not %d: reload and retry", t.Name, old.Version, t.Version)
		}
		spec, err := sealText(s.keys, fmt.Sprintf("route test %q", t.Name), t.Spec)
		if err != nil {
			return nil, nil, err
		}
		t.Version, t.UpdatedAt, t.UpdatedBy = old.Version+1, now, actor
		if _, err := tx.ExecContext(ctx, `UPDATE route_tests SET gateway = ?, version = ?, spec = ?, updated_at = ?, updated_by = ?
			WHERE name = ?`, t.Gateway, t.Version, spec, unixNano(now), actor, t.Name); err != nil {
			return nil, nil, fmt.Errorf("update route test %q: %w", t.Name, err)
		}
		return &old, t, nil
	})
}

// DeleteRouteTest removes a test. version must be the stored version
// (ECONFLICT otherwise); 0 skips the check.
func (s *Store) DeleteRouteTest(ctx context.Context, actor, name string, version int64) error {
	return s.writeRouteTest(ctx, actor, "delete", name, func(tx *sql.Tx, _ time.Time) (before, after *RouteTest, err error) {
		old, err := getRouteTest(ctx, tx, s.keys, name)
		if err != nil {
			return nil, nil, err
		}
		if version != 0 && old.Version != version {
			return nil, nil, model.Errorf(model.ECONFLICT, "route test %q is at version %d, not %d: reload and retry", name, old.Version, version)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM route_tests WHERE name = ?`, name); err != nil {
			return nil, nil, fmt.Errorf("delete route test %q: %w", name, err)
		}
		return &old, nil, nil
	})
}

// writeRouteTest runs change in a write transaction and records its
// revision and audit entry in the same transaction.
func (s *Store) writeRouteTest(ctx context.Context, actor, action, name string,
	change func(tx *sql.Tx, now time.Time) (before, after *RouteTest, err error)) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s route test %q: %w", action, name, err)
	}
	defer tx.Rollback()
	now := s.now()
	before, after, err := change(tx, now)
	if err != nil {
		return err
	}
	rev, err := routeTestRevision(now, actor, action, before, after)
	if err != nil {
		return err
	}
	if err := s.sealRouteTestRevision(ctx, &rev); err != nil {
		return err
	}
	if err := insertRevision(ctx, tx, &rev); err != nil {
		return err
	}
	if err := audit(ctx, tx, AuditEntry{At: now, Actor: rev.Actor, Action: "test." + action, Target: name,
		Detail: fmt.Sprintf("version %d", rev.Version)}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s route test %q: commit: %w", action, name, err)
	}
	return nil
}

func routeTestRevision(now time.Time, actor, action string, before, after *RouteTest) (Revision, error) {
	t := after
	if t == nil {
		t = before
	}
	rev := Revision{At: now, Actor: actor, Kind: KindRouteTest, Name: t.Name, Action: action, Version: t.Version}
	var beforeYAML, afterYAML string
	var err error
	if before != nil {
		if rev.Before, beforeYAML, err = routeTestDocument(before); err != nil {
			return rev, err
		}
	}
	if after != nil {
		if rev.After, afterYAML, err = routeTestDocument(after); err != nil {
			return rev, err
		}
	}
	rev.Diff = routeTestDiff(t.Name, beforeYAML, afterYAML)
	rev.DiffTooLarge = isTooLargeNote(rev.Diff)
	return rev, nil
}

func routeTestDiff(name, beforeYAML, afterYAML string) string {
	return unifiedOrNote(KindRouteTest+"/"+name, beforeYAML, afterYAML)
}

// routeTestYAML renders the JSON a revision records of a test (nil: none)
// as routeTestDocument does.
func routeTestYAML(js []byte) (string, error) {
	if js == nil {
		return "", nil
	}
	doc := map[string]any{}
	if err := json.Unmarshal(js, &doc); err != nil {
		return "", fmt.Errorf("decode route test: %w", err)
	}
	doc["kind"] = KindRouteTest
	withKind, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode route test: %w", err)
	}
	y, err := yaml.JSONToYAML(withKind)
	if err != nil {
		return "", fmt.Errorf("render route test as YAML: %w", err)
	}
	return string(y), nil
}

// routeTestDocument renders a test as JSON (for the revision) and as the
// YAML document an operator writes (for the diff): kind, name, gateway and
// the spec's fields.
func routeTestDocument(t *RouteTest) (json.RawMessage, string, error) {
	doc := map[string]any{}
	if len(t.Spec) > 0 {
		if err := json.Unmarshal(t.Spec, &doc); err != nil {
			return nil, "", fmt.Errorf("decode route test %q: %w", t.Name, err)
		}
	}
	doc["name"], doc["gateway"] = t.Name, t.Gateway
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, "", fmt.Errorf("encode route test %q: %w", t.Name, err)
	}
	doc["kind"] = KindRouteTest
	withKind, err := json.Marshal(doc)
	if err != nil {
		return nil, "", fmt.Errorf("encode route test %q: %w", t.Name, err)
	}
	y, err := yaml.JSONToYAML(withKind)
	if err != nil {
		return nil, "", fmt.Errorf("render route test %q as YAML: %w", t.Name, err)
	}
	return js, string(y), nil
}

func getRouteTest(ctx context.Context, q querier, keys *seal.Keyring, name string) (RouteTest, error) {
	row := q.QueryRowContext(ctx, `SELECT name, gateway, version, spec, updated_at, updated_by FROM route_tests WHERE name = ?`, name)
	t, err := scanRouteTest(keys, row)
	if errors.Is(err, sql.ErrNoRows) {
		return RouteTest{}, model.Errorf(model.ENOTFOUND, "route test %q not found", name)
	}
	return t, err
}

func scanRouteTest(keys *seal.Keyring, row interface{ Scan(...any) error }) (RouteTest, error) {
	var t RouteTest
	var spec string
	var at int64
	if err := row.Scan(&t.Name, &t.Gateway, &t.Version, &spec, &at, &t.UpdatedBy); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return t, err
		}
		return t, fmt.Errorf("read route test: %w", err)
	}
	plain, err := openText(keys, fmt.Sprintf("route test %q", t.Name), spec)
	if err != nil {
		return t, err
	}
	t.Spec, t.UpdatedAt = json.RawMessage(plain), fromUnixNano(at)
	return t, nil
}

// sealRouteTestRevision seals the tests a revision records, whole, and
// takes out of its diff the credentials of the draft a test request may
// carry (an API key header, a basic-auth Authorization header): a route
// test is the natural place to try a route's credentials, and the store
// cannot tell which of its fields hold one.
func (s *Store) sealRouteTestRevision(ctx context.Context, rev *Revision) error {
	for _, side := range []*json.RawMessage{&rev.Before, &rev.After} {
		if *side == nil {
			continue
		}
		sealed, err := sealText(s.keys, fmt.Sprintf("route test %q", rev.Name), *side)
		if err != nil {
			return err
		}
		*side = json.RawMessage(sealed)
	}
	d, err := s.scrubSecrets(ctx, rev.Diff)
	if err != nil {
		return err
	}
	rev.Diff = d
	return nil
}
