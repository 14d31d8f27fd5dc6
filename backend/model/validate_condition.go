package model

import (
	"fmt"
	"strings"
)

// Validate checks a condition tree on its own and reports every problem with
// a path relative to the condition ("all[1].value"). The zero condition is
// valid at the root (it matches every request) but not inside a tree.
func (c Condition) Validate() error {
	var p Problems
	if !c.IsZero() {
		if msg := conditionSizeProblem(c); msg != "" {
			// Too big to be worth judging node by node.
			p.Add("", "%s", msg)
			return p.Err()
		}
		validateCondition(&p, "", c)
	}
	return p.Err()
}

// conditionSizeProblem checks MaxConditionDepth and MaxConditionNodes
// without recursion, for trees built in code or parsed from text (JSON
// input is already bounded while it is read).
func conditionSizeProblem(c Condition) string {
	type item struct {
		c     *Condition
		depth int
	}
	stack := []item{{&c, 1}}
	nodes := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nodes++
		operator := it.c.Not != nil || it.c.All != nil || it.c.Any != nil
		switch {
		case operator && it.depth > MaxConditionDepth:
			return fmt.Sprintf("condition nested more than %d levels deep", MaxConditionDepth)
		case nodes > MaxConditionNodes:
			return fmt.Sprintf("condition has more than %d nodes", MaxConditionNodes)
		}
		if it.c.Not != nil {
			stack = append(stack, item{it.c.Not, it.depth + 1})
		}
		for i := range it.c.All {
			stack = append(stack, item{&it.c.All[i], it.depth + 1})
		}
		for i := range it.c.Any {
			stack = append(stack, item{&it.c.Any[i], it.depth + 1})
		}
	}
	return ""
}

func validateCondition(p *Problems, path string, c Condition) {
	if c.Text != "" {
		p.Add(path, "condition text not parsed")
		return
	}
	kinds := 0
	if c.All != nil {
		kinds++
	}
	if c.Any != nil {
		kinds++
	}
	if c.Not != nil {
		kinds++
	}
	if c.IsPredicate() || c.Value != "" || c.Values != nil || c.IgnoreCase {
		kinds++
	}
	switch {
	case kinds == 0:
		p.Add(path, "empty condition: set one of all, any, not or a predicate (field, op, value)")
		return
	case kinds > 1:
		p.Add(path, "a condition must have exactly one of all, any, not or a predicate")
		return
	}
	switch {
	case c.All != nil:
		validateList(p, JoinPath(path, "all"), c.All)
	case c.Any != nil:
		validateList(p, JoinPath(path, "any"), c.Any)
	case c.Not != nil:
		validateCondition(p, JoinPath(path, "not"), *c.Not)
	default:
		validatePredicate(p, path, c)
	}
}

func validateList(p *Problems, path string, cs []Condition) {
	if len(cs) == 0 {
		p.Add(path, "must not be empty")
	}
	for i, c := range cs {
		validateCondition(p, path+Index("", i), c)
	}
}

func validatePredicate(p *Problems, path string, c Condition) {
	kind, key, ok := ParseField(c.Field)
	switch {
	case c.Field == "":
		p.Add(JoinPath(path, "field"), "required")
	case !ok:
		p.Add(JoinPath(path, "field"), "unknown field %q", c.Field)
	}
	if ok && key != "" {
		validateKey(p, JoinPath(path, "field"), kind, key)
	}
	opPath := JoinPath(path, "op")
	op, known := LookupOperator(c.Op)
	switch {
	case c.Op == "":
		p.Add(opPath, "required")
		return
	case !known:
		p.Add(opPath, "unknown op %q", c.Op)
		return
	}
	if ok && !op.AppliesTo(kind) {
		p.Add(opPath, "op %q is not allowed on %s (allowed: %s)", c.Op, kind, strings.Join(opsFor(kind), ", "))
	}
	if c.IgnoreCase && !op.IgnoreCase {
		p.Add(JoinPath(path, "ignoreCase"), "not supported with op %q", c.Op)
	}
	if c.IgnoreCase && (kind == FieldGRPCService || kind == FieldGRPCMethod) {
		p.Add(JoinPath(path, "ignoreCase"), "not supported on %s", kind)
	}

	valuePath, valuesPath := JoinPath(path, "value"), JoinPath(path, "values")
	switch op.Shape {
	case ShapeNone:
		if c.Value != "" {
			p.Add(valuePath, "op %q takes no value", c.Op)
		}
		if c.Values != nil {
			p.Add(valuesPath, "op %q takes no values", c.Op)
		}
		return
	case ShapeValues:
		if c.Value != "" {
			p.Add(valuePath, "op %q takes a list: use values", c.Op)
		}
		if len(c.Values) == 0 {
			p.Add(valuesPath, "op %q needs at least one value", c.Op)
		}
		if len(c.Values) > MaxInValues {
			p.Add(valuesPath, "has %d values; at most %d are allowed", len(c.Values), MaxInValues)
			return
		}
		for i, v := range c.Values {
			validateValue(p, valuesPath+Index("", i), kind, OpEquals, v)
		}
		return
	}
	if c.Values != nil {
		p.Add(valuesPath, "op %q takes a single value, not values", c.Op)
	}
	validateValue(p, valuePath, kind, c.Op, c.Value)
}

