//go:build !windows

// Windows files have no POSIX mode bits, so there is nothing to refuse there.

package seal

import (
	"os"
	"strings"
	"testing"
)

func TestOpenRefusesReadableKeyFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(KeyFile(dir), mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v, want a refusal", mode, err)
		}
	}
}
