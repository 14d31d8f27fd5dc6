package api

import (
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// The API's uses of the condition language, in one place.

func formatCondition(c model.Condition) string {
	if c.IsZero() {
		return ""
	}
	return rules.Format(c)
}

func resolveRoute(r *model.Route) error { return rules.Resolve(r) }

func resolveWorkspace(ws *model.Workspace) error { return rules.ResolveWorkspace(ws) }
