package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies, in order, every embedded migration not yet recorded in
// schema_migrations, each in its own transaction together with its record.
// BEGIN IMMEDIATE on the writer makes two processes opening a new file at
// once take turns instead of both creating the tables.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	// Two files with one number would leave the second unapplied for
	// good: the number alone marks a migration done. Branches that each
	// add "the next" migration meet here.
	seen := map[int]string{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		if v, err := strconv.Atoi(num); err == nil {
			if other, dup := seen[v]; dup {
				return fmt.Errorf("migrations %s and %s share number %d", other, base, v)
			}
			seen[v] = base
		}
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number and _", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", base, err)
		}
		if err := s.applyMigration(ctx, version, base, string(body)); err != nil {
			return err
		}
	}
	return nil
}

// migrationSteps are the parts of migrations SQL cannot do, run after the
// migration's SQL in its transaction, by migration number.
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{
	7: migrateWholeVersions,
}

func (s *Store) applyMigration(ctx context.Context, version int, name, body string) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migration %s: create schema_migrations: %w", name, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if step := migrationSteps[version]; step != nil {
		if err := step(ctx, tx); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		version, name, unixNano(s.now())); err != nil {
		return fmt.Errorf("migration %s: record: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", name, err)
	}
	return nil
}

// querier is what the helpers need from a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Times are stored as integer nanoseconds since the epoch, UTC: they sort,
// compare and round-trip exactly, whatever the driver's time format.
func unixNano(t time.Time) int64 { return t.UnixNano() }

func fromUnixNano(n int64) time.Time { return time.Unix(0, n).UTC() }

// Page sizes of every list: the default when a caller asks for none, and
// the most one page holds (a page is built in memory and sent whole).
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// page applies the default and the cap of list limits.
func page(limit, offset int) (int, int) {
	switch {
	case limit <= 0:
		limit = DefaultPageSize
	case limit > MaxPageSize:
		limit = MaxPageSize
	}
	return limit, max(offset, 0)
}
