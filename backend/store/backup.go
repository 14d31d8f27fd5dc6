package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/routedeck/routedeck/backend/seal"
)

// A snapshot is a copy of the database file taken with VACUUM INTO inside
// one read transaction: every commit before it is in, none after it, while
// the store keeps serving (WAL readers do not block the writer). The rows
// are copied as stored, so secrets stay sealed under the master key, and
// the copy has no free pages, so values an earlier write replaced are not
// carried along.

// Snapshot writes a consistent copy of the database to path, which must
// not exist yet. It runs on a read connection and never waits for, or
// holds up, a writer.
func (s *Store) Snapshot(ctx context.Context, path string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer conn.Close()
	// The readers are query_only, which refuses VACUUM INTO although it
	// writes only to the new file. This connection is lifted out of it
	// for the copy, and dropped from the pool unless put back.
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only(0)`); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA query_only(1)`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return snapshot(ctx, conn, path)
}

// SnapshotFile writes a consistent copy of the SQLite file at dbPath to
// out, without the master key and without changing the file: a backup of
// a data directory, whether or not a server is using it.
func SnapshotFile(ctx context.Context, dbPath, out string) error {
	if strings.ContainsAny(dbPath, "?#") {
		return fmt.Errorf("snapshot: invalid database path %q", dbPath)
	}
	// Opening a missing file would create an empty database.
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	db, err := sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", dbPath, err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", dbPath, err)
	}
	defer conn.Close()
	return snapshot(ctx, conn, out)
}

func snapshot(ctx context.Context, conn *sql.Conn, path string) error {
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("snapshot: invalid path %q", path)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot: %s already exists", path)
	}
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("snapshot into %s: %w", path, err)
	}
	// VACUUM INTO does not sync what it wrote.
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("snapshot: sync %s: %w", path, err)
	}
	return nil
}

// openReadOnly opens a database file for queries only.
func openReadOnly(path string) (*sql.DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("invalid database path %q", path)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// SnapshotInfo describes a snapshot that passed InspectSnapshot.
type SnapshotInfo struct {
	// SchemaVersion is the newest migration applied to it.
	SchemaVersion int `json:"schemaVersion"`
	// KeyID names the master key its secrets are sealed with; empty when
	// the database predates sealing.
	KeyID string `json:"keyId,omitempty"`

	sealedCheck string
}

// InspectSnapshot checks that the database file at path is whole and that
// this version of routedeck can open it: PRAGMA integrity_check passes,
// every migration recorded in it is one this binary has under the same
// name (a snapshot of a newer version is refused, an older one is
// migrated when the store opens it), and it says which master key seals
// its secrets. It does not change the file.
func InspectSnapshot(ctx context.Context, path string) (SnapshotInfo, error) {
	var info SnapshotInfo
	if _, err := os.Stat(path); err != nil {
		return info, fmt.Errorf("inspect snapshot: %w", err)
	}
	db, err := openReadOnly(path)
	if err != nil {
		return info, fmt.Errorf("inspect snapshot %s: %w", path, err)
	}
	defer db.Close()
	if err := integrityCheck(ctx, db); err != nil {
		return info, fmt.Errorf("inspect snapshot %s: %w", path, err)
	}
	known, err := knownMigrations()
	if err != nil {
		return info, err
	}
	rows, err := db.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return info, fmt.Errorf("inspect snapshot %s: not a routedeck database: %w", path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return info, fmt.Errorf("inspect snapshot %s: %w", path, err)
		}
		switch want, ok := known[v]; {
		case !ok:
			problems = append(problems, fmt.Sprintf("migration %d (%s) is unknown to this version of routedeck: the backup was made by a newer one", v, name))
		case want != name:
			problems = append(problems, fmt.Sprintf("migration %d is %s here but %s in the backup", v, want, name))
		}
		info.SchemaVersion = max(info.SchemaVersion, v)
	}
	if err := rows.Err(); err != nil {
		return info, fmt.Errorf("inspect snapshot %s: %w", path, err)
	}
	if info.SchemaVersion == 0 {
		problems = append(problems, "no migration recorded: not a routedeck database")
	}
	if len(problems) > 0 {
		return info, fmt.Errorf("inspect snapshot %s: %s", path, strings.Join(problems, "; "))
	}
	err = db.QueryRowContext(ctx, `SELECT sealed FROM seal_check WHERE id = 1`).Scan(&info.sealedCheck)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil && strings.Contains(err.Error(), "no such table"):
	case err != nil:
		return info, fmt.Errorf("inspect snapshot %s: read seal check: %w", path, err)
	default:
		if info.KeyID, err = seal.KeyID(info.sealedCheck); err != nil {
			return info, fmt.Errorf("inspect snapshot %s: seal check: %w", path, err)
		}
	}
	return info, nil
}

// CheckKeys reports whether keys open the snapshot's secrets, with the
// same message as opening the store would give.
func (info SnapshotInfo) CheckKeys(keys *seal.Keyring) error {
	if info.sealedCheck == "" {
		return nil // sealed with keys when the store opens it
	}
	return (&Store{keys: keys}).openCheck(info.sealedCheck)
}

// CheckIntegrity runs PRAGMA integrity_check on the SQLite file at path
// (the store's or another, such as the request log's), read-only, and
// returns its findings as an error.
func CheckIntegrity(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	db, err := openReadOnly(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	if err := integrityCheck(ctx, db); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	return nil
}

func integrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		if line != "ok" {
			found = append(found, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(found) > 0 {
		if len(found) > 5 {
			found = append(found[:5], fmt.Sprintf("and %d more", len(found)-5))
		}
		return fmt.Errorf("integrity check failed: %s", strings.Join(found, "; "))
	}
	return nil
}

// knownMigrations maps the number of every embedded migration to its file
// name, as schema_migrations records it.
func knownMigrations() (map[int]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	known := map[int]string{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		if v, err := strconv.Atoi(num); err == nil {
			known[v] = base
		}
	}
	return known, nil
}
