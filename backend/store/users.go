package store

import (
	"context"
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
)

// SetUserPassword replaces a user's password hash and ends the user's
// sessions, so a reset also logs out whoever knew the old password.
func (s *Store) SetUserPassword(ctx context.Context, actor, name, hash string) error {
	if hash == "" {
		return &model.Error{Code: model.EINVALID, Message: "invalid password", Fields: []model.FieldError{{Field: "password", Message: "is required"}}}
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE name = ?`, hash, name)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return model.Errorf(model.ENOTFOUND, "user %q not found", name)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, name); err != nil {
		return fmt.Errorf("end sessions of %q: %w", name, err)
	}
	if err := audit(ctx, tx, AuditEntry{At: s.now(), Actor: actor, Action: "user.set-password", Target: name}); err != nil {
		return err
	}
	return tx.Commit()
}

// DeleteUser removes a user and ends their sessions. The last admin cannot
// be deleted: nobody could manage users afterwards.
func (s *Store) DeleteUser(ctx context.Context, actor, name string) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	defer tx.Rollback()
	u, err := userByName(ctx, tx, name)
	if err != nil {
		return err
	}
	if u.Role == RoleAdmin {
		var admins int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = ?`, RoleAdmin).Scan(&admins); err != nil {
			return fmt.Errorf("delete user %q: %w", name, err)
		}
		if admins == 1 {
			return model.Errorf(model.ECONFLICT, "user %q is the last admin: add another admin first", name)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name); err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, name); err != nil {
		return fmt.Errorf("end sessions of %q: %w", name, err)
	}
	if err := audit(ctx, tx, AuditEntry{At: s.now(), Actor: actor, Action: "user.delete", Target: name, Detail: "role " + u.Role}); err != nil {
		return err
	}
	return tx.Commit()
}
