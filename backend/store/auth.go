package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

func checkRole(role string) error {
	switch role {
	case RoleViewer, RoleEditor, RoleAdmin:
		return nil
	}
	var p model.Problems
	p.Add("role", "must be viewer, editor or admin, not %q", role)
	return p.Err()
}

// isUnique reports whether err is a UNIQUE constraint violation.
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func createUser(ctx context.Context, tx *sql.Tx, now time.Time, actor string, u *User) error {
	var p model.Problems
	if strings.TrimSpace(u.Name) == "" {
		p.Add("name", "is required")
	}
	p.Merge("", checkRole(u.Role))
	if u.PasswordHash == "" {
		p.Add("password", "is required")
	}
	if err := p.Err(); err != nil {
		return err
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO users (name, role, password_hash, created_at)
		VALUES (?, ?, ?, ?) RETURNING id`, u.Name, u.Role, u.PasswordHash, unixNano(now)).Scan(&u.ID)
	if isUnique(err) {
		return model.Errorf(model.ECONFLICT, "user %q already exists", u.Name)
	} else if err != nil {
		return fmt.Errorf("create user %q: %w", u.Name, err)
	}
	u.CreatedAt = now
	return audit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: "user.create", Target: u.Name, Detail: "role " + u.Role})
}

const userColumns = `id, name, role, password_hash, created_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var at int64
	err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &at)
	u.CreatedAt = fromUnixNano(at)
	return u, err
}

func userByName(ctx context.Context, q querier, name string) (User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, model.Errorf(model.ENOTFOUND, "user %q not found", name)
	} else if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", name, err)
	}
	return u, nil
}

func listUsers(ctx context.Context, q querier) ([]User, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

func createToken(ctx context.Context, tx *sql.Tx, now time.Time, actor string, t *Token) error {
	var p model.Problems
	if strings.TrimSpace(t.Name) == "" {
		p.Add("name", "is required")
	}
	p.Merge("", checkRole(t.Role))
	if t.Hash == "" {
		p.Add("hash", "is required")
	}
	if err := p.Err(); err != nil {
		return err
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)
		RETURNING id`, t.Name, t.Role, t.Hash, unixNano(now)).Scan(&t.ID)
	if isUnique(err) {
		return model.Errorf(model.ECONFLICT, "a token with this hash already exists")
	} else if err != nil {
		return fmt.Errorf("create token %q: %w", t.Name, err)
	}
	t.CreatedAt, t.LastUsed = now, nil
	return audit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: "token.create", Target: t.Name,
		Detail: fmt.Sprintf("id %d, role %s", t.ID, t.Role)})
}

const tokenColumns = `id, name, role, hash, created_at, last_used`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var at int64
	var used sql.NullInt64
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &at, &used); err != nil {
		return t, err
	}
	t.CreatedAt = fromUnixNano(at)
	if used.Valid {
		u := fromUnixNano(used.Int64)
		t.LastUsed = &u
	}
	return t, nil
}

func tokenByHash(ctx context.Context, q querier, hash string) (Token, error) {
	t, err := scanToken(q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, model.Errorf(model.EUNAUTHORIZED, "invalid or revoked token")
	} else if err != nil {
		return Token{}, fmt.Errorf("get token: %w", err)
	}
	return t, nil
}

func listTokens(ctx context.Context, q querier) ([]Token, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.Hash = ""
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

func deleteToken(ctx context.Context, tx *sql.Tx, now time.Time, actor string, id int64) error {
	var name string
	err := tx.QueryRowContext(ctx, `DELETE FROM tokens WHERE id = ? RETURNING name`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Errorf(model.ENOTFOUND, "token %d not found", id)
	} else if err != nil {
		return fmt.Errorf("delete token %d: %w", id, err)
	}
	return audit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: "token.delete", Target: name,
		Detail: fmt.Sprintf("id %d", id)})
}

func createSession(ctx context.Context, tx *sql.Tx, now time.Time, sess Session) error {
	if sess.Hash == "" || sess.User == "" {
		return model.Errorf(model.EINVALID, "session needs a hash and a user")
	}
	if err := checkRole(sess.Role); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, unixNano(now)); err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, user, role, csrf, expires_at) VALUES (?, ?, ?, ?, ?)`,
		sess.Hash, sess.User, sess.Role, sess.CSRF, unixNano(sess.ExpiresAt))
	if isUnique(err) {
		return model.Errorf(model.ECONFLICT, "session already exists")
	} else if err != nil {
		return fmt.Errorf("create session for %q: %w", sess.User, err)
	}
	return nil
}

func sessionByHash(ctx context.Context, q querier, now time.Time, hash string) (Session, error) {
	var sess Session
	var exp int64
	err := q.QueryRowContext(ctx, `SELECT hash, user, role, csrf, expires_at FROM sessions
		WHERE hash = ? AND expires_at > ?`, hash, unixNano(now)).Scan(&sess.Hash, &sess.User, &sess.Role, &sess.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, model.Errorf(model.EUNAUTHORIZED, "session expired or unknown")
	} else if err != nil {
		return Session{}, fmt.Errorf("get session: %w", err)
	}
	sess.ExpiresAt = fromUnixNano(exp)
	return sess, nil
}

func audit(ctx context.Context, q querier, e AuditEntry) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`,
		unixNano(e.At), e.Actor, e.Action, e.Target, e.Detail); err != nil {
		return fmt.Errorf("audit %s %s: %w", e.Action, e.Target, err)
	}
	return nil
}

func listAudit(ctx context.Context, q querier, limit, offset int) ([]AuditEntry, error) {
	limit, offset = page(limit, offset)
	rows, err := q.QueryContext(ctx, `SELECT id, at, actor, action, target, detail FROM audit
		ORDER BY id DESC LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = fromUnixNano(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

func putSetting(ctx context.Context, tx *sql.Tx, keys *seal.Keyring, now time.Time, actor, key string, v any) error {
	if key == "" {
		return model.Errorf(model.EINVALID, "setting key is required")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode setting %q: %w", key, err)
	}
	sealed, err := sealText(keys, fmt.Sprintf("setting %q", key), b)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
			updated_by = excluded.updated_by`, key, sealed, unixNano(now), actor); err != nil {
		return fmt.Errorf("put setting %q: %w", key, err)
	}
	return audit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: "setting.put", Target: key})
}
