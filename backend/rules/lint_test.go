package rules

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
)

func TestLint(t *testing.T) {
	route := func(name, gateway string, priority int, when string) model.Route {
		r := textRoute(name, when)
		r.Gateway, r.Priority = gateway, priority
		return r
	}
	tests := map[string]struct {
		routes []model.Route
		want   []Finding
	}{
		"no findings": {
			routes: []model.Route{
				route("a", "g", 2, `path.prefix("/a")`),
				route("b", "g", 1, `path.prefix("/b")`),
				route("default", "g", 0, ``),
			},
		},
		"catch-all first shadows the rest": {
			routes: []model.Route{
				route("default", "g", 10, ``),
				route("a", "g", 1, `path.prefix("/a")`),
				route("b", "g", 1, `path.prefix("/b")`),
			},
			want: []Finding{
				{Gateway: "g", Rule: "a", ShadowedBy: "default", Message: `never matches: rule "default" before it has no condition and takes every request`},
				{Gateway: "g", Rule: "b", ShadowedBy: "default", Message: `never matches: rule "default" before it has no condition and takes every request`},
			},
		},
		"same condition in another order and shape": {
			routes: []model.Route{
				route("first", "g", 1, `host == "a.com" && (path.prefix("/x") || method == "GET")`),
				route("second", "g", 1, `(method == "GET" || path.prefix("/x")) && host == "a.com"`),
				route("different", "g", 1, `host == "a.com" && path.prefix("/x")`),
			},
			want: []Finding{{Gateway: "g", Rule: "second", ShadowedBy: "first", Message: `never matches: rule "first" before it has the same condition`}},
		},
		"ties broken by name": {
			routes: []model.Route{
				route("zz", "g", 5, `path == "/"`),
				route("aa", "g", 5, `path == "/"`),
			},
			want: []Finding{{Gateway: "g", Rule: "zz", ShadowedBy: "aa", Message: `never matches: rule "aa" before it has the same condition`}},
		},
		"other gateways and disabled rules do not shadow": {
			routes: func() []model.Route {
				off := route("off", "g", 9, ``)
				off.Disabled = true
				return []model.Route{off, route("elsewhere", "h", 9, ``), route("a", "g", 1, `path == "/"`)}
			}(),
		},
		"structured and text conditions compare equal": {
			routes: []model.Route{
				route("text", "g", 2, `header["x"] == "1"`),
				{Meta: model.Meta{Name: "tree"}, Gateway: "g", Priority: 1, When: model.And(model.Pred("header[x]", model.OpEquals, "1"))},
			},
			want: []Finding{{Gateway: "g", Rule: "tree", ShadowedBy: "text", Message: `never matches: rule "text" before it has the same condition`}},
		},
		"unparsable rules are skipped": {
			routes: []model.Route{route("bad", "g", 2, `host ==`), route("a", "g", 1, `host ==`)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Lint(tc.routes), equateEmpty); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}
