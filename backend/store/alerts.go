package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
)

// maxIncidentsPerRule bounds a rule's history: the oldest incidents go
// when a new one starts past it.
const maxIncidentsPerRule = 1000

var _ alert.Store = (*Store)(nil)

// AlertRules returns every alert rule, by name.
func (s *Store) AlertRules(ctx context.Context) ([]alert.Rule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, version, spec, updated_at, updated_by FROM alert_rules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	defer rows.Close()
	out := []alert.Rule{}
	for rows.Next() {
		r, err := scanAlertRule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	return out, nil
}

// AlertRule returns the alert rule name, or ENOTFOUND.
func (s *Store) AlertRule(ctx context.Context, name string) (alert.Rule, error) {
	r, err := scanAlertRule(s.db.QueryRowContext(ctx, `SELECT name, version, spec, updated_at, updated_by FROM alert_rules WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, model.Errorf(model.ENOTFOUND, "alert rule %q not found", name)
	}
	return r, err
}

func scanAlertRule(row interface{ Scan(...any) error }) (alert.Rule, error) {
	var r alert.Rule
	var name, spec, by string
	var version, at int64
	if err := row.Scan(&name, &version, &spec, &at, &by); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, err
		}
		return r, fmt.Errorf("read alert rule: %w", err)
	}
	if err := json.Unmarshal([]byte(spec), &r); err != nil {
		return r, fmt.Errorf("decode alert rule %q: %w", name, err)
	}
	r.Name, r.Version, r.UpdatedAt, r.UpdatedBy = name, version, fromUnixNano(at), by
	return r, nil
}

// CreateAlertRule stores a new rule with version 1 (ECONFLICT if the name
// is taken); UpdateAlertRule replaces one whose stored version r.Version
// is. Both check that the gateway (and rule) exist in the draft and the
// notifiers exist, and fill in r's version and change stamps.
func (s *Store) CreateAlertRule(ctx context.Context, actor string, r *alert.Rule) error {
	return s.putAlertRule(ctx, actor, r, true)
}

// UpdateAlertRule: see CreateAlertRule.
func (s *Store) UpdateAlertRule(ctx context.Context, actor string, r *alert.Rule) error {
	return s.putAlertRule(ctx, actor, r, false)
}

func (s *Store) putAlertRule(ctx context.Context, actor string, r *alert.Rule, create bool) error {
	return s.alertWrite(ctx, func(tx *sql.Tx, now time.Time) (string, error) {
		var p model.Problems
		if !exists(ctx, tx, `SELECT 1 FROM objects WHERE kind = 'Gateway' AND name = ?`, r.Gateway) {
			p.Add("gateway", "no gateway %q", r.Gateway)
		} else if r.Rule != "" && !exists(ctx, tx, `SELECT 1 FROM objects WHERE kind = 'Route' AND name = ? AND gateway = ?`, r.Rule, r.Gateway) {
			p.Add("rule", "gateway %q has no rule %q", r.Gateway, r.Rule)
		}
		for i, n := range r.Notifiers {
			if !exists(ctx, tx, `SELECT 1 FROM alert_notifiers WHERE name = ?`, n) {
				p.Add(fmt.Sprintf("notifiers[%d]", i), "no notifier %q", n)
			}
		}
		if err := p.Err(); err != nil {
			return "", err
		}
		version, err := nextVersion(ctx, tx, "alert_rules", "alert rule", r.Name, r.Version, create)
		if err != nil {
			return "", err
		}
		if create {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM alert_rules`).Scan(&n); err != nil {
				return "", err
			}
			if n >= alert.MaxRules {
				return "", model.Errorf(model.EINVALID, "at most %d alert rules", alert.MaxRules)
			}
		}
		r.Version, r.UpdatedAt, r.UpdatedBy = version, now, actor
		spec, err := json.Marshal(r)
		if err != nil {
			return "", err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_rules (name, version, spec, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET version = excluded.version, spec = excluded.spec,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			r.Name, version, string(spec), unixNano(now), actor); err != nil {
			return "", fmt.Errorf("write alert rule %q: %w", r.Name, err)
		}
		if create {
			return "alert-rule.create", nil
		}
		return "alert-rule.update", nil
	}, actor, r.Name)
}

