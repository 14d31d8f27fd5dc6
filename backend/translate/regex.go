package translate

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
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
	rt.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		field := "then"
		if fd.Name() == "match" {
			field = "when"
		}
		walkRegexes(fd, v, func(re string, rewrite bool) {
			at := field
			if rewrite {
				at = "then.rewrite.pathRegex.pattern"
			}
			size, err := regexProgramSize(re)
			if err != nil {
				problems.Add(at, "%v", err)
			} else if size > MaxRegexProgramSize {
				problems.Add(at, "regex %q is too complex for Envoy: program size about %d, limit %d; "+
					"split the rule or simplify the pattern (fewer alternatives or case-insensitive values)",
					shorten(re, 80), size, MaxRegexProgramSize)
			}
		})
		return true
	})
}

// walkRegexes calls found for every RegexMatcher under the field value v;
// rewrite is set for the pattern of a regex rewrite. Any fields are opened
// (unknown types are skipped).
func walkRegexes(fd protoreflect.FieldDescriptor, v protoreflect.Value, found func(re string, rewrite bool)) {
	var visit func(m protoreflect.Message, rewrite bool)
	visit = func(m protoreflect.Message, rewrite bool) {
		switch m.Descriptor().FullName() {
		case regexMatcherName:
			found(m.Interface().(*matcherv3.RegexMatcher).GetRegex(), rewrite)
			return
		case "google.protobuf.Any":
			if inner, err := m.Interface().(*anypb.Any).UnmarshalNew(); err == nil {
				visit(inner.ProtoReflect(), rewrite)
			}
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			eachMessage(fd, v, func(m protoreflect.Message) {
				visit(m, rewrite || fd.Name() == "regex_rewrite")
			})
			return true
		})
	}
	eachMessage(fd, v, func(m protoreflect.Message) { visit(m, false) })
}

// eachMessage calls f for the message, the messages of the list, or the
// message values of the map that field fd holds in v.
func eachMessage(fd protoreflect.FieldDescriptor, v protoreflect.Value, f func(protoreflect.Message)) {
	switch {
	case fd.IsMap():
		if fd.MapValue().Kind() == protoreflect.MessageKind {
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				f(mv.Message())
				return true
			})
		}
	case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
	case fd.IsList():
		l := v.List()
		for i := 0; i < l.Len(); i++ {
			f(l.Get(i).Message())
		}
	default:
		f(v.Message())
	}
}

// shorten cuts s to at most n bytes for a message.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
