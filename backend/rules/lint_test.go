package rules

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

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
		"rules on other listeners do not shadow": {
			routes: func() []model.Route {
				admin, all := route("admin", "g", 9, ``), route("all", "g", 5, `path.prefix("/a")`)
				admin.Listeners = []string{"admin"}
				web, web2 := route("web", "g", 3, `path.prefix("/a")`), route("web2", "g", 2, `path.prefix("/b")`)
				web.Listeners, web2.Listeners = []string{"web"}, []string{"web", "admin"}
				return []model.Route{admin, all, web, web2}
			}(),
			// all is taken on admin only, web2 on admin only: neither is
			// dead; web is, on its one listener.
			want: []Finding{{Gateway: "g", Rule: "web", ShadowedBy: "all", Message: `never matches: rule "all" before it matches every request this one does`}},
		},
		"a catch-all on the same listeners shadows": {
			routes: func() []model.Route {
				a, b := route("a", "g", 9, ``), route("b", "g", 5, `path.prefix("/b")`)
				a.Listeners, b.Listeners = []string{"admin", "web"}, []string{"web"}
				return []model.Route{a, b}
			}(),
			want: []Finding{{Gateway: "g", Rule: "b", ShadowedBy: "a", Message: `never matches: rule "a" before it matches every request this one does`}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Lint(tc.routes)
			if diff := cmp.Diff(tc.want, got, equateEmpty, ignoreWitness); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			for _, f := range got {
				checkWitness(t, tc.routes, f)
			}
		})
	}
}