// DeleteAlertRule removes a rule and its history; version 0 skips the
// version check.
func (s *Store) DeleteAlertRule(ctx context.Context, actor, name string, version int64) error {
	return s.alertWrite(ctx, func(tx *sql.Tx, _ time.Time) (string, error) {
		if err := checkVersion(ctx, tx, "alert_rules", "alert rule", name, version); err != nil {
			return "", err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM alert_rules WHERE name = ?`, name); err != nil {
			return "", fmt.Errorf("delete alert rule %q: %w", name, err)
		}
		return "alert-rule.delete", nil
	}, actor, name)
}

// AlertNotifiers returns every notifier, by name, credentials open.
func (s *Store) AlertNotifiers(ctx context.Context) ([]alert.Notifier, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, version, spec, secrets, updated_at, updated_by FROM alert_notifiers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list notifiers: %w", err)
	}
	defer rows.Close()
	out := []alert.Notifier{}
	for rows.Next() {
		n, err := s.scanNotifier(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifiers: %w", err)
	}
	return out, nil
}

// AlertNotifier returns the notifier name, credentials open, or
// ENOTFOUND.
func (s *Store) AlertNotifier(ctx context.Context, name string) (alert.Notifier, error) {
	n, err := s.scanNotifier(s.db.QueryRowContext(ctx, `SELECT name, version, spec, secrets, updated_at, updated_by
		FROM alert_notifiers WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return n, model.Errorf(model.ENOTFOUND, "notifier %q not found", name)
	}
	return n, err
}

func (s *Store) scanNotifier(row interface{ Scan(...any) error }) (alert.Notifier, error) {
	var n alert.Notifier
	var name, spec, sealed, by string
	var version, at int64
	if err := row.Scan(&name, &version, &spec, &sealed, &at, &by); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return n, err
		}
		return n, fmt.Errorf("read notifier: %w", err)
	}
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		return n, fmt.Errorf("decode notifier %q: %w", name, err)
	}
	plain, err := openText(s.keys, "notifier "+name, sealed)
	if err != nil {
		return n, err
	}
	var sec alert.Secrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return n, fmt.Errorf("decode notifier %q credentials: %w", name, err)
	}
	n.SetSecrets(sec)
	n.Name, n.Version, n.UpdatedAt, n.UpdatedBy = name, version, fromUnixNano(at), by
	return n, nil
}

// CreateAlertNotifier stores a new notifier with version 1;
// UpdateAlertNotifier replaces one whose stored version n.Version is. n
// carries its credentials in clear (the caller decides which to keep);
// they are sealed here.
func (s *Store) CreateAlertNotifier(ctx context.Context, actor string, n *alert.Notifier) error {
	return s.putNotifier(ctx, actor, n, true)
}

// UpdateAlertNotifier: see CreateAlertNotifier.
func (s *Store) UpdateAlertNotifier(ctx context.Context, actor string, n *alert.Notifier) error {
	return s.putNotifier(ctx, actor, n, false)
}

