package translate

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
)

// quote escapes s for use as a literal inside an RE2 pattern.
func quote(s string) string { return regexp.QuoteMeta(s) }

// alternation is an RE2 group matching exactly one of values.
func alternation(values []string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = quote(v)
	}
	return "(?:" + strings.Join(parts, "|") + ")"
}

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

// alternationFold is alternation with optional ASCII case folding.
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