// TestLintImplication runs Lint on two rules, earlier (priority 2) and later
// (priority 1), and checks whether the later one is reported as shadowed by
// implication. Most cases are also tried the other way round, where the
// implication must not hold.
func TestLintImplication(t *testing.T) {
	tests := map[string]struct {
		earlier, later string
		shadowed       bool
		reverse        bool // also check later-before-earlier is not reported
	}{
		"equals implies prefix":             {`path.prefix("/a")`, `path == "/a/b"`, true, true},
		"prefix implies shorter prefix":     {`path.prefix("/a")`, `path.prefix("/ab")`, true, true},
		"segment prefix implies prefix":     {`path.prefix("/api")`, `path.segmentPrefix("/api")`, true, true},
		"prefix implies segment prefix":     {`path.segmentPrefix("/api")`, `path.prefix("/api/v1")`, true, true},
		"prefix is not a segment prefix":    {`path.segmentPrefix("/api")`, `path.prefix("/apiv1")`, false, false},
		"equals implies suffix":             {`path.suffix(".js")`, `path.exact("/app.js")`, true, true},
		"equals implies contains":           {`header["x"].contains("nar")`, `header["x"] == "canary"`, true, true},
		"suffix implies contains":           {`path.contains("js")`, `path.suffix(".js")`, true, true},
		"in implies larger in":              {`method in ["GET", "HEAD", "POST"]`, `method in ["HEAD", "GET"]`, true, true},
		"equals implies in":                 {`method in ["GET", "HEAD"]`, `method == "HEAD"`, true, true},
		"in implies prefix":                 {`path.prefix("/a")`, `path in ["/a/1", "/a/2"]`, true, true},
		"value test implies present":        {`header["x"].present()`, `header["x"].regex("a+")`, true, true},
		"not-equals implies present":        {`query["q"].present()`, `query["q"] != "1"`, true, true},
		"cookie value implies present":      {`cookie["s"].present()`, `cookie["s"].equals("A", ignoreCase)`, true, true},
		"header names ignore case":          {`header["X-Env"] == "prod"`, `header["x-env"] == "prod"`, true, false},
		"host wildcard covers a subdomain":  {`host == "*.a.com"`, `host == "x.A.com"`, true, true},
		"host wildcard covers deeper":       {`host == "*.a.com"`, `host == "*.x.a.com"`, true, true},
		"host wildcard in a list":           {`host in ["b.com", "*.a.com"]`, `host == "x.a.com"`, true, true},
		"host wildcard not the apex":        {`host == "*.a.com"`, `host == "a.com"`, false, false},
		"host wildcard needs more":          {`host == "*a.com"`, `host == "a.com"`, false, false},
		"host wildcard is not a prefix":     {`host.prefix("*")`, `host == "*.a.com"`, false, false},
		"host ignores case":                 {`host.prefix("Shop.")`, `host == "shop.example.com"`, true, true},
		"host wildcard implies suffix":      {`host.suffix(".com")`, `host == "*.a.com"`, true, true},
		"and implies fewer members":         {`host == "a.com"`, `host == "a.com" && path.prefix("/x")`, true, true},
		"and implies an or":                 {`host == "a.com" && (path.prefix("/x") || method == "GET")`, `host == "a.com" && path.prefix("/x/y")`, true, true},
		"every branch of an or implied":     {`path.prefix("/a")`, `path == "/a" || path.prefix("/a/")`, true, true},
		"one branch of an or not implied":   {`path.prefix("/a")`, `path == "/a" || path == "/b"`, false, false},
		"same negation on both sides":       {`!(header["x"] == "1")`, `!(header["x"] == "1") && path == "/"`, true, true},
		"negation pushed through &&":        {`!(header["x"] == "1") || path == "/a"`, `!(header["x"] == "1" && method == "GET")`, false, false},
		"de morgan gives the same literals": {`!(header["x"] == "1") || !(method == "GET")`, `!(header["x"] == "1" && method == "GET")`, true, false},
		"prefix reversed":                   {`path.prefix("/ab")`, `path.prefix("/a")`, false, false},
		"different ignoreCase":              {`path.prefix("/a", ignoreCase)`, `path.prefix("/a/b")`, false, false},
		"different ignoreCase other side":   {`path.prefix("/a")`, `path.prefix("/a/b", ignoreCase)`, false, false},
		"value test vs absent":              {`header["x"].absent()`, `header["x"] == "1"`, false, false},
		"absent does not imply present":     {`header["x"].present()`, `header["x"].absent()`, false, false},
		"negated equals is not a value":     {`header["x"].present()`, `!(header["x"] == "1")`, false, false},
		"not-equals is not a negation":      {`!(header["x"] == "1")`, `header["x"] != "1"`, false, false},
		"different keys":                    {`header["x"].present()`, `header["y"] == "1"`, false, false},
		"query keys are case-sensitive":     {`query["Q"].present()`, `query["q"] == "1"`, false, false},
		"different fields":                  {`query["x"].present()`, `header["x"] == "1"`, false, false},
		"path has no present":               {`path.present()`, `path == "/"`, false, false},
		"regex is only implied by itself":   {`path.regex("/a.*")`, `path == "/ab"`, false, false},
		"wildcard is literal off host":      {`header["h"] == "*.a.com"`, `header["h"] == "x.a.com"`, false, false},
	}
	route := func(name string, priority int, when string) model.Route {
		r := textRoute(name, when)
		r.Gateway, r.Priority = "g", priority
		return r
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var want []Finding
			if tc.shadowed {
				want = []Finding{{Gateway: "g", Rule: "later", ShadowedBy: "earlier",
					Message: `never matches: rule "earlier" before it matches every request this one does`}}
			}
			got := Lint([]model.Route{route("earlier", 2, tc.earlier), route("later", 1, tc.later)})
			if diff := cmp.Diff(want, got, equateEmpty, ignoreWitness); diff != "" {
				t.Fatalf("%s before %s (-want +got):\n%s", tc.earlier, tc.later, diff)
			}
			for _, f := range got {
				if f.Kind != FindingShadowed || f.Severity != SeverityError {
					t.Errorf("kind %q severity %q", f.Kind, f.Severity)
				}
				checkWitness(t, []model.Route{route("earlier", 2, tc.earlier), route("later", 1, tc.later)}, f)
			}
			if tc.reverse {
				if got := Lint([]model.Route{route("earlier", 1, tc.earlier), route("later", 2, tc.later)}); len(got) != 0 {
					t.Fatalf("%s before %s: reported %+v", tc.later, tc.earlier, got)
				}
			}
		})
	}
}

// ignoreWitness compares findings without their witness requests, which
// checkWitness checks against the evaluator instead.
var ignoreWitness = cmpopts.IgnoreFields(Finding{}, "Kind", "Severity", "Witness")

// checkWitness fails unless f's witness (when it has one) does what the
// finding says: the rule alone matches it, and the gateway's rules hand it
// to the rule the witness names.
func checkWitness(t *testing.T, routes []model.Route, f Finding) {
	t.Helper()
	w := f.Witness
	if w == nil {
		return
	}
	var rule []model.Route
	for _, r := range routes {
		if r.Name == f.Rule {
			rule = append(rule, r)
		}
	}
	req := w.Request()
	if got := Compile(rule, "").Evaluate(req).Rule; got != f.Rule {
		t.Errorf("%s: witness %s does not match the rule alone", f.Rule, w)
	}
	if w.TakenBy != "" {
		if got := Compile(routes, f.Gateway).Evaluate(req).Rule; got != w.TakenBy {
			t.Errorf("%s: witness %s goes to %q, not %q", f.Rule, w, got, w.TakenBy)
		}
	}
}

