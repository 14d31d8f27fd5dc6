package model

import (
	"fmt"
	"regexp/syntax"
	"strings"
)

// RegexProgramSize is the size of re's program the way MaxRegexProgramSize
// counts it: the instructions Go compiles re to after simplification (which
// expands counted repetitions, as RE2 does). The translator measures the
// regexes it builds with it too.
func RegexProgramSize(re string) (int, error) {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

// regexProblem says why Envoy would refuse re as a safe regex, or "": too
// long, not RE2, a capture group name used twice (Go accepts that, RE2
// does not), or a program larger than MaxRegexProgramSize. The length is
// checked first, so a huge pattern is never compiled.
func regexProblem(re string) string {
	if len(re) > MaxRegexBytes {
		return fmt.Sprintf("regex is %d bytes; at most %d are allowed", len(re), MaxRegexBytes)
	}
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "invalid regex: " + regexErr(err)
	}
	seen := map[string]bool{}
	for _, name := range parsed.CapNames() {
		if name == "" {
			continue
		}
		if seen[name] {
			return fmt.Sprintf("invalid regex: capture group name %q is used twice (RE2, which Envoy runs, refuses that)", name)
		}
		seen[name] = true
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return "invalid regex: " + regexErr(err)
	}
	if n := len(prog.Inst); n > MaxRegexProgramSize {
		return fmt.Sprintf("regex is too complex for Envoy: program size about %d, limit %d; simplify the pattern (fewer alternatives or repetitions)", n, MaxRegexProgramSize)
	}
	return ""
}

// regexErr trims Go's "error parsing regexp: " prefix, which only repeats
// what the message already says.
func regexErr(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}
