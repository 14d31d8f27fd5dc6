package store

import (
	"context"
	"database/sql"
	"fmt"
)

// LatestVersion returns the number of the gateway's newest published
// version, 0 when it was never published. It reads no workspace, so a
// caller that keeps versions by number can ask it on every request.
func (s *Store) LatestVersion(ctx context.Context, gateway string) (int64, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM published WHERE gateway = ?`, gateway).Scan(&v); err != nil {
		return 0, fmt.Errorf("latest version of %q: %w", gateway, err)
	}
	return v.Int64, nil
}
