package translate

import (
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// resolveWorkspace parses conditions written as text, so golden inputs can
// use either form.
func resolveWorkspace(t *testing.T, ws *model.Workspace) {
	t.Helper()
	if err := rules.ResolveWorkspace(ws); err != nil {
		t.Fatalf("resolve conditions: %v", err)
	}
}