func TestLintDNFBound(t *testing.T) {
	// (a1 || a2) && (b1 || b2) && ... has 2^7 = 128 conjunctions: more than
	// the bound, so the rule is left alone even though the catch-all-like
	// earlier rule would cover it.
	var parts []string
	for i := range 7 {
		parts = append(parts, fmt.Sprintf(`(header["x%d"] == "1" || header["y%d"] == "1")`, i, i))
	}
	later := strings.Join(parts, " && ")
	routes := []model.Route{textRoute("earlier", `header["x0"].present() || header["y0"].present()`), textRoute("later", later)}
	routes[0].Priority = 1
	if got := Lint(routes); len(got) != 0 {
		t.Fatalf("beyond the bound: %+v", got)
	}
	// Six pairs (64 conjunctions) are within it.
	routes[1] = textRoute("later", strings.Join(parts[:6], " && "))
	if got := Lint(routes); len(got) != 1 || got[0].ShadowedBy != "earlier" {
		t.Fatalf("within the bound: %+v", got)
	}
}

// Small pools, so that random rules often stand in an implication and
// random requests often satisfy them.
var (
	implFields = []string{model.FieldHost, model.FieldPath, model.FieldMethod, "header[x]", "header[X]", "query[q]", "query[Q]", "cookie[c]"}
	implOps    = []string{model.OpEquals, model.OpExact, model.OpNotEquals, model.OpPrefix, model.OpSuffix, model.OpContains,
		model.OpIn, model.OpNotIn, model.OpPresent, model.OpAbsent, model.OpSegmentPrefix, model.OpRegex}
	implValues = []string{"", "/", "/a", "/a/b", "/ab", "a", "A", "b", "a.com", "x.a.com", "X.A.com", "*.a.com", "*.A.com", "*a.com", "GET", "/a.*", "a|b"}
)

func genImplCondition(r *rand.Rand, depth int) model.Condition {
	x := r.Float64()
	if depth <= 0 || x < 0.45 {
		pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
		c := model.Condition{Field: pick(implFields), Op: pick(implOps), IgnoreCase: r.IntN(4) == 0}
		switch c.Op {
		case model.OpIn, model.OpNotIn:
			for range r.IntN(4) {
				c.Values = append(c.Values, pick(implValues))
			}
		case model.OpPresent, model.OpAbsent:
		default:
			c.Value = pick(implValues)
		}
		return c
	}
	if x < 0.55 {
		return model.Not(genImplCondition(r, depth-1))
	}
	kids := make([]model.Condition, 1+r.IntN(3))
	for i := range kids {
		kids[i] = genImplCondition(r, depth-1)
	}
	if x < 0.8 {
		return model.And(kids...)
	}
	return model.Or(kids...)
}

func genImplRequest(r *rand.Rand) Request {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	hosts := []string{"a.com", "x.a.com", "X.A.com", "y.x.a.com", "b.com", "xa.com", "a.com:8080"}
	paths := []string{"/", "/a", "/a/b", "/ab", "/A/b", "/a.com", "/b", "/a/"}
	vals := []string{"", "a", "A", "b", "/a", "/a/b", "x.a.com", "GET", "ab"}
	req := Request{Method: pick([]string{"GET", "HEAD", "POST", "a"}), Headers: hdr()}
	target := pick(paths)
	var query []string
	if r.IntN(2) == 0 {
		query = append(query, "q="+pick(vals))
	}
	if r.IntN(3) == 0 {
		query = append(query, "Q="+pick(vals))
	}
	if len(query) > 0 {
		target += "?" + strings.Join(query, "&")
	}
	req.URL = "http://" + pick(hosts) + target
	if r.IntN(2) == 0 {
		req.Headers.Set("x", pick(vals))
	}
	if r.IntN(2) == 0 {
		req.Headers.Set("cookie", "c="+pick(vals))
		// A repeated cookie makes "some occurrence" and "every
		// occurrence" differ.
		if r.IntN(3) == 0 {
			req.Headers.Add("cookie", "c="+pick(vals))
		}
	}
	return req
}

