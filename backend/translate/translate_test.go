package translate

import (
	"regexp"
	"strings"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/model"
)

func TestExcludeRunes(t *testing.T) {
	tests := map[string]struct {
		re      string
		except  string
		match   []string
		noMatch []string
	}{
		"any char loses ?": {re: "/a.*", except: "?", match: []string{"/a", "/abc/d"}, noMatch: []string{"/a?x", "/a?"}},
		"literal ? never":  {re: `/a\?b|/c`, except: "?", match: []string{"/c"}, noMatch: []string{"/a?b"}},
		"class loses ?":    {re: `/[?a-z]+`, except: "?", match: []string{"/ab"}, noMatch: []string{"/a?"}},
		"negated class":    {re: `/[^x]+`, except: "?", match: []string{"/ab"}, noMatch: []string{"/a?b"}},
		"case folded":      {re: `(?i)/A`, except: "?", match: []string{"/a", "/A"}},
		"segment":          {re: `.+`, except: "/", match: []string{"abc"}, noMatch: []string{"a/b"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := excludeRunes(tc.re, tc.except)
			if err != nil {
				t.Fatal(err)
			}
			re := regexp.MustCompile("^(?:" + out + ")$")
			for _, s := range tc.match {
				if !re.MatchString(s) {
					t.Errorf("%q (from %q) does not match %q", out, tc.re, s)
				}
			}
			for _, s := range tc.noMatch {
				if re.MatchString(s) {
					t.Errorf("%q (from %q) matches %q", out, tc.re, s)
				}
			}
		})
	}
}

func TestQuoteFoldIsASCIIOnly(t *testing.T) {
	re := regexp.MustCompile("^" + quoteFold(true)("Kelvin.") + "$")
	for s, want := range map[string]bool{"kelvin.": true, "KELVIN.": true, "\u212aelvin.": false, "kelvinx": false} {
		if got := re.MatchString(s); got != want {
			t.Errorf("match %q = %v, want %v", s, got, want)
		}
	}
}

func TestGatewayErrors(t *testing.T) {
	ws := benchWorkspace(3, 1, 1)
	tests := map[string]struct {
		edit     func(ws *model.Workspace)
		gateway  string
		code     string
		contains []string
	}{
		"unknown gateway": {gateway: "nope", code: model.ENOTFOUND, contains: []string{`gateway "nope" not found`}},
		"rule and condition named": {
			edit: func(ws *model.Workspace) {
				ws.Routes[1].When = model.Not(model.Pred("query[x]", model.OpPrefix, "a"))
			},
			code:     model.EINVALID,
			contains: []string{"routes[1].when.not", `rule "route-00001"`, "negated query"},
		},
		"every problem reported": {
			edit: func(ws *model.Workspace) {
				ws.Routes[0].Then.Forward[0].Upstream = "gone"
				ws.Upstreams[0].DNS = &model.DNSSource{Host: "x", Port: 80}
			},
			code:     model.EINVALID,
			contains: []string{`rule "route-00000": unknown upstream "gone"`, `upstream "svc-0000": exactly one of static, dns`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := benchWorkspace(3, 1, 1)
			if tc.edit != nil {
				tc.edit(&w)
			}
			gw := tc.gateway
			if gw == "" {
				gw = "bench"
			}
			_, err := Gateway(w, gw, Options{})
			if model.ErrorCode(err) != tc.code {
				t.Fatalf("error %v, want code %s", err, tc.code)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	if _, err := Gateway(ws, "bench", Options{}); err != nil {
		t.Fatalf("unedited workspace: %v", err)
	}
}

func TestByType(t *testing.T) {
	res, err := Gateway(benchWorkspace(20, 4, 3), "bench", Options{})
	if err != nil {
		t.Fatal(err)
	}
	byType := res.ByType()
	want := map[resourcev3.Type]int{
		resourcev3.ListenerType: 1, resourcev3.RouteType: 1, resourcev3.ClusterType: 3,
		resourcev3.EndpointType: 3, resourcev3.SecretType: 0,
	}
	for typ, n := range want {
		if got := len(byType[typ]); got != n {
			t.Errorf("%s: %d resources, want %d", typ, got, n)
		}
	}
	if v := res.Version(); len(v) != 16 {
		t.Errorf("version %q, want 16 hex digits", v)
	}
}

func TestRuleOfRoute(t *testing.T) {
	tests := map[string]struct {
		route string
		rule  string
		ok    bool
	}{
		"first":   {routeName("api", 0), "api", true},
		"dotted":  {routeName("shop.v2", 12), "shop.v2", true},
		"default": {defaultRouteName, "", false},
		"foreign": {"my-route", "", false},
		"no rule": {"rule/", "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rule, ok := RuleOfRoute(tc.route)
			if rule != tc.rule || ok != tc.ok {
				t.Errorf("RuleOfRoute(%q) = %q, %v; want %q, %v", tc.route, rule, ok, tc.rule, tc.ok)
			}
		})
	}
}
