package translate

import (
	"fmt"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	uritemplatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/path/match/uri_template/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/model"
)

// The pseudo-headers Envoy exposes to header matchers. They are always
// present on a request, so invert_match on them is an exact negation.
const (
	headerAuthority = ":authority"
	headerPath      = ":path"
	headerMethod    = ":method"
	headerScheme    = ":scheme"
)

// grpcContentType is the content-type test Envoy's grpc route match applies:
// application/grpc, optionally followed by "+codec".
const grpcContentType = `application/grpc(?:\+.*)?`

// pathUse says how the route action needs the path matched: a prefix rewrite
// needs a prefix-like path specifier, a template rewrite a uri_template one.
type pathUse int

const (
	pathAny pathUse = iota
	pathForPrefixRewrite
	pathForTemplateRewrite
)

// matchResult is a term's route match and what its path specifier was.
type matchResult struct {
	match *routev3.RouteMatch
	// primary is the path literal used as the path specifier, nil when the
	// route matches every path.
	primary *literal
}

// buildMatch maps the non-host literals of a term to an Envoy RouteMatch.
// One positive path literal becomes the path specifier; every other path
// literal runs as a regex header matcher on :path.
//
// target is the top-level path predicate a prefix or template rewrite
// replaces (model.MatchedPathPrefix / MatchedPathTemplate); it must be the
// path specifier, because Envoy rewrites relative to the specifier.
//
// m is the zero RouteMatch to fill in.
func buildMatch(t term, use pathUse, target *model.Condition, m *routev3.RouteMatch) (matchResult, error) {
	primary := choosePrimaryPath(t, use, target)
	var res matchResult
	if primary < 0 {
		switch use {
		case pathForPrefixRewrite:
			return res, fieldError("when", fmt.Errorf("a path prefix rewrite or redirect needs exactly one top-level path prefix, segment-prefix or exact condition"))
		case pathForTemplateRewrite:
			return res, fieldError("when", fmt.Errorf("a path template rewrite needs exactly one top-level path template condition"))
		}
		m.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/"}
	} else {
		res.primary = &t[primary]
		if err := setPathSpecifier(m, *t[primary].pred); err != nil {
			return res, withPath(t[primary].path, err)
		}
	}
	for i, l := range t {
		if i == primary {
			continue
		}
		kind, key, _ := model.ParseField(l.pred.Field)
		var err error
		switch kind {
		case model.FieldHost:
			continue // placed per virtual host
		case model.FieldPath:
			err = addPathHeader(m, l)
		case model.FieldMethod:
			err = addPseudoHeader(m, headerMethod, l)
		case model.FieldScheme:
			err = addPseudoHeader(m, headerScheme, l)
		case model.FieldHeader:
			err = addHeader(m, key, l)
		case model.FieldCookie:
			err = addCookie(m, key, l)
		case model.FieldQuery:
			err = addQuery(m, key, l)
		case model.FieldGRPC:
			err = addGRPC(m, l)
		default:
			err = fmt.Errorf("field %q is not supported here", l.pred.Field)
		}
		if err != nil {
			return res, withPath(l.path, err)
		}
	}
	res.match = m
	return res, nil
}

func withPath(path string, err error) error {
	return fieldError(path, err)
}

// choosePrimaryPath picks the literal that becomes the path specifier: the
// rewrite's target when there is one, else the first positive path test
// Envoy has a specifier for (exact and prefix before the rest).
func choosePrimaryPath(t term, use pathUse, target *model.Condition) int {
	best, bestRank := -1, 99
	for i, l := range t {
		if l.neg || l.pred.Field != model.FieldPath {
			continue
		}
		if use != pathAny {
			if target != nil && l.pred.Op == target.Op && l.pred.Value == target.Value && l.pred.IgnoreCase == target.IgnoreCase {
				return i
			}
			continue
		}
		rank := 99
		switch l.pred.Op {
		case model.OpPrefix, model.OpEquals, model.OpExact:
			rank = 1
		case model.OpSegmentPrefix:
			rank = 2
		case model.OpTemplate:
			rank = 3
		case model.OpRegex:
			rank = 4
		}
		if rank < bestRank {
			best, bestRank = i, rank
		}
	}
	return best
}

