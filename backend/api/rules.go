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

// evaluateRules runs the reference evaluator. Until the rules package
// exports its evaluator the endpoint answers 501.
func evaluateRules(routes []model.Route, gw *model.Gateway, req testRequest) (any, error) {
	return nil, notWired("rule evaluation")
}
