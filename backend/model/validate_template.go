package model

import (
	"fmt"
	"regexp"
	"strings"
)

// Path templates follow Envoy's uri_template matcher so that a rule means the
// same in the reference evaluator and on the proxy:
//
//	/users/{id}          {id} is {id=*}: one non-empty segment
//	/files/*/raw         * is one non-empty segment
//	/static/**           ** is zero or more segments (slashes included); last only
//	/v1/{rest=**}        a variable may bind a multi-segment pattern
//	/a/{v=x/*}/b         literals, * and ** inside a variable
//
// Segment characters are the RFC 3986 pchar set without '*' and '/':
// unreserved, percent signs, most sub-delims, ':' and '@' and '='.
const templateLiteral = `a-zA-Z0-9\-._~%!$&'()+,;:@=`

var (
	templateVarName    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)
	templateLiteralSeg = regexp.MustCompile(`^[` + templateLiteral + `]+$`)
)

// maxTemplateVars is Envoy's limit on variables in one template.
const maxTemplateVars = 5

// PathTemplate is a parsed path template: a full-match regular expression on
// the path (without query) and the names of its variables, in order.
type PathTemplate struct {
	Regexp *regexp.Regexp
	Vars   []string
}

// Match reports whether path (without query) matches, and the variable
// bindings when it does.
func (t *PathTemplate) Match(path string) (map[string]string, bool) {
	m := t.Regexp.FindStringSubmatch(path)
	if m == nil {
		return nil, false
	}
	vars := make(map[string]string, len(t.Vars))
	for i, name := range t.Vars {
		vars[name] = m[i+1]
	}
	return vars, true
}

// ParsePathTemplate checks a path template such as "/users/{id}/**" and
// compiles it to a regular expression with one capture group per variable.
func ParsePathTemplate(tmpl string) (*PathTemplate, error) {
	if !strings.HasPrefix(tmpl, "/") {
		return nil, fmt.Errorf("must start with '/'")
	}
	if tmpl == "/" {
		return &PathTemplate{Regexp: regexp.MustCompile(`^/$`)}, nil
	}
	segs, err := splitTemplate(tmpl[1:])
	if err != nil {
		return nil, err
	}
	var (
		re      strings.Builder
		vars    []string
		seenVar = map[string]bool{}
	)
	re.WriteString("^")
	for i, seg := range segs {
		last := i == len(segs)-1
		re.WriteString("/")
		if strings.HasPrefix(seg, "{") {
			inner := seg[1 : len(seg)-1]
			name, pattern, hasPattern := strings.Cut(inner, "=")
			if !hasPattern {
				pattern = "*"
			}
			if !templateVarName.MatchString(name) {
				return nil, fmt.Errorf("invalid variable name %q (letters, digits and '_', starting with a letter)", name)
			}
			if seenVar[name] {
				return nil, fmt.Errorf("variable %q appears twice", name)
			}
			seenVar[name] = true
			vars = append(vars, name)
			if len(vars) > maxTemplateVars {
				return nil, fmt.Errorf("at most %d variables are allowed", maxTemplateVars)
			}
			if pattern == "" {
				return nil, fmt.Errorf("variable %q has an empty pattern", name)
			}
			sub := strings.Split(pattern, "/")
			re.WriteString("(")
			for j, p := range sub {
				if j > 0 {
					re.WriteString("/")
				}
				if err := writeTemplateSegment(&re, p, last && j == len(sub)-1); err != nil {
					return nil, fmt.Errorf("variable %q: %w", name, err)
				}
			}
			re.WriteString(")")
			continue
		}
		if err := writeTemplateSegment(&re, seg, last); err != nil {
			return nil, err
		}
	}
	re.WriteString("$")
	return &PathTemplate{Regexp: regexp.MustCompile(re.String()), Vars: vars}, nil
}

// splitTemplate splits on '/' outside braces and checks brace balance.
func splitTemplate(s string) ([]string, error) {
	var segs []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if depth > 0 {
				return nil, fmt.Errorf("nested '{' at offset %d", i+1)
			}
			if i != start {
				return nil, fmt.Errorf("a variable must be a whole segment (offset %d)", i+1)
			}
			depth++
		case '}':
			if depth == 0 {
				return nil, fmt.Errorf("unmatched '}' at offset %d", i+1)
			}
			depth--
			if i+1 < len(s) && s[i+1] != '/' {
				return nil, fmt.Errorf("a variable must be a whole segment (offset %d)", i+2)
			}
		case '/':
			if depth == 0 {
				segs = append(segs, s[start:i])
				start = i + 1
			}
		}
	}
	if depth > 0 {
		return nil, fmt.Errorf("unclosed '{'")
	}
	segs = append(segs, s[start:])
	for _, seg := range segs {
		if seg == "" {
			return nil, fmt.Errorf("empty path segment")
		}
	}
	return segs, nil
}

func writeTemplateSegment(re *strings.Builder, seg string, last bool) error {
	switch {
	case seg == "**":
		if !last {
			return fmt.Errorf("'**' must be the last segment")
		}
		re.WriteString(`[` + templateLiteral + `/]*`)
	case seg == "*":
		re.WriteString(`[` + templateLiteral + `]+`)
	case templateLiteralSeg.MatchString(seg):
		re.WriteString(regexp.QuoteMeta(seg))
	case seg == "":
		return fmt.Errorf("empty path segment")
	default:
		return fmt.Errorf("invalid segment %q (use literals, '*', '**' or '{var}')", seg)
	}
	return nil
}

// RewritePathTemplate applies a rewrite template such as "/v2/{id}" to the
// variables a PathTemplate matched. Unknown variables are an error.
func RewritePathTemplate(rewrite string, vars map[string]string) (string, error) {
	if !strings.HasPrefix(rewrite, "/") {
		return "", fmt.Errorf("must start with '/'")
	}
	var out strings.Builder
	rest := rewrite
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.ContainsAny(rest, "}*") {
				return "", fmt.Errorf("unexpected '}' or '*' in %q", rest)
			}
			out.WriteString(rest)
			break
		}
		if strings.ContainsAny(rest[:i], "}*") {
			return "", fmt.Errorf("unexpected '}' or '*' in %q", rest[:i])
		}
		out.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unclosed '{'")
		}
		name := rest[i+1 : i+j]
		v, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("variable %q is not bound by the path template", name)
		}
		out.WriteString(v)
		rest = rest[i+j+1:]
	}
	return out.String(), nil
}
