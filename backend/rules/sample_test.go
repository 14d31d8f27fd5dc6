package rules

import (
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// TestSamples checks that each sample is a request the gateway's rules
// hand to the rule it names, that rules no request reaches have none, and
// that the "no rule" sample is offered only when some request goes
// unmatched.
func TestSamples(t *testing.T) {
	route := func(name string, prio int, when string) model.Route {
		return model.Route{Meta: model.Meta{Name: name}, Gateway: "g", Priority: prio, When: model.Condition{Text: when}}
	}
	tests := map[string]struct {
		routes []model.Route
		want   []string // rules of the samples, in order
	}{
		"every rule and none": {
			routes: []model.Route{
				route("api", 30, `host == "shop.example.com" && path.prefix("/api/")`),
				route("canary", 20, `header["x-canary"] == "1"`),
				route("static", 10, `path.suffix(".css") || path.prefix("/static/")`),
			},
			want: []string{"api", "canary", "static", ""},
		},
		"shadowed rule and catch-all": {
			routes: []model.Route{
				route("all", 30, `path.prefix("/")`),
				route("never", 20, `path == "/x"`),
			},
			want: []string{"all"},
		},
		"other gateway and disabled rules are left out": {
			routes: []model.Route{
				route("on", 10, `path == "/on"`),
				{Meta: model.Meta{Name: "off"}, Gateway: "g", Disabled: true, When: model.Condition{Text: `path == "/off"`}},
				{Meta: model.Meta{Name: "elsewhere"}, Gateway: "h", When: model.Condition{Text: `path == "/h"`}},
			},
			want: []string{"on", ""},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Samples(tc.routes, "g")
			var rules []string
			for _, s := range got {
				rules = append(rules, s.Rule)
				if res := Evaluate(tc.routes, "g", s.Request()); res.Rule != s.Rule {
					t.Errorf("sample %s goes to %q, not %q", s.Witness, res.Rule, s.Rule)
				}
			}
			if len(rules) != len(tc.want) {
				t.Fatalf("samples for %v, want %v", rules, tc.want)
			}
			for i := range rules {
				if rules[i] != tc.want[i] {
					t.Fatalf("samples for %v, want %v", rules, tc.want)
				}
			}
		})
	}
}
