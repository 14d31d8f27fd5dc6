package store

import "testing"

// RawWriteForTest runs SQL on the writer behind the store's back, to set up
// states the API cannot produce.
func RawWriteForTest(t testing.TB, s *Store, query string, args ...any) int64 {
	t.Helper()
	res, err := s.wdb.Exec(query, args...)
	if err != nil {
		t.Fatalf("raw write: %v", err)
	}
	// The cached draft is keyed by generation; a write outside the store
	// must move it like any other writer.
	if _, err := s.wdb.Exec(`UPDATE draft_generation SET generation = generation + 1`); err != nil {
		t.Fatalf("raw write: %v", err)
	}
	n, _ := res.RowsAffected()
	return n
}