// TestLintImplicationSound checks every finding of Lint against the
// evaluator: for random rule pairs, whenever the later rule is reported as
// shadowed, every sampled request the later rule matches must match the
// earlier one. A single counterexample fails the test.
func TestLintImplicationSound(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	matches := func(p *Program, req Request) bool { return p.Evaluate(req).Rule != "" }
	reqs := make([]Request, 400)
	for i := range reqs {
		reqs[i] = genImplRequest(r)
	}
	findings, checked, witnessed := 0, 0, 0
	for i := range 6000 {
		var a, b model.Condition
		switch i % 4 {
		case 0: // the generator of the round-trip test, awkward strings included
			a, b = genCondition(r, 2), genCondition(r, 2)
		case 1: // a later rule that narrows the earlier one
			a = genImplCondition(r, 2)
			b = model.And(a, genImplCondition(r, 1))
		case 2: // two predicates on one field, where the cases of litImplies live
			a, b = genImplCondition(r, 0), genImplCondition(r, 0)
			b.Field = a.Field
		default:
			a, b = genImplCondition(r, 2), genImplCondition(r, 2)
		}
		ra := model.Route{Meta: model.Meta{Name: "a"}, Gateway: "g", Priority: 2, When: a, Then: forwardTo("u")}
		rb := model.Route{Meta: model.Meta{Name: "b"}, Gateway: "g", Priority: 1, When: b, Then: forwardTo("u")}
		got := Lint([]model.Route{ra, rb})
		if len(got) == 0 {
			continue
		}
		findings++
		if got[0].Witness != nil {
			witnessed++
			checkWitness(t, []model.Route{ra, rb}, got[0])
		}
		pa, pb := Compile([]model.Route{ra}, ""), Compile([]model.Route{rb}, "")
		for _, req := range reqs {
			if !matches(pb, req) {
				continue
			}
			checked++
			if !matches(pa, req) {
				t.Fatalf("case %d: %q reported as shadowed by %q (%s), but %+v matches only the later rule",
					i, Format(b), Format(a), got[0].Message, req)
			}
		}
	}
	// Guard against a test that proves nothing: the pools are chosen so
	// that findings and requests the later rule matches are common.
	t.Logf("%d findings (%d with a witness), %d requests checked", findings, witnessed, checked)
	if witnessed < findings/2 {
		t.Errorf("only %d of %d findings have a witness request", witnessed, findings)
	}
	if findings < 300 || checked < 3000 {
		t.Fatalf("only %d findings and %d requests checked", findings, checked)
	}
}

// BenchmarkLint10k lints 10,000 rules over 1,000 hosts, the size the route
// list and publish lint on every call.
func BenchmarkLint10k(b *testing.B) {
	rs := make([]model.Route, 0, 10000)
	for i := range 10000 {
		c, err := Parse(fmt.Sprintf(`host == "h%d.example.com" && path.prefix("/p%d")`, i%1000, i))
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, model.Route{Meta: model.Meta{Name: fmt.Sprintf("r-%05d", i)}, Gateway: "g", Priority: i % 500, When: c})
	}
	b.ResetTimer()
	for b.Loop() {
		Lint(rs)
	}
}

