package translate

import (
	"fmt"
	"maps"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/routedeck/routedeck/backend/model"
)

// quote escapes s for use as a literal inside an RE2 pattern.
func quote(s string) string { return regexp.QuoteMeta(s) }

// quoteFold returns quote, or with fold a quoting that matches ASCII
// letters in either case ("Ab" -> "[aA][bB]"), which is how Envoy's
// ignore_case and the rules evaluator compare (not Unicode folding).
func quoteFold(fold bool) func(string) string {
	if !fold {
		return quote
	}
	return func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r >= 'a' && r <= 'z':
				b.WriteString("[" + string(r) + string(r-'a'+'A') + "]")
			case r >= 'A' && r <= 'Z':
				b.WriteString("[" + string(r-'A'+'a') + string(r) + "]")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		return b.String()
	}
}

// alternationFold is an RE2 group matching exactly one of values, with
// optional ASCII case folding.
func alternationFold(values []string, fold bool) string {
	q := quoteFold(fold)
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = q(v)
	}
	return "(?:" + strings.Join(parts, "|") + ")"
}

// checkRegex reports whether re compiles; Go's regexp accepts the RE2 syntax
// Envoy uses, so a pattern that fails here would be NACKed by Envoy.
func checkRegex(re string) error {
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Errorf("invalid regex %q: %w", re, err)
	}
	return nil
}

// matchesEmpty reports whether the full-match regex re matches "".
func matchesEmpty(re string) bool {
	r, err := regexp.Compile("^(?:" + re + ")$")
	return err == nil && r.MatchString("")
}

// excludeRunes rewrites re so that it matches exactly the strings re matches
// that contain none of the runes in except. Path regexes are matched by Envoy
// against the path without its query, but when a path test has to run as a
// header matcher on :path (which carries the query) the path part is the text
// before the first '?'; removing '?' from the pattern makes "pattern, then an
// optional ?query" an exact translation.
func excludeRunes(re, except string) (string, error) {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", fmt.Errorf("invalid regex %q: %w", re, err)
	}
	stripRunes(parsed, []rune(except))
	// Grouped, so the caller can append to it ("a|b" would otherwise bind
	// only its last branch to what follows).
	return "(?:" + parsed.String() + ")", nil
}

func stripRunes(re *syntax.Regexp, except []rune) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			for _, x := range except {
				if r == x || (re.Flags&syntax.FoldCase != 0 && unicode.SimpleFold(r) == x) {
					*re = syntax.Regexp{Op: syntax.OpNoMatch}
					return
				}
			}
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		ranges := []rune{0, unicode.MaxRune}
		if re.Op == syntax.OpAnyCharNotNL {
			ranges = []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}
		}
		re.Op = syntax.OpCharClass
		re.Rune = subtractRunes(ranges, except)
	case syntax.OpCharClass:
		re.Rune = subtractRunes(re.Rune, except)
		if len(re.Rune) == 0 {
			*re = syntax.Regexp{Op: syntax.OpNoMatch}
		}
	}
	for _, sub := range re.Sub {
		stripRunes(sub, except)
	}
}

// subtractRunes removes single runes from a list of inclusive ranges.
func subtractRunes(ranges []rune, except []rune) []rune {
	for _, x := range except {
		var out []rune
		for i := 0; i+1 < len(ranges); i += 2 {
			lo, hi := ranges[i], ranges[i+1]
			if x < lo || x > hi {
				out = append(out, lo, hi)
				continue
			}
			if lo <= x-1 {
				out = append(out, lo, x-1)
			}
			if x+1 <= hi {
				out = append(out, x+1, hi)
			}
		}
		ranges = out
	}
	return ranges
}

// MaxRegexProgramSize bounds the size of every regex the translator emits;
// it is the model's limit (see model.MaxRegexProgramSize for why this
// value), which writes check user regexes against too.
const MaxRegexProgramSize = model.MaxRegexProgramSize

// regexProgramSize estimates the RE2 program size of re with the model's
// measure, so a write and a publish agree on what is too large.
func regexProgramSize(re string) (int, error) {
	n, err := model.RegexProgramSize(re)
	if err != nil {
		return 0, fmt.Errorf("invalid regex %q: %w", re, err)
	}
	return n, nil
}

// regexMatcherName is the proto name every Envoy safe regex is held in.
var regexMatcherName = (&matcherv3.RegexMatcher{}).ProtoReflect().Descriptor().FullName()

// checkRegexSizes finds every regex in rt (matchers, rewrites, and those in
// per-filter configs such as CORS origins) and reports each whose program
// is larger than MaxRegexProgramSize, with the rule field it comes from.
func checkRegexSizes(rt *routev3.Route, problems *model.Problems) {
	var found regexList
	routeRegexes(rt, &found)
	for _, f := range found {
		at := "then"
		switch {
		case f.rewrite:
			at = "then.rewrite.pathRegex.pattern"
		case f.inMatch:
			at = "when"
		}
		size, err := regexProgramSize(f.re)
		if err != nil {
			problems.Add(at, "%v", err)
		} else if size > MaxRegexProgramSize {
			problems.Add(at, "regex %q is too complex for Envoy: program size about %d, limit %d; "+
				"split the rule or simplify the pattern (fewer alternatives or case-insensitive values)",
				shorten(f.re, 80), size, MaxRegexProgramSize)
		}
	}
}

