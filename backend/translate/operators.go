package translate

import (
	"fmt"

	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/routedeck/routedeck/backend/model"
)

// envoyOp is how a value operator of the model's table runs in Envoy: as
// a StringMatcher (header values, query parameters, virtual host tests)
// and as a full-match regex over the text, for what Envoy matches only
// with regexes (cookies, gRPC path segments, path tests on :path). Path
// specifiers (prefix, exact, segment-prefix, template, regex on the path)
// are chosen in buildMatch.
type envoyOp struct {
	matcher func(c model.Condition, ignoreCase bool) (*matcherv3.StringMatcher, error)
	regex   func(c model.Condition) (string, error)
}

// envoyOps has an entry per value operator that has an Envoy form; the
// complements (not-equals, not-in) run as their operator inverted, and
// presence tests have matchers of their own.
var envoyOps = map[string]envoyOp{
	model.OpEquals: {
		matcher: stringMatcher(func(v string) *matcherv3.StringMatcher {
			return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}
		}),
		regex: func(c model.Condition) (string, error) { return quoteFold(c.IgnoreCase)(c.Value), nil },
	},
	model.OpPrefix: {
		matcher: stringMatcher(func(v string) *matcherv3.StringMatcher {
			return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: v}}
		}),
		regex: func(c model.Condition) (string, error) { return quoteFold(c.IgnoreCase)(c.Value) + ".*", nil },
	},
	model.OpSuffix: {
		matcher: stringMatcher(func(v string) *matcherv3.StringMatcher {
			return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: v}}
		}),
		regex: func(c model.Condition) (string, error) { return ".*" + quoteFold(c.IgnoreCase)(c.Value), nil },
	},
	model.OpContains: {
		matcher: stringMatcher(func(v string) *matcherv3.StringMatcher {
			return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: v}}
		}),
		regex: func(c model.Condition) (string, error) { return ".*" + quoteFold(c.IgnoreCase)(c.Value) + ".*", nil },
	},
	model.OpIn: {
		matcher: func(c model.Condition, ignoreCase bool) (*matcherv3.StringMatcher, error) {
			if len(c.Values) == 0 {
				return nil, fmt.Errorf("in needs at least one value")
			}
			// Envoy ignores ignore_case for regexes: fold in the pattern.
			return regexString(alternationFold(c.Values, ignoreCase)), nil
		},
		regex: func(c model.Condition) (string, error) { return alternationFold(c.Values, c.IgnoreCase), nil },
	},
	model.OpRegex: {
		matcher: func(c model.Condition, ignoreCase bool) (*matcherv3.StringMatcher, error) {
			if err := checkRegex(c.Value); err != nil {
				return nil, err
			}
			if ignoreCase {
				// Host regexes are case-insensitive (DNS names are).
				return regexString("(?i)" + c.Value), nil
			}
			return regexString(c.Value), nil
		},
		regex: func(c model.Condition) (string, error) {
			if err := checkRegex(c.Value); err != nil {
				return "", err
			}
			return c.Value, nil
		},
	},
}

// envoyOpOf looks an operator up, aliases (exact) by what they stand for.
func envoyOpOf(name string) (envoyOp, bool) {
	if o, ok := model.LookupOperator(name); ok && o.Alias != "" {
		name = o.Alias
	}
	op, ok := envoyOps[name]
	return op, ok
}

// stringMatcher is the matcher of an operator Envoy's StringMatcher has,
// with its ignore_case.
func stringMatcher(build func(v string) *matcherv3.StringMatcher) func(model.Condition, bool) (*matcherv3.StringMatcher, error) {
	return func(c model.Condition, ignoreCase bool) (*matcherv3.StringMatcher, error) {
		sm := build(c.Value)
		sm.IgnoreCase = ignoreCase
		return sm, nil
	}
}
