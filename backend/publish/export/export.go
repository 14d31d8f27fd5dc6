// Package export holds what the exporters to other routing APIs (Gateway
// API HTTPRoutes, Consul config entries) share: the report of what did not
// translate, and the flattening of a rule's condition into alternatives of
// plain predicates, the shape both APIs' matches take.
package export

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/routedeck/routedeck/backend/model"
)

// Issue is one part of a rule the target API cannot express. The rule is
// exported without it (Skipped false) or not at all (Skipped true).
type Issue struct {
	Rule    string `json:"rule,omitempty"`
	Field   string `json:"field,omitempty"`
	Reason  string `json:"reason"`
	Skipped bool   `json:"skipped,omitempty"`
}

// Report collects issues.
type Report struct {
	Issues []Issue `json:"issues"`
}

// Add records that field of rule does not translate.
func (r *Report) Add(rule, field, format string, args ...any) {
	r.Issues = append(r.Issues, Issue{Rule: rule, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// Skip records that rule is left out entirely.
func (r *Report) Skip(rule, field, format string, args ...any) {
	r.Issues = append(r.Issues, Issue{Rule: rule, Field: field, Reason: fmt.Sprintf(format, args...), Skipped: true})
}

// MaxAlternatives bounds how many matches one rule may expand into; both
// APIs cap matches per rule, and a blown-up cross product helps nobody.
const MaxAlternatives = 16

// Predicate is a leaf of a condition with its field path in the rule.
type Predicate struct {
	model.Condition
	Path string // e.g. "when.all[1]"
}

// Alternatives flattens c into an OR of ANDs of predicates: c may be a
// predicate, an all of predicates, or an any whose branches are predicates
// or alls of predicates; "in" predicates on path, method and header values
// expand into one alternative per value. A not, or deeper nesting, is
// returned as an error naming its field path, because neither target API
// can negate or nest matches.
func Alternatives(c model.Condition) ([][]Predicate, error) {
	var branches []model.Condition
	var paths []string
	switch {
	case c.IsZero():
		return [][]Predicate{{}}, nil
	case c.Any != nil:
		for i, b := range c.Any {
			branches = append(branches, b)
			paths = append(paths, fmt.Sprintf("when.any[%d]", i))
		}
	default:
		branches, paths = []model.Condition{c}, []string{"when"}
	}
	var out [][]Predicate
	for i, b := range branches {
		conj, err := conjunction(b, paths[i])
		if err != nil {
			return nil, err
		}
		expanded := [][]Predicate{{}}
		for _, p := range conj {
			if p.Op != model.OpIn || p.Field == model.FieldHost {
				for j := range expanded {
					expanded[j] = append(expanded[j], p)
				}
				continue
			}
			var next [][]Predicate
			for _, alt := range expanded {
				for _, v := range p.Values {
					q := p
					q.Op, q.Value, q.Values = model.OpEquals, v, nil
					next = append(next, append(slices.Clone(alt), q))
				}
			}
			expanded = next
		}
		out = append(out, expanded...)
		if len(out) > MaxAlternatives {
			return nil, fmt.Errorf("%s: expands into more than %d matches", paths[i], MaxAlternatives)
		}
	}
	return out, nil
}

func conjunction(c model.Condition, path string) ([]Predicate, error) {
	switch {
	case c.IsPredicate():
		return []Predicate{{Condition: c, Path: path}}, nil
	case c.All != nil:
		var out []Predicate
		for i, p := range c.All {
			if !p.IsPredicate() {
				return nil, fmt.Errorf("%s.all[%d]: nested all/any/not cannot be expressed as one match", path, i)
			}
			out = append(out, Predicate{Condition: p, Path: fmt.Sprintf("%s.all[%d]", path, i)})
		}
		return out, nil
	case c.Not != nil:
		return nil, fmt.Errorf("%s.not: negation cannot be expressed", path)
	}
	return nil, fmt.Errorf("%s: any inside any cannot be expressed", path)
}

// SortedRules returns the enabled rules of gateway in evaluation order
// (priority, higher first, then name).
func SortedRules(ws model.Workspace, gateway string) []*model.Route {
	var out []*model.Route
	for i := range ws.Routes {
		if r := &ws.Routes[i]; r.Gateway == gateway && !r.Disabled {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *model.Route) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// Upstream finds an upstream of ws by name.
func Upstream(ws model.Workspace, name string) *model.Upstream {
	for i := range ws.Upstreams {
		if ws.Upstreams[i].Name == name {
			return &ws.Upstreams[i]
		}
	}
	return nil
}

// Guarded reports whether r must be left out: a rule that requires
// authentication or restricts source addresses would, exported without
// that check, open its upstream to everyone.
func Guarded(rep *Report, r *model.Route) bool {
	switch {
	case r.Then.Auth != nil:
		rep.Skip(r.Name, "then.auth", "authentication has no equivalent; exported without it the rule would let anyone through")
		return true
	case r.Then.Access != nil:
		rep.Skip(r.Name, "then.access", "source address rules have no equivalent; exported without them the rule would let anyone through")
		return true
	}
	return false
}

// ListenerBound reports whether r must be left out by an exporter that
// cannot attach a route to some listeners only: exported, a rule meant for
// one port (an internal one, say) would answer on every port.
func ListenerBound(rep *Report, r *model.Route) bool {
	if len(r.Listeners) == 0 {
		return false
	}
	rep.Skip(r.Name, "listeners", "attaching a route to some listeners has no equivalent; exported, the rule would answer on every listener")
	return true
}

// UnsupportedPolicies reports the action policies neither exporter maps
// and that the exported route can do without (rate limits, CORS, ...).
func UnsupportedPolicies(rep *Report, r *model.Route) {
	a := r.Then
	for _, p := range []struct {
		set   bool
		field string
	}{
		{a.RateLimit != nil, "then.rateLimit"},
		{a.CORS != nil, "then.cors"},
		{a.Fault != nil, "then.fault"},
		{a.Mirror != nil, "then.mirror"},
		{a.IdleTimeout > 0, "then.idleTimeout"},
	} {
		if p.set {
			rep.Add(r.Name, p.field, "no equivalent; the exported route does without it")
		}
	}
}
