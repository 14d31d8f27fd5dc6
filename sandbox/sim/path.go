package sim

import (
	"fmt"
	"regexp"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matchtmpl "github.com/envoyproxy/go-control-plane/envoy/extensions/path/match/uri_template/v3"
	rewritetmpl "github.com/envoyproxy/go-control-plane/envoy/extensions/path/rewrite/uri_template/v3"
	"google.golang.org/protobuf/proto"
)

type pathKind uint8

const (
	pathPrefix pathKind = iota
	pathExact
	pathRegex
	pathSeparatedPrefix
	pathTemplate
	pathConnect
)

var pathKindNames = [...]string{"prefix", "path", "safe_regex", "path_separated_prefix", "path_match_policy", "connect_matcher"}

// pathMatcher is the compiled path specifier of a RouteMatch.
type pathMatcher struct {
	kind          pathKind
	value         string
	caseSensitive bool
	re            *regexp.Regexp
	tmpl          *uriTemplate
}

func newPathMatcher(m *routev3.RouteMatch) (*pathMatcher, error) {
	pm := &pathMatcher{caseSensitive: true}
	if cs := m.GetCaseSensitive(); cs != nil {
		pm.caseSensitive = cs.GetValue()
	}
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		pm.kind, pm.value = pathPrefix, p.Prefix
	case *routev3.RouteMatch_Path:
		pm.kind, pm.value = pathExact, p.Path
	case *routev3.RouteMatch_SafeRegex:
		re, err := compileRegex(p.SafeRegex)
		if err != nil {
			return nil, fmt.Errorf("safe_regex: %w", err)
		}
		// case_sensitive does not apply to regex routes.
		pm.kind, pm.re, pm.value, pm.caseSensitive = pathRegex, re, p.SafeRegex.GetRegex(), true
	case *routev3.RouteMatch_PathSeparatedPrefix:
		v := p.PathSeparatedPrefix
		if strings.HasSuffix(v, "/") || strings.ContainsAny(v, "?#") {
			return nil, fmt.Errorf("path_separated_prefix %q must not end in / or contain ? or #", v)
		}
		pm.kind, pm.value = pathSeparatedPrefix, v
	case *routev3.RouteMatch_PathMatchPolicy:
		cfg := &matchtmpl.UriTemplateMatchConfig{}
		if err := p.PathMatchPolicy.GetTypedConfig().UnmarshalTo(cfg); err != nil {
			return nil, fmt.Errorf("path_match_policy %q: only uri_template is supported: %w", p.PathMatchPolicy.GetName(), err)
		}
		t, err := parseURITemplate(cfg.GetPathTemplate())
		if err != nil {
			return nil, fmt.Errorf("path_match_policy: %w", err)
		}
		pm.kind, pm.tmpl, pm.value, pm.caseSensitive = pathTemplate, t, cfg.GetPathTemplate(), true
	case *routev3.RouteMatch_ConnectMatcher_:
		pm.kind = pathConnect
	default:
		return nil, fmt.Errorf("route match has no path specifier")
	}
	return pm, nil
}

func (p *pathMatcher) String() string {
	if p.kind == pathConnect {
		return "connect_matcher"
	}
	s := fmt.Sprintf("%s %q", pathKindNames[p.kind], p.value)
	if !p.caseSensitive {
		s += " (case-insensitive)"
	}
	return s
}

// match tests the path without its query and fragment.
func (p *pathMatcher) match(path, method string) bool {
	switch p.kind {
	case pathPrefix:
		if p.caseSensitive {
			return strings.HasPrefix(path, p.value)
		}
		return len(path) >= len(p.value) && strings.EqualFold(path[:len(p.value)], p.value)
	case pathExact:
		if p.caseSensitive {
			return path == p.value
		}
		return strings.EqualFold(path, p.value)
	case pathRegex:
		return p.re.MatchString(path)
	case pathSeparatedPrefix:
		if len(path) < len(p.value) {
			return false
		}
		if p.caseSensitive {
			if path[:len(p.value)] != p.value {
				return false
			}
		} else if !strings.EqualFold(path[:len(p.value)], p.value) {
			return false
		}
		return len(path) == len(p.value) || path[len(p.value)] == '/'
	case pathTemplate:
		return p.tmpl.re.MatchString(path)
	case pathConnect:
		return method == "CONNECT"
	}
	return false
}

