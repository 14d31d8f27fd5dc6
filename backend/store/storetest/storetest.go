// Package storetest opens real, throwaway stores for tests of packages built
// on backend/store.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
)

// MustOpen opens a store on a new database file in t's temporary directory,
// with a master key of its own, and closes it when the test ends.
func MustOpen(tb testing.TB) *store.Store {
	tb.Helper()
	dir := tb.TempDir()
	return MustOpenAt(tb, filepath.Join(dir, "routedeck.db"), Keys(tb, dir))
}

// MustOpenAt opens the store at path with keys and closes it when the test
// ends.
func MustOpenAt(tb testing.TB, path string, keys *seal.Keyring) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), path, keys)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

// Keys returns the master key of data directory dir, created on first use,
// as a server started there without ROUTEDECK_MASTER_KEY would have it:
// every store opened on a file in dir shares it.
func Keys(tb testing.TB, dir string) *seal.Keyring {
	tb.Helper()
	k, err := seal.Open(dir, func(string) string { return "" })
	if err != nil {
		tb.Fatalf("open master key: %v", err)
	}
	return k
}