// validateValue checks one value of a single-value op (in/not-in values are
// checked as equals).
func validateValue(p *Problems, path, kind, op, v string) {
	if len(v) > MaxValueBytes {
		p.Add(path, "is %d bytes; at most %d are allowed", len(v), MaxValueBytes)
		return
	}
	switch op {
	case OpRegex:
		if msg := regexProblem(v); msg != "" {
			p.Add(path, "%s", msg)
		}
		return
	case OpPrefix, OpSuffix, OpContains:
		// Envoy's StringMatcher rejects empty prefix/suffix/contains.
		if v == "" {
			p.Add(path, "must not be empty")
			return
		}
	case OpTemplate:
		if _, err := ParsePathTemplate(v); err != nil {
			p.Add(path, "invalid path template: %s", err)
		}
		return
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		p.Add(path, "must not contain CR, LF or NUL")
		return
	}
	switch kind {
	case FieldHost:
		validateHostValue(p, path, op, v)
	case FieldPath:
		switch op {
		case OpEquals, OpNotEquals, OpExact, OpPrefix, OpSegmentPrefix:
			if !strings.HasPrefix(v, "/") {
				p.Add(path, "a path must start with '/'")
				return
			}
		}
		if op != OpSuffix && op != OpContains && strings.ContainsAny(v, "?#") {
			p.Add(path, "path matchers never see the query or fragment: remove '?' and '#'")
		}
		if op == OpSegmentPrefix && strings.HasSuffix(v, "/") {
			p.Add(path, "a segment prefix must not end with '/' (use path.prefix(%q) for everything)", v)
		}
	case FieldMethod, FieldScheme, FieldGRPCService, FieldGRPCMethod:
		if op == OpEquals || op == OpNotEquals {
			if v == "" {
				p.Add(path, "must not be empty")
			}
		}
	}
}

func validateHostValue(p *Problems, path, op, v string) {
	if v == "" {
		p.Add(path, "empty host pattern")
		return
	}
	if op != OpEquals && op != OpNotEquals {
		if strings.Contains(v, "*") {
			p.Add(path, "wildcards only work with ==, !=, in and not in")
		}
		return
	}
	if err := checkHostPattern(v); err != "" {
		p.Add(path, "%s", err)
	}
}

// checkHostPattern accepts a host name, optionally with a leading "*." label.
// Ports are refused: the translator strips any port from Host before routing,
// so a pattern with one could never match.
func checkHostPattern(v string) string {
	name := v
	if strings.HasPrefix(v, "*.") {
		name = v[2:]
	}
	if strings.Contains(name, "*") {
		return "a wildcard is only allowed as a leading \"*.\" label"
	}
	if name == "" {
		return "empty host pattern"
	}
	if strings.HasPrefix(name, "[") { // IPv6 literal
		if !strings.HasSuffix(name, "]") {
			return "invalid IPv6 host literal"
		}
		return ""
	}
	if strings.Contains(name, ":") {
		return "must not include a port: ports are ignored when matching hosts"
	}
	for _, r := range name {
		if !(r == '-' || r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "invalid character " + quoteRune(r) + " in host"
		}
	}
	return ""
}

func quoteRune(r rune) string { return "'" + string(r) + "'" }

func validateKey(p *Problems, path, kind, key string) {
	if len(key) > MaxHeaderNameBytes {
		p.Add(path, "a %s name is at most %d bytes (this one has %d)", kind, MaxHeaderNameBytes, len(key))
		return
	}
	switch kind {
	case FieldHeader:
		switch {
		case strings.HasPrefix(key, ":"):
			p.Add(path, "pseudo-header %q cannot be matched as a header: use host, path, method or scheme", key)
		case strings.EqualFold(key, "host"):
			p.Add(path, "use the host field instead of header[\"host\"]")
		case !isToken(key):
			p.Add(path, "invalid header name %q", key)
		}
	case FieldCookie:
		if !isToken(key) {
			p.Add(path, "invalid cookie name %q", key)
		}
	case FieldQuery:
		if strings.ContainsAny(key, "&=#? \r\n") {
			p.Add(path, "invalid query parameter name %q", key)
		}
	}
}

// isToken reports whether s is an RFC 9110 token (header and cookie names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