// foundRegex is a regex met in a walk: in the route's match or elsewhere,
// and whether it is the pattern of a regex rewrite.
type foundRegex struct {
	re               string
	inMatch, rewrite bool
}

// regexList collects what a walk met. It is a list rather than a callback
// so that the walk, run on every route, allocates nothing when a route has
// no regex.
type regexList []foundRegex

func (l *regexList) add(re string, inMatch, rewrite bool) {
	*l = append(*l, foundRegex{re: re, inMatch: inMatch, rewrite: rewrite})
}

// routeRegexes lists every regex of rt. The messages every route is made
// of are read with their Go accessors: reflection over them cost a third
// of a cold translation. Rarer messages, and what an Any holds, are walked
// by reflection. TestRouteRegexesCoversEveryField holds these functions to
// the field list protoreflect derives, so a field added to the Envoy API
// cannot be skipped silently.
func routeRegexes(rt *routev3.Route, found *regexList) {
	if m := rt.GetMatch(); m != nil {
		matchRegexes(m, found)
	}
	switch a := rt.GetAction().(type) {
	case *routev3.Route_Route:
		actionRegexes(a.Route, found)
	case *routev3.Route_Redirect:
		messageRegexes(a.Redirect, false, found)
	case *routev3.Route_DirectResponse:
		messageRegexes(a.DirectResponse, false, found)
	case *routev3.Route_FilterAction:
		messageRegexes(a.FilterAction, false, found)
	}
	messageRegexes(rt.GetMetadata(), false, found)
	anyMapRegexes(rt.GetTypedPerFilterConfig(), false, found)
	for _, x := range rt.GetRouteSpecifiers() {
		messageRegexes(x, false, found)
	}
}

func matchRegexes(m *routev3.RouteMatch, found *regexList) {
	if r, ok := m.GetPathSpecifier().(*routev3.RouteMatch_SafeRegex); ok && r.SafeRegex != nil {
		found.add(r.SafeRegex.GetRegex(), true, false)
	}
	if p, ok := m.GetPathSpecifier().(*routev3.RouteMatch_PathMatchPolicy); ok {
		messageRegexes(p.PathMatchPolicy, true, found)
	}
	for _, h := range m.GetHeaders() {
		if r := h.GetSafeRegexMatch(); r != nil {
			found.add(r.GetRegex(), true, false)
		}
		if sm := h.GetStringMatch(); sm != nil {
			stringMatcherRegexes(sm, found)
		}
	}
	for _, q := range m.GetQueryParameters() {
		messageRegexes(q, true, found)
	}
	for _, c := range m.GetCookies() {
		messageRegexes(c, true, found)
	}
	for _, d := range m.GetDynamicMetadata() {
		messageRegexes(d, true, found)
	}
	for _, f := range m.GetFilterState() {
		messageRegexes(f, true, found)
	}
}

func stringMatcherRegexes(sm *matcherv3.StringMatcher, found *regexList) {
	if r := sm.GetSafeRegex(); r != nil {
		found.add(r.GetRegex(), true, false)
	}
	messageRegexes(sm.GetCustom(), true, found)
}

func actionRegexes(a *routev3.RouteAction, found *regexList) {
	if wc := a.GetWeightedClusters(); wc != nil {
		for _, c := range wc.GetClusters() {
			messageRegexes(c.GetMetadataMatch(), false, found)
			anyMapRegexes(c.GetTypedPerFilterConfig(), false, found)
		}
	}
	messageRegexes(a.GetInlineClusterSpecifierPlugin(), false, found)
	messageRegexes(a.GetMetadataMatch(), false, found)
	if rw := a.GetRegexRewrite(); rw != nil {
		if p := rw.GetPattern(); p != nil {
			found.add(p.GetRegex(), false, true)
		}
	}
	messageRegexes(a.GetPathRewritePolicy(), false, found)
	messageRegexes(a.GetHostRewritePathRegex(), false, found)
	messageRegexes(a.GetEarlyDataPolicy(), false, found)
	messageRegexes(a.GetRetryPolicy(), false, found)
	messageRegexes(a.GetRetryPolicyTypedConfig(), false, found)
	for _, x := range a.GetRequestMirrorPolicies() {
		messageRegexes(x, false, found)
	}
	for _, x := range a.GetRateLimits() {
		messageRegexes(x, false, found)
	}
	for _, x := range a.GetHashPolicy() {
		messageRegexes(x, false, found)
	}
	messageRegexes(a.GetCors(), false, found) //nolint:staticcheck // deprecated, still accepted by Envoy
	for _, x := range a.GetUpgradeConfigs() {
		messageRegexes(x, false, found)
	}
	messageRegexes(a.GetInternalRedirectPolicy(), false, found)
}