func (s *Store) putNotifier(ctx context.Context, actor string, n *alert.Notifier, create bool) error {
	return s.alertWrite(ctx, func(tx *sql.Tx, now time.Time) (string, error) {
		version, err := nextVersion(ctx, tx, "alert_notifiers", "notifier", n.Name, n.Version, create)
		if err != nil {
			return "", err
		}
		if create {
			var count int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM alert_notifiers`).Scan(&count); err != nil {
				return "", err
			}
			if count >= alert.MaxNotifiers {
				return "", model.Errorf(model.EINVALID, "at most %d notifiers", alert.MaxNotifiers)
			}
		}
		n.Version, n.UpdatedAt, n.UpdatedBy = version, now, actor
		spec, sealed, err := s.encodeNotifier(n)
		if err != nil {
			return "", err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_notifiers (name, version, spec, secrets, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET version = excluded.version, spec = excluded.spec, secrets = excluded.secrets,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			n.Name, version, spec, sealed, unixNano(now), actor); err != nil {
			return "", fmt.Errorf("write notifier %q: %w", n.Name, err)
		}
		if create {
			return "notifier.create", nil
		}
		return "notifier.update", nil
	}, actor, n.Name)
}

// encodeNotifier returns n's spec column (no credentials: they are
// json:"-") and its sealed credentials.
func (s *Store) encodeNotifier(n *alert.Notifier) (spec, sealed string, err error) {
	n.SetSecrets(n.Secrets()) // the flags and the origin follow the values
	b, err := json.Marshal(n)
	if err != nil {
		return "", "", err
	}
	plain, err := json.Marshal(n.Secrets())
	if err != nil {
		return "", "", err
	}
	sealed, err = sealText(s.keys, "notifier "+n.Name, plain)
	return string(b), sealed, err
}

// DeleteAlertNotifier removes a notifier no rule uses (EINVALID naming
// the rules otherwise); version 0 skips the version check.
func (s *Store) DeleteAlertNotifier(ctx context.Context, actor, name string, version int64) error {
	return s.alertWrite(ctx, func(tx *sql.Tx, _ time.Time) (string, error) {
		if err := checkVersion(ctx, tx, "alert_notifiers", "notifier", name, version); err != nil {
			return "", err
		}
		var users []string
		if err := collectArgs(ctx, tx, `SELECT alert_rules.name FROM alert_rules, json_each(alert_rules.spec, '$.notifiers')
			WHERE json_each.value = ? ORDER BY alert_rules.name`, func(r *sql.Rows) error {
			users = append(users, "")
			return r.Scan(&users[len(users)-1])
		}, name); err != nil {
			return "", fmt.Errorf("delete notifier %q: %w", name, err)
		}
		if len(users) > 0 {
			return "", model.Errorf(model.EINVALID, "notifier %q is used by alert rules %q: remove it from them first", name, users)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM alert_notifiers WHERE name = ?`, name); err != nil {
			return "", fmt.Errorf("delete notifier %q: %w", name, err)
		}
		return "notifier.delete", nil
	}, actor, name)
}

// alertWrite runs write in a transaction, audits what it says it did and,
// once committed, tells the evaluator.
func (s *Store) alertWrite(ctx context.Context, write func(tx *sql.Tx, now time.Time) (action string, err error), actor, target string) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	action, err := write(tx, now)
	if err != nil {
		return err
	}
	if err := audit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: action, Target: target}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s %q: commit: %w", action, target, err)
	}
	s.events.Alerts.Publish(events.AlertsChanged{})
	return nil
}

// nextVersion checks a write's version against the stored one and
// returns the version the write stores.
func nextVersion(ctx context.Context, tx *sql.Tx, table, what, name string, version int64, create bool) (int64, error) {
	var stored int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM `+table+` WHERE name = ?`, name).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows) && create:
		return 1, nil
	case errors.Is(err, sql.ErrNoRows):
		return 0, model.Errorf(model.ENOTFOUND, "%s %q not found", what, name)
	case err != nil:
		return 0, fmt.Errorf("read %s %q: %w", what, name, err)
	case create:
		return 0, model.Errorf(model.ECONFLICT, "%s %q already exists", what, name)
	case version != stored:
		return 0, model.Errorf(model.ECONFLICT, "%s %q is at version %d, not %d: someone changed it; reload and apply your change again", what, name, stored, version)
	}
	return stored + 1, nil
}

func checkVersion(ctx context.Context, tx *sql.Tx, table, what, name string, version int64) error {
	var stored int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM `+table+` WHERE name = ?`, name).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return model.Errorf(model.ENOTFOUND, "%s %q not found", what, name)
	case err != nil:
		return fmt.Errorf("read %s %q: %w", what, name, err)
	case version != 0 && version != stored:
		return model.Errorf(model.ECONFLICT, "%s %q is at version %d, not %d: someone changed it; reload and try again", what, name, stored, version)
	}
	return nil
}

func exists(ctx context.Context, tx *sql.Tx, query string, args ...any) bool {
	var one int
	return tx.QueryRowContext(ctx, query, args...).Scan(&one) == nil
}

// OpenIncidents returns the incidents not resolved yet.
func (s *Store) OpenIncidents(ctx context.Context) ([]alert.Incident, error) {
	return s.incidents(ctx, `WHERE resolved_at IS NULL ORDER BY id`)
}

