package translate

import (
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// TestRegexProgramSizeLimit rejects rules whose regexes Envoy would refuse
// for their size, naming the rule and the field, and accepts ordinary ones.
func TestRegexProgramSizeLimit(t *testing.T) {
	huge := "/[a-z]{" + "600" + "}"
	manyHosts := make([]string, 120)
	for i := range manyHosts {
		manyHosts[i] = "tenant-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + ".example.com"
	}
	tests := map[string]struct {
		when model.Condition
		then model.Action
		want string // "" for success
	}{
		"ordinary regex": {
			when: model.Pred(model.FieldPath, model.OpRegex, "/v[0-9]+/.*"),
		},
		"huge path regex": {
			when: model.Pred(model.FieldPath, model.OpRegex, huge),
			want: `routes[0].when: rule "big": regex "/[a-z]{600}" is too complex for Envoy: program size about`,
		},
		"huge rewrite pattern": {
			when: model.Pred(model.FieldPath, model.OpPrefix, "/"),
			then: model.Action{Rewrite: &model.Rewrite{PathRegex: &model.RegexSub{Pattern: huge, Substitution: "/x"}}},
			want: `routes[0].then.rewrite.pathRegex.pattern: rule "big": regex "/[a-z]{600}" is too complex`,
		},
		"case-insensitive header values": {
			when: model.Condition{Field: "header[x-tenant]", Op: model.OpIn, Values: manyHosts, IgnoreCase: true},
			want: `routes[0].when: rule "big": regex "(?:`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			then := tc.then
			then.Forward = []model.Backend{{Upstream: "web"}}
			ws := model.Workspace{
				Gateways: []model.Gateway{{Meta: model.Meta{Name: "gw"},
					Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
				Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"},
					Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}},
				Routes: []model.Route{{Meta: model.Meta{Name: "big"}, Gateway: "gw", When: tc.when, Then: then}},
			}
			_, err := Gateway(ws, "gw", Options{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRegexProgramSize(t *testing.T) {
	tests := map[string]struct {
		re       string
		min, max int
	}{
		"literal":           {"abc", 3, 8},
		"counted":           {"[a-z]{100}", 100, 110},
		"alternation":       {"(?:one|two|three)", 11, 25},
		"counted is simple": {"x{2,3}", 3, 10},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := regexProgramSize(tc.re)
			if err != nil || n < tc.min || n > tc.max {
				t.Errorf("regexProgramSize(%q) = %d, %v; want %d..%d", tc.re, n, err, tc.min, tc.max)
			}
		})
	}
	if _, err := regexProgramSize("("); err == nil {
		t.Error("want an error for an invalid regex")
	}
}
