package sim

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// compileRegex compiles an RE2 pattern for a full match, as Envoy's
// safe_regex always anchors at both ends.
func compileRegex(re *matcherv3.RegexMatcher) (*regexp.Regexp, error) {
	if re == nil {
		return nil, fmt.Errorf("regex matcher is empty")
	}
	return compileFullRegex(re.GetRegex())
}

func compileFullRegex(pattern string) (*regexp.Regexp, error) {
	rx, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("invalid regex %q: %w", pattern, err)
	}
	return rx, nil
}

// compileSearchRegex compiles an unanchored pattern for rewrites
// (regex_rewrite replaces every match, not a full match).
func compileSearchRegex(re *matcherv3.RegexMatcher) (*regexp.Regexp, error) {
	if re == nil {
		return nil, fmt.Errorf("regex matcher is empty")
	}
	rx, err := regexp.Compile(re.GetRegex())
	if err != nil {
		return nil, fmt.Errorf("invalid regex %q: %w", re.GetRegex(), err)
	}
	return rx, nil
}

type strKind uint8

const (
	strExact strKind = iota
	strPrefix
	strSuffix
	strContains
	strRegex
)

// StringMatcher is a compiled envoy.type.matcher.v3.StringMatcher.
type StringMatcher struct {
	kind       strKind
	value      string // lower-cased when ignoreCase
	ignoreCase bool
	re         *regexp.Regexp
}

// NewStringMatcher compiles a StringMatcher proto.
func NewStringMatcher(m *matcherv3.StringMatcher) (*StringMatcher, error) {
	if m == nil {
		return nil, fmt.Errorf("string matcher is empty")
	}
	sm := &StringMatcher{ignoreCase: m.GetIgnoreCase()}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		sm.kind, sm.value = strExact, p.Exact
	case *matcherv3.StringMatcher_Prefix:
		sm.kind, sm.value = strPrefix, p.Prefix
		if p.Prefix == "" {
			return nil, fmt.Errorf("prefix must not be empty")
		}
	case *matcherv3.StringMatcher_Suffix:
		sm.kind, sm.value = strSuffix, p.Suffix
		if p.Suffix == "" {
			return nil, fmt.Errorf("suffix must not be empty")
		}
	case *matcherv3.StringMatcher_Contains:
		sm.kind, sm.value = strContains, p.Contains
		if p.Contains == "" {
			return nil, fmt.Errorf("contains must not be empty")
		}
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := compileRegex(p.SafeRegex)
		if err != nil {
			return nil, err
		}
		// ignore_case does not apply to regex in Envoy.
		sm.kind, sm.re, sm.ignoreCase = strRegex, re, false
	default:
		return nil, fmt.Errorf("string matcher has no pattern")
	}
	if sm.ignoreCase {
		sm.value = strings.ToLower(sm.value)
	}
	return sm, nil
}

// Match reports whether s matches.
func (m *StringMatcher) Match(s string) bool {
	switch m.kind {
	case strExact:
		if m.ignoreCase {
			return strings.EqualFold(s, m.value)
		}
		return s == m.value
	case strPrefix:
		if m.ignoreCase {
			return len(s) >= len(m.value) && strings.EqualFold(s[:len(m.value)], m.value)
		}
		return strings.HasPrefix(s, m.value)
	case strSuffix:
		if m.ignoreCase {
			return len(s) >= len(m.value) && strings.EqualFold(s[len(s)-len(m.value):], m.value)
		}
		return strings.HasSuffix(s, m.value)
	case strContains:
		if m.ignoreCase {
			return containsFold(s, m.value)
		}
		return strings.Contains(s, m.value)
	case strRegex:
		return m.re.MatchString(s)
	}
	return false
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

type hdrKind uint8

const (
	hdrPresent hdrKind = iota
	hdrString
	hdrRange
)

// HeaderMatcher is a compiled envoy.config.route.v3.HeaderMatcher.
type HeaderMatcher struct {
	name           string
	kind           hdrKind
	present        bool
	str            *StringMatcher
	rangeStart     int64
	rangeEnd       int64
	invert         bool
	missingAsEmpty bool
	desc           string
}

// NewHeaderMatcher compiles a HeaderMatcher proto. The deprecated
// exact/prefix/suffix/contains/safe_regex fields behave like string_match.
func NewHeaderMatcher(h *routev3.HeaderMatcher) (*HeaderMatcher, error) {
	hm := &HeaderMatcher{
		name:           strings.ToLower(h.GetName()),
		invert:         h.GetInvertMatch(),
		missingAsEmpty: h.GetTreatMissingHeaderAsEmpty(),
	}
	var err error
	str := func(m *matcherv3.StringMatcher) {
		hm.kind = hdrString
		hm.str, err = NewStringMatcher(m)
	}
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case nil:
		hm.kind, hm.present = hdrPresent, true
		hm.desc = "present"
	case *routev3.HeaderMatcher_PresentMatch:
		hm.kind, hm.present = hdrPresent, s.PresentMatch
		hm.desc = fmt.Sprintf("present_match=%t", s.PresentMatch)
	case *routev3.HeaderMatcher_ExactMatch:
		str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s.ExactMatch}})
		hm.desc = fmt.Sprintf("exact %q", s.ExactMatch)
	case *routev3.HeaderMatcher_PrefixMatch:
		str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: s.PrefixMatch}})
		hm.desc = fmt.Sprintf("prefix %q", s.PrefixMatch)
	case *routev3.HeaderMatcher_SuffixMatch:
		str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: s.SuffixMatch}})
		hm.desc = fmt.Sprintf("suffix %q", s.SuffixMatch)
	case *routev3.HeaderMatcher_ContainsMatch:
		str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: s.ContainsMatch}})
		hm.desc = fmt.Sprintf("contains %q", s.ContainsMatch)
	case *routev3.HeaderMatcher_SafeRegexMatch:
		str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: s.SafeRegexMatch}})
		hm.desc = fmt.Sprintf("regex %q", s.SafeRegexMatch.GetRegex())
	case *routev3.HeaderMatcher_StringMatch:
		str(s.StringMatch)
		hm.desc = describeStringMatcher(s.StringMatch)
	case *routev3.HeaderMatcher_RangeMatch:
		hm.kind = hdrRange
		hm.rangeStart, hm.rangeEnd = s.RangeMatch.GetStart(), s.RangeMatch.GetEnd()
		hm.desc = fmt.Sprintf("range [%d,%d)", hm.rangeStart, hm.rangeEnd)
	default:
		return nil, fmt.Errorf("header %q: unsupported matcher %T", h.GetName(), s)
	}
	if err != nil {
		return nil, fmt.Errorf("header %q: %w", h.GetName(), err)
	}
	if hm.invert {
		hm.desc = "not " + hm.desc
	}
	hm.desc = hm.name + " " + hm.desc
	return hm, nil
}

