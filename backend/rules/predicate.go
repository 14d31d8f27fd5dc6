package rules

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// predicate is a condition leaf compiled once, in the form every reader
// compares it: the field split into kind and key (header names
// lower-cased), exact read as equals, values folded when the comparison
// folds, lists sorted. The evaluator runs its test; implication compares
// tests; both read the same compiled form.
type predicate struct {
	known  bool   // the field parsed
	kind   string // field kind ("header"); the raw field when unknown
	key    string // keyed fields only
	op     string // canonical operator (aliases resolved)
	fold   bool
	values []string // one value, the list of in/not in, none for present/absent
	// test is the value operator; nil for presence tests, unknown
	// operators and unknown fields.
	test valueTest
}

// valueTest is one value operator, run on a subject the request has
// (already folded when the predicate folds).
type valueTest interface {
	match(s string) bool
	// implies reports whether every subject passing this test passes a,
	// a test on the same field with the same folding. It answers true only
	// when that follows from the definitions; "not sure" is false.
	implies(a valueTest) bool
}

// compilePred builds the predicate of c; regexes and templates are parsed
// by prepare, which only the evaluator needs.
func compilePred(c model.Condition) *predicate {
	p := &predicate{op: c.Op}
	if op, ok := model.LookupOperator(c.Op); ok && op.Alias != "" {
		p.op = op.Alias
	}
	kind, key, ok := model.ParseField(c.Field)
	if !ok {
		// Never matches; kept apart from every known field by its raw text.
		p.kind = c.Field
		p.values = append([]string{c.Value}, c.Values...)
		return p
	}
	p.known, p.kind, p.key = true, kind, key
	if kind == model.FieldHeader {
		p.key = strings.ToLower(key)
	}
	// Host is always compared case-insensitively: DNS names are.
	p.fold = c.IgnoreCase || kind == model.FieldHost
	switch model.ShapeOf(c.Op) {
	case model.ShapeValues:
		p.values = slices.Clone(c.Values)
	case model.ShapeNone:
	default:
		p.values = []string{c.Value}
	}
	// Regular expressions and templates are compiled as written.
	if p.fold && p.op != model.OpRegex && p.op != model.OpTemplate {
		for i, v := range p.values {
			p.values[i] = asciiLower(v)
		}
	}
	if model.ShapeOf(c.Op) == model.ShapeValues {
		sort.Strings(p.values)
		p.values = slices.Compact(p.values)
	}
	p.test = newValueTest(p)
	return p
}

// prepare compiles what the evaluator runs: regular expressions and path
// templates. It returns why the predicate can never hold, or "".
func (p *predicate) prepare() string {
	switch t := p.test.(type) {
	case *regexTest:
		pattern := `^(?:` + t.pattern + `)$`
		if p.kind == model.FieldHost {
			pattern = `(?i)` + pattern
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return "invalid regex: " + err.Error()
		}
		t.re = re
	case *templateTest:
		tmpl, err := model.ParsePathTemplate(t.pattern)
		if err != nil {
			return "invalid path template: " + err.Error()
		}
		t.tmpl = tmpl
	}
	return ""
}

// newValueTest is the one place an operator name becomes its test.
func newValueTest(p *predicate) valueTest {
	host := p.kind == model.FieldHost
	one := ""
	if len(p.values) > 0 {
		one = p.values[0]
	}
	switch p.op {
	case model.OpEquals:
		return equalsTest{v: one, host: host}
	case model.OpNotEquals:
		return notTest{equalsTest{v: one, host: host}}
	case model.OpIn:
		return inTest{vs: p.values, host: host}
	case model.OpNotIn:
		return notTest{inTest{vs: p.values, host: host}}
	case model.OpPrefix:
		return prefixTest(one)
	case model.OpSuffix:
		return suffixTest(one)
	case model.OpContains:
		return containsTest(one)
	case model.OpSegmentPrefix:
		return segmentPrefixTest(one)
	case model.OpRegex:
		return &regexTest{pattern: one}
	case model.OpTemplate:
		return &templateTest{pattern: one}
	}
	return nil
}

// equalsTest is equality; on host a value starting with "*" is a pattern
// matching any longer host ending in the rest, as Envoy's virtual host
// domains do.
type equalsTest struct {
	v    string
	host bool
}

func (t equalsTest) match(s string) bool { return equalValue(t.host, s, t.v) }