func setPathSpecifier(m *routev3.RouteMatch, p model.Condition) error {
	cs := !p.IgnoreCase
	switch p.Op {
	case model.OpEquals, model.OpExact:
		m.PathSpecifier = &routev3.RouteMatch_Path{Path: p.Value}
	case model.OpPrefix:
		m.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: p.Value}
	case model.OpSegmentPrefix:
		v := p.Value
		if v != "" && v != "/" && strings.HasPrefix(v, "/") && !strings.HasSuffix(v, "/") && !strings.ContainsAny(v, "?#") {
			m.PathSpecifier = &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: v}
			break
		}
		// Values Envoy refuses for path_separated_prefix: match the plain
		// prefix (so a prefix rewrite still replaces it) and check the
		// segment boundary on :path.
		m.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: v}
		if err := addPathHeader(m, literal{pred: &p}); err != nil {
			return err
		}
	case model.OpTemplate:
		cfg, err := anyOf(&uritemplatev3.UriTemplateMatchConfig{PathTemplate: p.Value})
		if err != nil {
			return err
		}
		m.PathSpecifier = &routev3.RouteMatch_PathMatchPolicy{PathMatchPolicy: typedExtension("envoy.path.match.uri_template.uri_template_matcher", cfg)}
	case model.OpRegex:
		if err := checkRegex(p.Value); err != nil {
			return err
		}
		re := p.Value
		if p.IgnoreCase {
			re = "(?i)" + re // safe_regex ignores case_sensitive
		}
		m.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: regexMatcher(re)}
		return nil
	default:
		return fmt.Errorf("operator %q is not supported on path", p.Op)
	}
	if !cs {
		m.CaseSensitive = wrapperspb.Bool(false)
	}
	return nil
}

// pathRegex is a regex over the path (without query) equivalent to p, with
// '?' removed from what it can match so it can be followed by the query.
func pathRegex(p model.Condition) (string, error) {
	var re string
	var err error
	switch p.Op {
	case model.OpSegmentPrefix:
		re = quoteFold(p.IgnoreCase)(p.Value) + "(?:/.*)?"
	case model.OpTemplate:
		re, err = templateRegex(p.Value)
	default:
		re, err = stringRegex(p)
	}
	if err != nil {
		return "", err
	}
	return excludeRunes(re, "?")
}

// stringRegex renders a string test as a full-match regex in which "any
// text" is ".*"; callers remove the characters their context cannot hold
// with excludeRunes.
func stringRegex(c model.Condition) (string, error) {
	op, ok := envoyOpOf(c.Op)
	if !ok || op.regex == nil {
		return "", fmt.Errorf("operator %q is not supported on %s", c.Op, c.Field)
	}
	return op.regex(c)
}

// templateRegex is the regex of a uri template that is not the route's path
// specifier, from the model's parser (which follows Envoy's matcher).
func templateRegex(tmpl string) (string, error) {
	t, err := model.ParsePathTemplate(tmpl)
	if err != nil {
		return "", fmt.Errorf("invalid path template %q: %w", tmpl, err)
	}
	re := t.Regexp.String()
	return strings.TrimSuffix(strings.TrimPrefix(re, "^"), "$"), nil
}

// addPathHeader runs a path test as a regex on :path. :path carries the
// query, so the regex allows an optional "?query" after the path part.
func addPathHeader(m *routev3.RouteMatch, l literal) error {
	re, err := pathRegex(*l.pred)
	if err != nil {
		return err
	}
	m.Headers = append(m.Headers, &routev3.HeaderMatcher{
		Name:                 headerPath,
		HeaderMatchSpecifier: stringMatch(regexString(re + `(?:\?.*)?`)),
		InvertMatch:          l.neg,
	})
	return nil
}

// addPseudoHeader maps a test on an always-present pseudo-header (:method,
// :scheme, :authority); negation is a plain invert_match.
func addPseudoHeader(m *routev3.RouteMatch, name string, l literal) error {
	sm, err := valueMatcher(*l.pred, l.pred.IgnoreCase)
	if err != nil {
		return err
	}
	m.Headers = append(m.Headers, &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: stringMatch(sm), InvertMatch: l.neg})
	return nil
}

// addHeader maps a header test. The rule language says a value test on a
// missing header is false, and its negation true; Envoy fails value matchers
// on a missing header even when inverted, so negations treat the missing
// header as "" (dnf splits off the tests "" would pass).
func addHeader(m *routev3.RouteMatch, name string, l literal) error {
	hm := &routev3.HeaderMatcher{Name: strings.ToLower(name)}
	switch {
	case l.pred.Op == model.OpPresent:
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
	case l.pred.Op == model.OpAbsent:
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
		hm.InvertMatch = true
	case complementOf(l.pred.Op) != "":
		// "present and different": an inverted value matcher, which Envoy
		// fails on a missing header.
		sm, err := valueMatcher(positiveOf(*l.pred), l.pred.IgnoreCase)
		if err != nil {
			return err
		}
		hm.HeaderMatchSpecifier = stringMatch(sm)
		hm.InvertMatch = true
	default:
		sm, err := valueMatcher(*l.pred, l.pred.IgnoreCase)
		if err != nil {
			return err
		}
		hm.HeaderMatchSpecifier = stringMatch(sm)
		if l.neg {
			hm.InvertMatch = true
			hm.TreatMissingHeaderAsEmpty = !l.keepMissing
		}
	}
	m.Headers = append(m.Headers, hm)
	return nil
}

// positiveOf turns a value operator that complements another (not-equals,
// not-in) into that one.
func positiveOf(c model.Condition) model.Condition {
	if pos := complementOf(c.Op); pos != "" {
		return withOp(c, pos)
	}
	return c
}

