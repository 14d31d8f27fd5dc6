package cli

import (
	"strings"
	"testing"
)

// TestImportHelpNamesEverySource: every import subcommand is named in the
// help a new user reads first.
func TestImportHelpNamesEverySource(t *testing.T) {
	e := newEnv(t)
	out, _, code := e.run(t, "", "import", "--help")
	if code != 0 {
		t.Fatalf("import --help: exit %d", code)
	}
	for _, sub := range NewRoot(nil, nil, nil).Commands() {
		if sub.Name() != "import" {
			continue
		}
		for _, src := range sub.Commands() {
			if !strings.Contains(out, "  "+src.Name()+" ") {
				t.Errorf("import --help does not name %s:\n%s", src.Name(), out)
			}
		}
	}
}

// TestSingularCounts: one of a thing is not "1 things".
func TestSingularCounts(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatal(errOut)
	}
	out, _, _ := e.client(t, "get", "upstreams")
	if !strings.Contains(out, "static (1 endpoint)") {
		t.Errorf("get upstreams:\n%s", out)
	}
}