func (t equalsTest) implies(a valueTest) bool {
	if t.host && strings.HasPrefix(t.v, "*") {
		// The subject is some host longer than rest and ending in it.
		rest := t.v[1:]
		switch a := a.(type) {
		case equalsTest:
			return hostPatternCovers(a.v, t.v)
		case inTest:
			return slices.ContainsFunc(a.vs, func(w string) bool { return hostPatternCovers(w, t.v) })
		case suffixTest:
			return strings.HasSuffix(rest, string(a))
		case containsTest:
			return strings.Contains(rest, string(a))
		}
		return false
	}
	// The subject is exactly t.v: a holds when it passes t.v. Regexes and
	// templates are left out (implication is kept to plain strings).
	switch a.(type) {
	case equalsTest, inTest, prefixTest, suffixTest, containsTest, segmentPrefixTest:
		return a.match(t.v)
	}
	return false
}

// inTest is equality with one of a list.
type inTest struct {
	vs   []string
	host bool
}

func (t inTest) match(s string) bool {
	return slices.ContainsFunc(t.vs, func(w string) bool { return equalValue(t.host, s, w) })
}

func (t inTest) implies(a valueTest) bool {
	// A disjunction of equalities: each one must imply a. An empty list
	// never matches and implies anything.
	for _, v := range t.vs {
		if !(equalsTest{v: v, host: t.host}).implies(a) {
			return false
		}
	}
	return true
}

// notTest is the complement of a test on a subject the request has
// (not-equals, not-in); it implies nothing but itself.
type notTest struct{ inner valueTest }

func (t notTest) match(s string) bool    { return !t.inner.match(s) }
func (t notTest) implies(valueTest) bool { return false }

type prefixTest string

func (t prefixTest) match(s string) bool { return strings.HasPrefix(s, string(t)) }

func (t prefixTest) implies(a valueTest) bool {
	switch a := a.(type) {
	case prefixTest:
		return strings.HasPrefix(string(t), string(a))
	case containsTest:
		return strings.Contains(string(t), string(a))
	case segmentPrefixTest:
		return strings.HasPrefix(string(t), string(a)+"/")
	}
	return false
}

// segmentPrefixTest holds for the prefix itself or the prefix followed by
// "/" and more.
type segmentPrefixTest string

func (t segmentPrefixTest) match(s string) bool {
	return s == string(t) || strings.HasPrefix(s, string(t)+"/")
}

func (t segmentPrefixTest) implies(a valueTest) bool {
	switch a := a.(type) {
	case prefixTest:
		return strings.HasPrefix(string(t), string(a))
	case containsTest:
		return strings.Contains(string(t), string(a))
	case segmentPrefixTest:
		return a.match(string(t))
	}
	return false
}

type suffixTest string

func (t suffixTest) match(s string) bool { return strings.HasSuffix(s, string(t)) }

func (t suffixTest) implies(a valueTest) bool {
	switch a := a.(type) {
	case suffixTest:
		return strings.HasSuffix(string(t), string(a))
	case containsTest:
		return strings.Contains(string(t), string(a))
	}
	return false
}

type containsTest string

func (t containsTest) match(s string) bool { return strings.Contains(s, string(t)) }

func (t containsTest) implies(a valueTest) bool {
	a2, ok := a.(containsTest)
	return ok && strings.Contains(string(t), string(a2))
}

// regexTest is a full match of an RE2 pattern, compiled by prepare.
type regexTest struct {
	pattern string
	re      *regexp.Regexp
}

func (t *regexTest) match(s string) bool    { return t.re != nil && t.re.MatchString(s) }
func (t *regexTest) implies(valueTest) bool { return false }

// templateTest is a path template, parsed by prepare.
type templateTest struct {
	pattern string
	tmpl    *model.PathTemplate
}

func (t *templateTest) match(s string) bool {
	if t.tmpl == nil {
		return false
	}
	_, ok := t.tmpl.Match(s)
	return ok
}
func (t *templateTest) implies(valueTest) bool { return false }

// equalValue is the evaluator's equality of a subject s with want.
func equalValue(host bool, s, want string) bool {
	if host && strings.HasPrefix(want, "*") {
		suffix := want[1:]
		return len(s) > len(suffix) && strings.HasSuffix(s, suffix)
	}
	return s == want
}

// hostPatternCovers reports whether every host matching pattern inner (a
// "*..." value) also equals want: want is the same pattern or a pattern
// whose rest is a suffix of inner's rest.
func hostPatternCovers(want, inner string) bool {
	if !strings.HasPrefix(want, "*") {
		return false
	}
	return strings.HasSuffix(inner[1:], want[1:])
}