// uriTemplate is a compiled Envoy uri_template path pattern.
type uriTemplate struct {
	re    *regexp.Regexp
	names []string
}

// Characters of one path segment, per RFC 3986 pchar, as Envoy's template
// matcher allows them.
const segChars = `[a-zA-Z0-9\-._~%!$&'()+,;:@=]`

func parseURITemplate(t string) (*uriTemplate, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, fmt.Errorf("template %q must start with /", t)
	}
	var b strings.Builder
	b.WriteString("^")
	ut := &uriTemplate{}
	seen := map[string]bool{}
	sawDoubleStar := false
	segs := splitOutsideBraces(t[1:])
	for i, seg := range segs {
		b.WriteString("/")
		if sawDoubleStar {
			return nil, fmt.Errorf("template %q: ** must be the last operator", t)
		}
		switch {
		case seg == "**":
			b.WriteString(segChars[:len(segChars)-1] + `/]*`)
			sawDoubleStar = true
		case seg == "*":
			b.WriteString(segChars + "+")
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			inner := seg[1 : len(seg)-1]
			name, sub := inner, "*"
			if j := strings.IndexByte(inner, '='); j >= 0 {
				name, sub = inner[:j], inner[j+1:]
			}
			if name == "" || seen[name] {
				return nil, fmt.Errorf("template %q: bad or repeated variable %q", t, name)
			}
			seen[name] = true
			ut.names = append(ut.names, name)
			b.WriteString("(?P<" + name + ">")
			for k, part := range strings.Split(sub, "/") {
				if k > 0 {
					b.WriteString("/")
				}
				switch part {
				case "**":
					if i != len(segs)-1 {
						return nil, fmt.Errorf("template %q: ** must be the last operator", t)
					}
					b.WriteString(segChars[:len(segChars)-1] + `/]*`)
					sawDoubleStar = true
				case "*":
					b.WriteString(segChars + "+")
				default:
					b.WriteString(regexp.QuoteMeta(part))
				}
			}
			b.WriteString(")")
		default:
			if strings.ContainsAny(seg, "{}*") {
				return nil, fmt.Errorf("template %q: operators must fill a whole segment (%q)", t, seg)
			}
			b.WriteString(regexp.QuoteMeta(seg))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", t, err)
	}
	ut.re = re
	return ut, nil
}

// templateRewrite is a compiled uri_template rewrite policy.
type templateRewrite struct {
	parts []string // alternating literal, variable, literal...
}

func newTemplateRewrite(pm *pathMatcher, policyName string, cfg proto.Message) (*templateRewrite, error) {
	rc, ok := cfg.(*rewritetmpl.UriTemplateRewriteConfig)
	if !ok {
		return nil, fmt.Errorf("path_rewrite_policy %q: only uri_template is supported", policyName)
	}
	if pm.kind != pathTemplate {
		return nil, fmt.Errorf("path_rewrite_policy needs a uri_template path_match_policy")
	}
	tr := &templateRewrite{}
	s := rc.GetPathTemplateRewrite()
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("rewrite template %q must start with /", s)
	}
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			tr.parts = append(tr.parts, s)
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("rewrite template %q: unclosed {", rc.GetPathTemplateRewrite())
		}
		name := s[i+1 : i+j]
		found := false
		for _, n := range pm.tmpl.names {
			found = found || n == name
		}
		if !found {
			return nil, fmt.Errorf("rewrite template %q: variable %q is not captured by the match template", rc.GetPathTemplateRewrite(), name)
		}
		tr.parts = append(tr.parts, s[:i], name)
		s = s[i+j+1:]
	}
	return tr, nil
}

func (tr *templateRewrite) rewrite(tmpl *uriTemplate, path string) string {
	m := tmpl.re.FindStringSubmatch(path)
	if m == nil {
		return path
	}
	var b strings.Builder
	for i, p := range tr.parts {
		if i%2 == 0 {
			b.WriteString(p)
			continue
		}
		b.WriteString(m[tmpl.re.SubexpIndex(p)])
	}
	return b.String()
}

// splitOutsideBraces splits a template on "/" that are not inside a
// {variable=pattern}.
func splitOutsideBraces(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case '/':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
