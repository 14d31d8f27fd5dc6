package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(...any)          { r.failed = true }

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.txt")
	tests := []struct {
		name    string
		update  bool
		got     string
		wantErr bool
	}{
		{"missing file fails", false, "a", true},
		{"update writes it", true, "a", false},
		{"same passes", false, "a", false},
		{"different fails", false, "b", true},
	}
	for _, tc := range tests {
		*update = tc.update
		r := &recorder{TB: t}
		Check(r, path, []byte(tc.got))
		if r.failed != tc.wantErr {
			t.Errorf("%s: failed = %v, want %v", tc.name, r.failed, tc.wantErr)
		}
	}
	*update = false
	if b, _ := os.ReadFile(path); string(b) != "a" {
		t.Errorf("file holds %q, want a", b)
	}
}