// Incidents returns up to limit incidents, newest first, of rule (every
// rule when empty), older than incident before when before > 0, with
// their deliveries.
func (s *Store) Incidents(ctx context.Context, rule string, before int64, limit int) ([]alert.Incident, error) {
	limit, _ = page(limit, 0)
	if before <= 0 {
		before = 1<<63 - 1
	}
	if rule != "" {
		return s.incidents(ctx, `WHERE rule = ? AND id < ? ORDER BY id DESC LIMIT ?`, rule, before, limit)
	}
	return s.incidents(ctx, `WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
}

func (s *Store) incidents(ctx context.Context, where string, args ...any) ([]alert.Incident, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer tx.Rollback()
	out := []alert.Incident{}
	byID := map[int64]int{}
	err = collectArgs(ctx, tx, `SELECT id, rule, summary, started_at, value, resolved_at, resolved_value, note FROM alert_incidents `+where,
		func(r *sql.Rows) error {
			var in alert.Incident
			var started int64
			var resolved sql.NullInt64
			var rv sql.NullFloat64
			if err := r.Scan(&in.ID, &in.Rule, &in.Summary, &started, &in.Value, &resolved, &rv, &in.Note); err != nil {
				return err
			}
			in.StartedAt = fromUnixNano(started)
			if resolved.Valid {
				t := fromUnixNano(resolved.Int64)
				in.ResolvedAt = &t
			}
			if rv.Valid {
				in.ResolvedValue = &rv.Float64
			}
			in.Deliveries = []alert.Delivery{}
			byID[in.ID] = len(out)
			out = append(out, in)
			return nil
		}, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	err = collectArgs(ctx, tx, `SELECT incident, notifier, event, at, ok, attempts, error FROM alert_deliveries
		WHERE incident IN (SELECT id FROM alert_incidents `+where+`) ORDER BY id`, func(r *sql.Rows) error {
		var id, at int64
		var d alert.Delivery
		if err := r.Scan(&id, &d.Notifier, &d.Event, &at, &d.OK, &d.Attempts, &d.Error); err != nil {
			return err
		}
		if i, ok := byID[id]; ok {
			d.At = fromUnixNano(at)
			out[i].Deliveries = append(out[i].Deliveries, d)
		}
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// StartIncident records that rule fired, dropping its oldest incidents
// past maxIncidentsPerRule.
func (s *Store) StartIncident(ctx context.Context, rule string, at time.Time, value float64, summary string) (int64, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("start incident: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO alert_incidents (rule, summary, started_at, value) VALUES (?, ?, ?, ?)`,
		rule, summary, unixNano(at), value)
	switch {
	case isUnique(err):
		return 0, model.Errorf(model.ECONFLICT, "alert rule %q already has an open incident", rule)
	case err != nil && isForeignKey(err):
		return 0, model.Errorf(model.ENOTFOUND, "alert rule %q not found", rule)
	case err != nil:
		return 0, fmt.Errorf("start incident of %q: %w", rule, err)
	}
	id, _ := res.LastInsertId()
	if _, err := tx.ExecContext(ctx, `DELETE FROM alert_incidents WHERE rule = ? AND id <= (
		SELECT id FROM alert_incidents WHERE rule = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, rule, rule, maxIncidentsPerRule); err != nil {
		return 0, fmt.Errorf("trim incidents of %q: %w", rule, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("start incident of %q: commit: %w", rule, err)
	}
	return id, nil
}

// ResolveIncident ends an open incident.
func (s *Store) ResolveIncident(ctx context.Context, id int64, at time.Time, value *float64, note string) error {
	res, err := s.wdb.ExecContext(ctx, `UPDATE alert_incidents SET resolved_at = ?, resolved_value = ?, note = ?
		WHERE id = ? AND resolved_at IS NULL`, unixNano(at), value, note, id)
	if err != nil {
		return fmt.Errorf("resolve incident %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return model.Errorf(model.ENOTFOUND, "no open incident %d", id)
	}
	return nil
}

// RecordDelivery keeps the outcome of a notification with its incident
// (a deleted incident's is dropped).
func (s *Store) RecordDelivery(ctx context.Context, incident int64, d alert.Delivery) error {
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO alert_deliveries (incident, notifier, event, at, ok, attempts, error)
		SELECT id, ?, ?, ?, ?, ?, ? FROM alert_incidents WHERE id = ?`,
		d.Notifier, d.Event, unixNano(d.At), d.OK, d.Attempts, d.Error, incident)
	if err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	return nil
}

// collectArgs is collect with bound parameters.
func collectArgs(ctx context.Context, tx *sql.Tx, query string, scan func(*sql.Rows) error, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
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

func isForeignKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}
