package rules

import (
	"slices"

	"github.com/routedeck/routedeck/backend/model"
)

// maxConjunctions bounds the disjunctive normal form Lint builds for a
// condition. DNF can grow exponentially; beyond the bound Lint gives up on
// the rule rather than spend unbounded time, which only loses findings.
const maxConjunctions = 64

// literal is a predicate, compiled as the evaluator compiles it, or its
// negation.
type literal struct {
	neg bool
	*predicate
}

// conjunction is a list of literals that must all hold; a DNF is a list of
// conjunctions one of which must hold. The empty conjunction is true.
type conjunction []literal

// dnf returns c (resolved and normalised) in disjunctive normal form, or
// false when it would exceed maxConjunctions. Negation is pushed through
// && and || by De Morgan's laws, which is exact because the evaluator
// combines node results as plain booleans; it stops at predicates, since
// !(x == "a") is not x != "a" (the two differ on a missing subject).
func dnf(c model.Condition) ([]conjunction, bool) {
	if c.IsZero() {
		return []conjunction{{}}, true
	}
	return dnfNode(c, false)
}

func dnfNode(c model.Condition, neg bool) ([]conjunction, bool) {
	switch {
	case c.Not != nil:
		return dnfNode(*c.Not, !neg)
	case len(c.All) > 0 && !neg, len(c.Any) > 0 && neg:
		// A conjunction of the members (for a negated ||, of their negations).
		kids := c.All
		if neg {
			kids = c.Any
		}
		out := []conjunction{{}}
		for _, k := range kids {
			kd, ok := dnfNode(k, neg)
			if !ok || len(out)*len(kd) > maxConjunctions {
				return nil, false
			}
			next := make([]conjunction, 0, len(out)*len(kd))
			for _, a := range out {
				for _, b := range kd {
					next = append(next, append(slices.Clone(a), b...))
				}
			}
			out = next
		}
		return out, true
	case len(c.Any) > 0 || len(c.All) > 0:
		// A disjunction: || of the members, or a negated && of negations.
		kids := c.Any
		if neg {
			kids = c.All
		}
		var out []conjunction
		for _, k := range kids {
			kd, ok := dnfNode(k, neg)
			if !ok || len(out)+len(kd) > maxConjunctions {
				return nil, false
			}
			out = append(out, kd...)
		}
		return out, true
	}
	// A predicate. A zero condition below the root also lands here: the
	// evaluator treats it as a predicate without a field, which never
	// holds, and so does its literal (it implies only itself).
	return []conjunction{{toLiteral(c, neg)}}, true
}

func toLiteral(c model.Condition, neg bool) literal {
	return literal{neg: neg, predicate: compilePred(c)}
}

// same reports whether a and b are the same literal: same polarity and a
// predicate that the evaluator treats identically.
func (a literal) same(b literal) bool {
	return a.neg == b.neg && a.known == b.known && a.kind == b.kind && a.key == b.key &&
		a.op == b.op && a.fold == b.fold && slices.Equal(a.values, b.values)
}

// dnfImplies reports whether every request b matches also matches a: each
// conjunction of b implies some conjunction of a.
func dnfImplies(b, a []conjunction) bool {
	for _, cb := range b {
		if !slices.ContainsFunc(a, func(ca conjunction) bool { return conjImplies(cb, ca) }) {
			return false
		}
	}
	return true
}

// conjImplies reports whether cb implies ca: every literal of ca follows
// from some literal of cb. A negated literal of ca only follows from the
// same negated literal; negated literals of cb prove nothing else.
func conjImplies(cb, ca conjunction) bool {
	for _, la := range ca {
		if !slices.ContainsFunc(cb, func(lb literal) bool { return litImplies(lb, la) }) {
			return false
		}
	}
	return true
}

// litImplies reports whether literal b implies literal a. It answers true
// only for cases that follow from the evaluator's definitions; anything it
// is not sure of is "no".
func litImplies(b, a literal) bool {
	if b.same(a) {
		return true
	}
	if a.neg || b.neg || !a.known || !b.known || a.kind != b.kind || a.key != b.key {
		return false
	}
	f, _ := model.LookupFieldKind(a.kind)
	keyed := f != nil && f.Keyed
	if a.op == model.OpPresent {
		// Every value operator is false on a missing subject, so any
		// predicate on a header, parameter or cookie but absent proves it
		// is there; present, ignoreCase or not, says just that.
		return keyed && b.op != model.OpAbsent
	}
	if a.fold != b.fold || a.test == nil || b.test == nil {
		return false
	}
	return b.test.implies(a.test)
}