// complementOf is the operator a value operator negates (equals for
// not-equals), or "".
func complementOf(op string) string {
	if o, ok := model.LookupOperator(op); ok && o.Shape != model.ShapeNone {
		return o.Complement
	}
	return ""
}

// addCookie tests the cookie header with a regex that finds a cookie of the
// given name in the list; the value may be wrapped in double quotes, which
// the comparison ignores. A missing cookie header is treated as "" for
// negations; the cookie regex never matches "", so that is exact.
func addCookie(m *routev3.RouteMatch, name string, l literal) error {
	cookieRe := func(value string) string {
		return `(?:.*;)?[ \t]*` + quote(name) + `=(?:` + value + `|"` + value + `")(?:;.*)?`
	}
	add := func(re string, invert bool) {
		m.Headers = append(m.Headers, &routev3.HeaderMatcher{
			Name:                      "cookie",
			HeaderMatchSpecifier:      stringMatch(regexString(re)),
			InvertMatch:               invert,
			TreatMissingHeaderAsEmpty: invert,
		})
	}
	switch {
	case l.pred.Op == model.OpPresent:
		add(cookieRe(`[^;]*`), l.neg)
	case l.pred.Op == model.OpAbsent:
		add(cookieRe(`[^;]*`), !l.neg)
	case complementOf(l.pred.Op) != "":
		if l.neg {
			return fmt.Errorf("negated %s is not supported on cookies", l.pred.Op)
		}
		v, err := cookieValueRegex(positiveOf(*l.pred))
		if err != nil {
			return err
		}
		add(cookieRe(`[^;]*`), false)
		add(cookieRe(v), true)
	default:
		v, err := cookieValueRegex(*l.pred)
		if err != nil {
			return err
		}
		add(cookieRe(v), l.neg)
	}
	return nil
}

func cookieValueRegex(c model.Condition) (string, error) {
	re, err := stringRegex(c)
	if err != nil {
		return "", err
	}
	return excludeRunes(re, ";")
}

// addQuery maps a query parameter test. Envoy matches the first value of the
// key, without URL-decoding, and only when the key is present; it has no
// inverted query matcher, so negated value tests are rejected.
func addQuery(m *routev3.RouteMatch, key string, l literal) error {
	switch {
	case l.pred.Op == model.OpAbsent:
		// No query matcher tests absence: test :path for the key instead.
		re := `[^?]*\?(?:[^&]*&)*` + quote(key) + `(?:=[^&]*)?(?:&.*)?`
		m.Headers = append(m.Headers, &routev3.HeaderMatcher{Name: headerPath, HeaderMatchSpecifier: stringMatch(regexString(re)), InvertMatch: true})
		return nil
	case l.neg, complementOf(l.pred.Op) != "":
		return fmt.Errorf("negated query parameter tests (%s) cannot be expressed in Envoy; test the parameter positively or use a header", l.pred.Op)
	case l.pred.Op == model.OpPresent:
		m.QueryParameters = append(m.QueryParameters, &routev3.QueryParameterMatcher{
			Name: key, QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true},
		})
		return nil
	}
	sm, err := valueMatcher(*l.pred, l.pred.IgnoreCase)
	if err != nil {
		return err
	}
	m.QueryParameters = append(m.QueryParameters, &routev3.QueryParameterMatcher{
		Name: key, QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: sm},
	})
	return nil
}

// addGRPC maps grpc present/absent.
func addGRPC(m *routev3.RouteMatch, l literal) error {
	switch {
	case l.pred.Op == model.OpPresent && !l.neg:
		m.Grpc = &routev3.RouteMatch_GrpcRouteMatchOptions{}
	case l.pred.Op == model.OpAbsent && !l.neg:
		m.Headers = append(m.Headers, &routev3.HeaderMatcher{
			Name:                      "content-type",
			HeaderMatchSpecifier:      stringMatch(regexString(grpcContentType)),
			InvertMatch:               true,
			TreatMissingHeaderAsEmpty: true,
		})
	default:
		return fmt.Errorf("operator %q is not supported on grpc (use present or absent)", l.pred.Op)
	}
	return nil
}

// valueMatcher maps a string test to an Envoy StringMatcher.
func valueMatcher(c model.Condition, ignoreCase bool) (*matcherv3.StringMatcher, error) {
	op, ok := envoyOpOf(c.Op)
	if !ok || op.matcher == nil {
		return nil, fmt.Errorf("operator %q is not supported on %s", c.Op, c.Field)
	}
	return op.matcher(c, ignoreCase)
}

func regexMatcher(re string) *matcherv3.RegexMatcher {
	return &matcherv3.RegexMatcher{Regex: re}
}

func regexString(re string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: regexMatcher(re)}}
}

func stringMatch(sm *matcherv3.StringMatcher) *routev3.HeaderMatcher_StringMatch {
	return &routev3.HeaderMatcher_StringMatch{StringMatch: sm}
}