// anyMapRegexes walks a per-filter config map in key order.
func anyMapRegexes(m map[string]*anypb.Any, inMatch bool, found *regexList) {
	if len(m) == 0 {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		messageRegexes(m[k], inMatch, found)
	}
}

// messageRegexes walks any message by reflection; a nil one has none.
func messageRegexes[M interface {
	comparable
	proto.Message
}](m M, inMatch bool, found *regexList) {
	var zero M
	if m == zero {
		return
	}
	walkMessageRegexes(m.ProtoReflect(), inMatch, false, found)
}

// walkMessageRegexes adds to found every RegexMatcher in m, following
// only the fields through which one can be reached. Any fields are opened
// (unknown types are skipped).
func walkMessageRegexes(m protoreflect.Message, inMatch, rewrite bool, found *regexList) {
	switch m.Descriptor().FullName() {
	case regexMatcherName:
		found.add(m.Interface().(*matcherv3.RegexMatcher).GetRegex(), inMatch, rewrite)
		return
	case anyName:
		a := m.Interface().(*anypb.Any)
		mt, err := protoregistry.GlobalTypes.FindMessageByURL(a.GetTypeUrl())
		if err != nil || (mt.Descriptor().FullName() != regexMatcherName && len(regexFields(mt.Descriptor())) == 0) {
			return // unknown, or a type that cannot hold a regex
		}
		if inner, err := a.UnmarshalNew(); err == nil {
			walkMessageRegexes(inner.ProtoReflect(), inMatch, rewrite, found)
		}
		return
	}
	for _, fd := range regexFields(m.Descriptor()) {
		if !m.Has(fd) {
			continue
		}
		// Loops, not a callback: a closure holding found would move
		// every caller's list to the heap.
		rw := rewrite || fd.Name() == "regex_rewrite"
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			var inner []protoreflect.Message
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				inner = append(inner, mv.Message())
				return true
			})
			for _, im := range inner {
				walkMessageRegexes(im, inMatch, rw, found)
			}
		case fd.IsList():
			for i, l := 0, v.List(); i < l.Len(); i++ {
				walkMessageRegexes(l.Get(i).Message(), inMatch, rw, found)
			}
		default:
			walkMessageRegexes(v.Message(), inMatch, rw, found)
		}
	}
}

var anyName = (&anypb.Any{}).ProtoReflect().Descriptor().FullName()

// regexFieldsOf maps a message type to its fields, in declaration order,
// through which a RegexMatcher can be reached (directly, nested, or inside
// an Any). Walking only those keeps the check off the many fields of a
// route that never hold a regex, which reflection would otherwise visit
// for every route of every translation.
var regexFieldsOf sync.Map // protoreflect.FullName -> []protoreflect.FieldDescriptor

func regexFields(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	if v, ok := regexFieldsOf.Load(md.FullName()); ok {
		return v.([]protoreflect.FieldDescriptor)
	}
	// Every message type reachable from md, then a fixpoint of which of
	// them can lead to a regex (the type graph has cycles).
	var order []protoreflect.MessageDescriptor
	seen := map[protoreflect.FullName]bool{}
	var collect func(protoreflect.MessageDescriptor)
	collect = func(d protoreflect.MessageDescriptor) {
		if seen[d.FullName()] {
			return
		}
		seen[d.FullName()] = true
		order = append(order, d)
		fields := d.Fields()
		for i := range fields.Len() {
			if t := fieldMessage(fields.Get(i)); t != nil {
				collect(t)
			}
		}
	}
	collect(md)
	holds := map[protoreflect.FullName]bool{regexMatcherName: true, anyName: true}
	for changed := true; changed; {
		changed = false
		for _, d := range order {
			if holds[d.FullName()] {
				continue
			}
			fields := d.Fields()
			for i := range fields.Len() {
				if t := fieldMessage(fields.Get(i)); t != nil && holds[t.FullName()] {
					holds[d.FullName()], changed = true, true
					break
				}
			}
		}
	}
	for _, d := range order {
		var out []protoreflect.FieldDescriptor
		fields := d.Fields()
		for i := range fields.Len() {
			if t := fieldMessage(fields.Get(i)); t != nil && holds[t.FullName()] {
				out = append(out, fields.Get(i))
			}
		}
		regexFieldsOf.LoadOrStore(d.FullName(), out)
	}
	v, _ := regexFieldsOf.Load(md.FullName())
	return v.([]protoreflect.FieldDescriptor)
}

// fieldMessage is the message type a field holds (a map's value type), or
// nil for scalars.
func fieldMessage(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return fd.Message()
	}
	return nil
}

// shorten cuts s to at most n bytes for a message.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
