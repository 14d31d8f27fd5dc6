package model

import (
	"cmp"
	"strings"
)

// ComparePrecedence orders rules the way a gateway tries them: higher
// priority first, then by name. It is the one definition of rule order;
// the evaluator, the translator, lint and every list use it, so they cannot
// disagree about which rule wins.
func ComparePrecedence(aPriority int, aName string, bPriority int, bName string) int {
	if c := cmp.Compare(bPriority, aPriority); c != 0 {
		return c
	}
	return strings.Compare(aName, bName)
}

// CompareRoutes is ComparePrecedence for two routes.
func CompareRoutes(a, b *Route) int {
	return ComparePrecedence(a.Priority, a.Name, b.Priority, b.Name)
}

// Clone returns a deep copy of c, so a caller can rewrite it (for example
// parse its text in place) without touching the original tree.
func (c Condition) Clone() Condition {
	out := c
	if c.Not != nil {
		n := c.Not.Clone()
		out.Not = &n
	}
	if c.All != nil {
		out.All = make([]Condition, len(c.All))
		for i := range c.All {
			out.All[i] = c.All[i].Clone()
		}
	}
	if c.Any != nil {
		out.Any = make([]Condition, len(c.Any))
		for i := range c.Any {
			out.Any[i] = c.Any[i].Clone()
		}
	}
	return out
}
