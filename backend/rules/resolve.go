package rules

import (
	"github.com/routedeck/routedeck/backend/model"
)

// Resolve parses every condition of r that arrived as text (model.Condition
// .Text, at the root or at any node of a structured tree) and replaces it
// with the parsed tree. Parse errors come back as an EINVALID *model.Error
// whose field is the node's path ("when", "when.all[1]") and whose message
// starts with the line and column ("1:17: expected ...").
func Resolve(r *model.Route) error {
	var p model.Problems
	resolveNode(&p, "when", &r.When)
	return p.Err()
}

// ResolveWorkspace resolves every route of ws and reports all parse errors
// together, with paths such as "routes[3].when".
func ResolveWorkspace(ws *model.Workspace) error {
	var p model.Problems
	for i := range ws.Routes {
		p.Merge(model.Index("routes", i), Resolve(&ws.Routes[i]))
	}
	return p.Err()
}

func resolveNode(p *model.Problems, path string, c *model.Condition) {
	if c.Text != "" {
		parsed, err := Parse(c.Text)
		if err != nil {
			p.Add(path, "%s", err.Error())
			return
		}
		*c = parsed
		return
	}
	for i := range c.All {
		resolveNode(p, model.Index(path+".all", i), &c.All[i])
	}
	for i := range c.Any {
		resolveNode(p, model.Index(path+".any", i), &c.Any[i])
	}
	if c.Not != nil {
		resolveNode(p, path+".not", c.Not)
	}
}
