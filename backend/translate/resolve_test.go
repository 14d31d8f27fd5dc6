package translate

import (
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// resolveWorkspace parses text conditions once the rules package can; until
// then golden inputs use the structured tree.
func resolveWorkspace(t *testing.T, ws *model.Workspace) { t.Helper() }