func describeStringMatcher(m *matcherv3.StringMatcher) string {
	var d string
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		d = fmt.Sprintf("exact %q", p.Exact)
	case *matcherv3.StringMatcher_Prefix:
		d = fmt.Sprintf("prefix %q", p.Prefix)
	case *matcherv3.StringMatcher_Suffix:
		d = fmt.Sprintf("suffix %q", p.Suffix)
	case *matcherv3.StringMatcher_Contains:
		d = fmt.Sprintf("contains %q", p.Contains)
	case *matcherv3.StringMatcher_SafeRegex:
		d = fmt.Sprintf("regex %q", p.SafeRegex.GetRegex())
	}
	if m.GetIgnoreCase() {
		d += " (ignore case)"
	}
	return d
}

// Name is the lower-case header name the matcher reads.
func (m *HeaderMatcher) Name() string { return m.name }

// String describes the matcher for traces.
func (m *HeaderMatcher) String() string { return m.desc }

// Match applies the matcher to a header list. Repeated headers are joined
// with "," first, as Envoy does.
func (m *HeaderMatcher) Match(h Headers) bool {
	v, ok := h.joined(m.name)
	return m.matchValue(v, ok)
}

func (m *HeaderMatcher) matchValue(v string, ok bool) bool {
	if !ok {
		if m.kind == hdrPresent {
			// present_match:false (or an inverted present) matches absence.
			return m.present == m.invert
		}
		if !m.missingAsEmpty {
			// A value matcher never matches a missing header, even inverted.
			return false
		}
		v = ""
	}
	var r bool
	switch m.kind {
	case hdrPresent:
		r = m.present
	case hdrString:
		r = m.str.Match(v)
	case hdrRange:
		n, err := strconv.ParseInt(v, 10, 64)
		r = err == nil && n >= m.rangeStart && n < m.rangeEnd
	}
	return r != m.invert
}

// queryMatcher is a compiled QueryParameterMatcher.
type queryMatcher struct {
	name    string
	present bool
	str     *StringMatcher
	desc    string
}

func newQueryMatcher(q *routev3.QueryParameterMatcher) (*queryMatcher, error) {
	qm := &queryMatcher{name: q.GetName()}
	switch s := q.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_PresentMatch:
		qm.present = s.PresentMatch
		qm.desc = fmt.Sprintf("query %s present", q.GetName())
	case *routev3.QueryParameterMatcher_StringMatch:
		sm, err := NewStringMatcher(s.StringMatch)
		if err != nil {
			return nil, fmt.Errorf("query parameter %q: %w", q.GetName(), err)
		}
		qm.str = sm
		qm.desc = fmt.Sprintf("query %s %s", q.GetName(), describeStringMatcher(s.StringMatch))
	default:
		// No specifier: Envoy treats it as a presence check.
		qm.present = true
		qm.desc = fmt.Sprintf("query %s present", q.GetName())
	}
	return qm, nil
}

// firstQueryValue finds the first value of key in the raw (not decoded)
// query string, as Envoy's parseQueryString(decode=false) does.
func firstQueryValue(query, key string) (string, bool) {
	for query != "" {
		var part string
		if i := strings.IndexByte(query, '&'); i >= 0 {
			part, query = query[:i], query[i+1:]
		} else {
			part, query = query, ""
		}
		if part == "" {
			continue
		}
		k, v := part, ""
		if i := strings.IndexByte(part, '='); i >= 0 {
			k, v = part[:i], part[i+1:]
		}
		if k == key {
			return v, true
		}
	}
	return "", false
}