func TestLintAll(t *testing.T) {
	route := func(name string, priority int, when string, rewrite string) model.Route {
		r := textRoute(name, when)
		r.Gateway, r.Priority = "g", priority
		if rewrite != "" {
			r.Then.Rewrite = &model.Rewrite{PathPrefix: rewrite}
		}
		return r
	}
	type want struct {
		rule, kind, severity, takenBy, witness, message string
		fix                                             *Fix
	}
	tests := map[string]struct {
		routes []model.Route
		want   []want
	}{
		"doubled slash": {
			routes: []model.Route{route("canary", 1, `host == "shop.example.com" && path.prefix("/app")`, "/canary/")},
			want: []want{{rule: "canary", kind: FindingRewriteSlash, severity: SeverityWarning, witness: "GET http://shop.example.com/app/x",
				message: "reaches the upstream as /canary//x",
				fix:     &Fix{Field: "then.rewrite.pathPrefix", Value: "/canary", Message: `rewrite "/app" to "/canary": the slash after "/app" is kept from the request`}}},
		},
		"doubled slash to the root": {
			routes: []model.Route{route("strip", 1, `path.prefix("/app") && method == "GET"`, "/")},
			want: []want{{rule: "strip", kind: FindingRewriteSlash, severity: SeverityWarning, witness: "GET http://example.com/app/x",
				message: "reaches the upstream as //x",
				fix: &Fix{Field: "when", Value: `path.prefix("/app/") && method == "GET"`,
					Message: `match "/app/" instead: the rewrite then replaces the slash too ("/app" alone no longer matches)`}}},
		},
		"dropped slash": {
			routes: []model.Route{route("v2", 1, `path.prefix("/api/")`, "/v2")},
			want: []want{{rule: "v2", kind: FindingRewriteSlash, severity: SeverityWarning, witness: "GET http://example.com/api/x",
				message: "reaches the upstream as /v2x",
				fix:     &Fix{Field: "then.rewrite.pathPrefix", Value: "/v2/", Message: `rewrite "/api/" to "/v2/": "/api/" ends with a slash the rewrite replaces`}}},
		},
		"slashes that agree": {
			routes: []model.Route{route("a", 2, `path.prefix("/app/")`, "/canary/"), route("b", 1, `path.prefix("/b")`, "/c")},
		},
		"partial overlap": {
			routes: []model.Route{route("gets", 2, `method == "GET" && host == "shop.example.com"`, ""), route("api", 1, `path.prefix("/api") && host == "shop.example.com"`, "")},
			want: []want{{rule: "api", kind: FindingOverlap, severity: SeverityInfo, takenBy: "gets", witness: "GET http://shop.example.com/api/x",
				message: `partly taken by rule "gets" before it: GET http://shop.example.com/api/x goes to "gets", not to this rule`}},
		},
		"rules on disjoint listeners do not overlap": {
			routes: func() []model.Route {
				a, b := route("gets", 2, `method == "GET" && host == "shop.example.com"`, ""), route("api", 1, `path.prefix("/api") && host == "shop.example.com"`, "")
				a.Listeners, b.Listeners = []string{"web"}, []string{"admin"}
				return []model.Route{a, b}
			}(),
		},
		"rules sharing a listener overlap there": {
			routes: func() []model.Route {
				a, b := route("gets", 2, `method == "GET" && host == "shop.example.com"`, ""), route("api", 1, `path.prefix("/api") && host == "shop.example.com"`, "")
				a.Listeners, b.Listeners = []string{"web", "admin"}, []string{"admin"}
				return []model.Route{a, b}
			}(),
			want: []want{{rule: "api", kind: FindingOverlap, severity: SeverityInfo, takenBy: "gets", witness: "GET http://shop.example.com/api/x on listener admin",
				message: `partly taken by rule "gets" before it: GET http://shop.example.com/api/x on listener admin goes to "gets", not to this rule`}},
		},
		"a narrower rule first is no overlap": {
			routes: []model.Route{route("v2", 2, `path.prefix("/api/v2")`, ""), route("api", 1, `path.prefix("/api")`, ""), route("default", 0, ``, "")},
		},
		"other hosts do not overlap": {
			routes: []model.Route{route("a", 2, `host == "a.example.com"`, ""), route("b", 1, `host == "b.example.com" && path.prefix("/")`, "")},
		},
		"shadowed, with the witness": {
			routes: []model.Route{route("all", 2, ``, ""), route("api", 1, `path.prefix("/api") && header["x-team"] == "shop"`, "")},
			want: []want{{rule: "api", kind: FindingShadowed, severity: SeverityError, takenBy: "all", witness: "GET http://example.com/api/x with x-team: shop",
				message: `never matches: rule "all" before it has no condition and takes every request`}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := LintAll(tc.routes)
			if len(got) != len(tc.want) {
				t.Fatalf("findings %+v, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				f := got[i]
				if f.Rule != w.rule || f.Kind != w.kind || f.Severity != w.severity || !strings.Contains(f.Message, w.message) {
					t.Errorf("finding %+v, want %+v", f, w)
				}
				if f.Witness == nil || f.Witness.String() != w.witness || f.Witness.TakenBy != w.takenBy {
					t.Errorf("witness %v, want %s taken by %q", f.Witness, w.witness, w.takenBy)
				}
				if diff := cmp.Diff(w.fix, f.Fix); diff != "" {
					t.Errorf("fix (-want +got):\n%s", diff)
				}
				checkWitness(t, tc.routes, f)
				if f.Fix != nil && f.Fix.Field == "then.rewrite.pathPrefix" {
					// The fix removes the finding.
					fixed := slices.Clone(tc.routes)
					at := slices.IndexFunc(fixed, func(r model.Route) bool { return r.Name == f.Rule })
					fixed[at].Then.Rewrite = &model.Rewrite{PathPrefix: f.Fix.Value}
					if again := LintAll(fixed); len(again) != 0 {
						t.Errorf("after the fix: %+v", again)
					}
				}
			}
		})
	}
}

// BenchmarkLintAll10k is BenchmarkLint10k with the overlap and rewrite
// checks the API runs.
func BenchmarkLintAll10k(b *testing.B) {
	rs := make([]model.Route, 0, 10000)
	for i := range 10000 {
		c, err := Parse(fmt.Sprintf(`host == "h%d.example.com" && path.prefix("/p%d")`, i%1000, i))
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, model.Route{Meta: model.Meta{Name: fmt.Sprintf("r-%05d", i)}, Gateway: "g", Priority: i % 500, When: c})
	}
	b.ResetTimer()
	for b.Loop() {
		LintAll(rs)
	}
}
