// Package storetest opens real, throwaway stores for tests of packages built
// on backend/store.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/routedeck/routedeck/backend/store"
)

// MustOpen opens a store on a new database file in t's temporary directory
// and closes it when the test ends.
func MustOpen(tb testing.TB) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "routedeck.db"))
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
