package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/rules"
)

// writeFile writes body to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadPrinted reads documents a command printed as a manifest file with
// its conditions parsed, failing the test if they do not load.
func loadPrinted(t *testing.T, out string) *manifest.File {
	t.Helper()
	f, err := manifest.Load("out.yaml", []byte(out))
	if err != nil {
		t.Fatalf("printed documents do not load: %v\n%s", err, out)
	}
	if err := rules.ResolveWorkspace(&f.Workspace); err != nil {
		t.Fatalf("printed conditions do not parse: %v\n%s", err, out)
	}
	return f
}