func (q *queryMatcher) match(query string) bool {
	v, ok := firstQueryValue(query, q.name)
	if !ok {
		return false
	}
	if q.str == nil {
		return q.present
	}
	return q.str.Match(v)
}

// metadataMatcher is a compiled envoy.type.matcher.v3.MetadataMatcher.
type metadataMatcher struct {
	filter string
	path   []string
	value  *valueMatcher
	invert bool
	desc   string
}

func newMetadataMatcher(m *matcherv3.MetadataMatcher) (*metadataMatcher, error) {
	mm := &metadataMatcher{filter: m.GetFilter(), invert: m.GetInvert()}
	for _, seg := range m.GetPath() {
		mm.path = append(mm.path, seg.GetKey())
	}
	vm, err := newValueMatcher(m.GetValue())
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", m.GetFilter(), err)
	}
	mm.value = vm
	mm.desc = fmt.Sprintf("metadata %s.%s", mm.filter, strings.Join(mm.path, "."))
	if mm.invert {
		mm.desc = "not " + mm.desc
	}
	return mm, nil
}

func (m *metadataMatcher) match(md map[string]*structpb.Struct) bool {
	var v *structpb.Value
	if s := md[m.filter]; s != nil && len(m.path) > 0 {
		cur := s
		for i, k := range m.path {
			v = cur.GetFields()[k]
			if v == nil {
				break
			}
			if i < len(m.path)-1 {
				cur = v.GetStructValue()
				if cur == nil {
					v = nil
					break
				}
			}
		}
	}
	return m.value.match(v) != m.invert
}

type valueMatcher struct {
	str         *StringMatcher
	null        bool
	present     bool
	boolean     *bool
	doubleExact *float64
	doubleRange *[2]float64
	orMatch     []*valueMatcher
	list        *valueMatcher
}

func newValueMatcher(v *matcherv3.ValueMatcher) (*valueMatcher, error) {
	vm := &valueMatcher{}
	switch p := v.GetMatchPattern().(type) {
	case *matcherv3.ValueMatcher_StringMatch:
		sm, err := NewStringMatcher(p.StringMatch)
		if err != nil {
			return nil, err
		}
		vm.str = sm
	case *matcherv3.ValueMatcher_NullMatch_:
		vm.null = true
	case *matcherv3.ValueMatcher_PresentMatch:
		vm.present = true
	case *matcherv3.ValueMatcher_BoolMatch:
		b := p.BoolMatch
		vm.boolean = &b
	case *matcherv3.ValueMatcher_DoubleMatch:
		switch d := p.DoubleMatch.GetMatchPattern().(type) {
		case *matcherv3.DoubleMatcher_Exact:
			e := d.Exact
			vm.doubleExact = &e
		case *matcherv3.DoubleMatcher_Range:
			vm.doubleRange = &[2]float64{d.Range.GetStart(), d.Range.GetEnd()}
		default:
			return nil, fmt.Errorf("double matcher has no pattern")
		}
	case *matcherv3.ValueMatcher_ListMatch:
		inner, err := newValueMatcher(p.ListMatch.GetOneOf())
		if err != nil {
			return nil, err
		}
		vm.list = inner
	case *matcherv3.ValueMatcher_OrMatch:
		for _, o := range p.OrMatch.GetValueMatchers() {
			inner, err := newValueMatcher(o)
			if err != nil {
				return nil, err
			}
			vm.orMatch = append(vm.orMatch, inner)
		}
	default:
		return nil, fmt.Errorf("value matcher has no pattern")
	}
	return vm, nil
}

func (m *valueMatcher) match(v *structpb.Value) bool {
	switch {
	case m.null:
		return v != nil && isNull(v)
	case v == nil:
		return false
	case m.present:
		return true
	case m.str != nil:
		s, ok := v.GetKind().(*structpb.Value_StringValue)
		return ok && m.str.Match(s.StringValue)
	case m.boolean != nil:
		b, ok := v.GetKind().(*structpb.Value_BoolValue)
		return ok && b.BoolValue == *m.boolean
	case m.doubleExact != nil:
		n, ok := v.GetKind().(*structpb.Value_NumberValue)
		return ok && n.NumberValue == *m.doubleExact
	case m.doubleRange != nil:
		n, ok := v.GetKind().(*structpb.Value_NumberValue)
		return ok && n.NumberValue >= m.doubleRange[0] && n.NumberValue < m.doubleRange[1]
	case m.list != nil:
		for _, e := range v.GetListValue().GetValues() {
			if m.list.match(e) {
				return true
			}
		}
		return false
	case m.orMatch != nil:
		for _, o := range m.orMatch {
			if o.match(v) {
				return true
			}
		}
	}
	return false
}

func isNull(v *structpb.Value) bool {
	_, ok := v.GetKind().(*structpb.Value_NullValue)
	return ok
}
