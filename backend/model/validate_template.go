package model

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Path templates follow Envoy's uri_template matcher so that a rule means the
// same in the reference evaluator and on the proxy:
//
//	/users/{id}          {id} is {id=*}: one non-empty segment
//	/files/*/raw         * is one non-empty segment
//	/static/**           ** is zero or more characters including '/'
//	/**.mpd              a literal suffix may follow the last glob or variable
//	/v1/{rest=**}        a variable may bind a multi-segment pattern
//	/a/{v=x/*}/b         literals, * and ** inside a variable
//	/a/                  a trailing slash is kept
//
// After a ** no other * or ** (nor a {var}, which is an implicit *) may
// follow. Literals use the RFC 3986 pchar set without '*' and '=':
// unreserved characters, '%', most sub-delims, ':' and '@'.
const templateLiteral = `a-zA-Z0-9\-._~%!$&'()+,;:@`

var (
	templateVarName    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)
	templateLiteralSeg = regexp.MustCompile(`^[` + templateLiteral + `]+$`)
	templatePrintable  = regexp.MustCompile(`^/[[:graph:]]*$`)
	rewriteLiteral     = regexp.MustCompile(`^[` + templateLiteral + `/]*$`)
)

// Envoy's limits on template variables.
const (
	maxTemplateVars   = 5
	maxTemplateVarLen = 16
)

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

// templateParser turns a template into a regular expression, one piece at a
// time, enforcing Envoy's rules as it goes.
type templateParser struct {
	re       strings.Builder
	vars     []string
	textGlob bool // a ** has been seen
}

// ParsePathTemplate checks a path template such as "/users/{id}/**" and
// compiles it to a regular expression with one capture group per variable.
func ParsePathTemplate(tmpl string) (*PathTemplate, error) {
	if !strings.HasPrefix(tmpl, "/") {
		return nil, fmt.Errorf("must start with '/'")
	}
	if !templatePrintable.MatchString(tmpl) {
		return nil, fmt.Errorf("must not contain spaces or control characters")
	}
	tp := &templateParser{}
	tp.re.WriteString("^/")
	rest := tmpl[1:]
	for rest != "" {
		var err error
		switch rest[0] {
		case '*':
			rest, err = tp.glob(rest)
		case '{':
			rest, err = tp.variable(rest)
		default:
			rest, err = tp.literal(rest)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case rest == "" || rest == "/":
			tp.re.WriteString(rest) // a trailing slash is part of the template
			rest = ""
		case rest[0] == '/':
			if rest[1] == '/' {
				return nil, fmt.Errorf("empty path segment")
			}
			tp.re.WriteString("/")
			rest = rest[1:]
		default:
			// A literal glued to a glob or variable ("*.m4s") must end the
			// template.
			if rest, err = tp.literal(rest); err != nil {
				return nil, err
			}
			if rest != "" {
				return nil, fmt.Errorf("text after a glob or variable must end the template")
			}
		}
	}
	tp.re.WriteString("$")
	return &PathTemplate{Regexp: regexp.MustCompile(tp.re.String()), Vars: tp.vars}, nil
}

func (tp *templateParser) glob(s string) (string, error) {
	if tp.textGlob {
		return "", fmt.Errorf("no '*', '**' or {var} may follow '**'")
	}
	if strings.HasPrefix(s, "**") {
		tp.textGlob = true
		tp.re.WriteString(`[` + templateLiteral + `/]*`)
		return s[2:], nil
	}
	tp.re.WriteString(`[` + templateLiteral + `]+`)
	return s[1:], nil
}

func (tp *templateParser) literal(s string) (string, error) {
	lit, rest := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		lit, rest = s[:i], s[i:]
	}
	if lit == "" {
		return "", fmt.Errorf("empty path segment")
	}
	if !templateLiteralSeg.MatchString(lit) {
		return "", fmt.Errorf("invalid segment %q (use literals, '*', '**' or '{var}')", lit)
	}
	tp.re.WriteString(regexp.QuoteMeta(lit))
	return rest, nil
}

func (tp *templateParser) variable(s string) (string, error) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", fmt.Errorf("unclosed '{'")
	}
	inner, rest := s[1:end], s[end+1:]
	name, pattern, hasPattern := strings.Cut(inner, "=")
	switch {
	case !templateVarName.MatchString(name):
		return "", fmt.Errorf("invalid variable name %q (letters, digits and '_', starting with a letter)", name)
	case len(name) > maxTemplateVarLen:
		return "", fmt.Errorf("variable name %q is longer than %d characters", name, maxTemplateVarLen)
	case slices.Contains(tp.vars, name):
		return "", fmt.Errorf("variable %q appears twice", name)
	case len(tp.vars) == maxTemplateVars:
		return "", fmt.Errorf("at most %d variables are allowed", maxTemplateVars)
	case hasPattern && pattern == "":
		return "", fmt.Errorf("variable %q has an empty pattern", name)
	}
	tp.vars = append(tp.vars, name)
	tp.re.WriteString("(")
	if !hasPattern {
		pattern = "*"
	}
	for pattern != "" {
		var err error
		if pattern[0] == '*' {
			pattern, err = tp.glob(pattern)
		} else {
			pattern, err = tp.literal(pattern)
		}
		if err != nil {
			return "", fmt.Errorf("variable %q: %w", name, err)
		}
		if pattern != "" {
			if pattern[0] != '/' || pattern == "/" {
				return "", fmt.Errorf("variable %q: invalid pattern", name)
			}
			tp.re.WriteString("/")
			pattern = pattern[1:]
		}
	}
	tp.re.WriteString(")")
	return rest, nil
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
			i = len(rest)
		}
		if !rewriteLiteral.MatchString(rest[:i]) {
			return "", fmt.Errorf("invalid characters in %q", rest[:i])
		}
		out.WriteString(rest[:i])
		if i == len(rest) {
			break
		}
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
