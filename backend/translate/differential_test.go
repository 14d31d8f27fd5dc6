package translate

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/sandbox/sim"
)

var (
	diffSets = flag.Int("diff.sets", 300, "random rule sets in the differential test")
	diffSeed = flag.Uint64("diff.seed", 1, "seed of the differential test")
)

// predicates the generator draws from: every field, the tricky operators
// (negations on optional fields, wildcards, case folding, query strings).
var diffPredicates = []model.Condition{
	model.Pred(model.FieldHost, model.OpEquals, "a.example.com"),
	model.Pred(model.FieldHost, model.OpEquals, "*.example.com"),
	model.Pred(model.FieldHost, model.OpEquals, "c.other.org"),
	{Field: model.FieldHost, Op: model.OpIn, Values: []string{"b.example.com", "c.other.org"}},
	model.Pred(model.FieldHost, model.OpNotEquals, "a.example.com"),
	model.Pred(model.FieldHost, model.OpPrefix, "b."),
	model.Pred(model.FieldHost, model.OpSuffix, ".org"),
	model.Pred(model.FieldHost, model.OpRegex, "[a-c]\\..*"),
	model.Pred(model.FieldPath, model.OpPrefix, "/api"),
	{Field: model.FieldPath, Op: model.OpPrefix, Value: "/API/v1", IgnoreCase: true},
	model.Pred(model.FieldPath, model.OpExact, "/docs"),
	model.Pred(model.FieldPath, model.OpSegmentPrefix, "/docs"),
	model.Pred(model.FieldPath, model.OpSegmentPrefix, "/"),
	model.Pred(model.FieldPath, model.OpRegex, "/users/[0-9]+.*"),
	model.Pred(model.FieldPath, model.OpSuffix, ".js"),
	model.Pred(model.FieldPath, model.OpRegex, "/api|/docs/.*"),
	model.Pred("cookie[s]", model.OpRegex, "v1|x"),
	model.Pred(model.FieldPath, model.OpContains, "x"),
	model.Pred(model.FieldPath, model.OpTemplate, "/users/{id}/orders"),
	{Field: model.FieldMethod, Op: model.OpIn, Values: []string{"GET", "HEAD"}},
	model.Pred(model.FieldMethod, model.OpEquals, "POST"),
	model.Pred(model.FieldScheme, model.OpEquals, "https"),
	model.Pred("header[x-a]", model.OpEquals, "1"),
	model.Pred("header[x-a]", model.OpNotEquals, "1"),
	model.Pred("header[x-a]", model.OpPresent, ""),
	model.Pred("header[x-a]", model.OpAbsent, ""),
	model.Pred("header[x-a]", model.OpRegex, "[0-9]*"),
	{Field: "header[x-b]", Op: model.OpIn, Values: []string{"Red", "blue"}, IgnoreCase: true},
	model.Pred("header[x-b]", model.OpPrefix, "re"),
	{Field: "header[x-b]", Op: model.OpNotIn, Values: []string{"red"}},
	model.Pred("cookie[s]", model.OpEquals, "v1"),
	model.Pred("cookie[s]", model.OpPresent, ""),
	model.Pred("cookie[s]", model.OpPrefix, "v"),
	model.Pred("grpc", model.OpPresent, ""),
	model.Pred("grpc.service", model.OpEquals, "shop.Cart"),
	model.Pred("grpc.method", model.OpNotEquals, "Get"),
}

// query predicates can only appear un-negated.
var diffQueryPredicates = []model.Condition{
	model.Pred("query[q]", model.OpEquals, "1"),
	model.Pred("query[q]", model.OpPresent, ""),
	model.Pred("query[q]", model.OpAbsent, ""),
	model.Pred("query[q]", model.OpPrefix, "a"),
}

type diffRequest struct {
	method, host, path, scheme string
	headers                    map[string]string
}

var (
	diffHosts   = []string{"a.example.com", "b.example.com", "x.example.com", "A.Example.com:8080", "c.other.org", "b.net", "x.y.example.com", ".example.com"}
	diffPaths   = []string{"/", "/api", "/api/v1", "/API/v1/users", "/apix", "/docs", "/docs/", "/docs/a", "/docsx", "/static/app.js", "/users/42/orders", "/users/x/orders", "/api?q=1", "/x?q=abc&q=1", "/p?a=1&q", "/shop.Cart/Get", "/shop.Cart/List", "/shop.Cart/a/b", "/q?x=/docs"}
	diffMethods = []string{"GET", "POST", "HEAD", "get"}
	diffHeader  = map[string][]string{
		"x-a":          {"1", "2", "", "11"},
		"x-b":          {"red", "RED", "Blue", "reed", "green"},
		"cookie":       {"s=v1", "a=1; s=v2", "s=\"v1\"", "x=s=v1", "s=v1 ; b=2", "S=v1"},
		"content-type": {"application/grpc", "application/grpc+proto", "application/json"},
	}
)

func randomCondition(r *rand.Rand, depth int, negated bool) model.Condition {
	if depth == 0 || r.IntN(3) == 0 {
		if !negated && r.IntN(6) == 0 {
			return diffQueryPredicates[r.IntN(len(diffQueryPredicates))]
		}
		return diffPredicates[r.IntN(len(diffPredicates))]
	}
	switch r.IntN(3) {
	case 0:
		return model.Not(randomCondition(r, depth-1, !negated))
	case 1:
		return model.And(randomCondition(r, depth-1, negated), randomCondition(r, depth-1, negated))
	}
	return model.Or(randomCondition(r, depth-1, negated), randomCondition(r, depth-1, negated))
}

func randomRequest(r *rand.Rand) diffRequest {
	req := diffRequest{
		method:  diffMethods[r.IntN(len(diffMethods))],
		host:    diffHosts[r.IntN(len(diffHosts))],
		path:    diffPaths[r.IntN(len(diffPaths))],
		scheme:  []string{"http", "https"}[r.IntN(2)],
		headers: map[string]string{},
	}
	for name, values := range diffHeader {
		if r.IntN(2) == 0 {
			req.headers[name] = values[r.IntN(len(values))]
		}
	}
	return req
}

// TestDifferentialAgainstEvaluator routes random requests through random
// rule sets twice: with the reference evaluator (the definition of what the
// rules mean) and with the simulated Envoy running the translated route
// configuration. The matched rule must be the same.
func TestDifferentialAgainstEvaluator(t *testing.T) {
	r := rand.New(rand.NewPCG(*diffSeed, 2))
	translated, compared := 0, 0
	for set := 0; set < *diffSets; set++ {
		ws := model.Workspace{
			Gateways:  []model.Gateway{{Meta: model.Meta{Name: "gw"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
			Upstreams: []model.Upstream{{Meta: model.Meta{Name: "up"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}},
		}
		ws.Upstreams = append(ws.Upstreams, model.Upstream{Meta: model.Meta{Name: "up2"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.2", Port: 80}}}})
		for i := range 1 + r.IntN(6) {
			when, then := randomAction(r, i)
			ws.Routes = append(ws.Routes, model.Route{
				Meta:     model.Meta{Name: fmt.Sprintf("r%d", i)},
				Gateway:  "gw",
				Priority: r.IntN(3),
				When:     when,
				Then:     then,
			})
		}
		res, err := Gateway(ws, "gw", Options{})
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("set %d: %v", set, err)
			}
			continue
		}
		translated++
		router, err := sim.New(res.Routes[0], sim.Options{StripAnyHostPort: true})
		if err != nil {
			t.Fatalf("set %d: the simulated Envoy refuses the translation: %v", set, err)
		}
		prog := rules.Compile(ws.Routes, "gw")
		for range 40 {
			req := randomRequest(r)
			random := r.Uint64N(100)
			er := evalRequest(req)
			er.Random = random
			want := outcomeOf(prog.Evaluate(er))
			d := router.Route(simRequest(req), random)
			got := simOutcome(d)
			compared++
			if got != want {
				t.Errorf("set %d, request %+v random %d:\n  evaluator: %+v\n  envoy:     %+v (route %q)\n  rules: %s",
					set, req, random, want, got, d.Route, describeRules(ws.Routes))
				if t.Failed() && compared > 0 && countErrors(t) {
					return
				}
			}
		}
	}
	if translated < *diffSets/2 {
		t.Errorf("only %d of %d random rule sets translated", translated, *diffSets)
	}
	t.Logf("%d rule sets translated, %d requests compared", translated, compared)
}

var diffErrors int

// countErrors stops the test after a handful of mismatches.
func countErrors(t *testing.T) bool {
	diffErrors++
	return diffErrors >= 5
}

func evalRequest(req diffRequest) rules.Request {
	h := http.Header{}
	for k, v := range req.headers {
		h[k] = []string{v}
	}
	return rules.Request{Method: req.method, URL: req.scheme + "://" + req.host + req.path, Headers: h, Scheme: req.scheme}
}

func simRequest(req diffRequest) *sim.Request {
	kv := []string{":scheme", req.scheme, "x-forwarded-proto", req.scheme}
	for _, k := range sortedKeys(req.headers) {
		kv = append(kv, k, req.headers[k])
	}
	return sim.NewRequest(req.method, req.host, req.path, kv...)
}

func ruleOf(route string) string {
	rule, _ := RuleOfRoute(route)
	return rule
}

func describeRules(routes []model.Route) string {
	var b strings.Builder
	for _, r := range routes {
		fmt.Fprintf(&b, "\n    %s (priority %d): %s then %+v", r.Name, r.Priority, rules.Format(r.When), describeAction(r.Then))
	}
	return b.String()
}

func describeAction(a model.Action) string {
	var parts []string
	for _, b := range a.Forward {
		parts = append(parts, fmt.Sprintf("forward %s/%d", b.Upstream, b.Weight))
	}
	if a.Rewrite != nil {
		parts = append(parts, fmt.Sprintf("rewrite %+v", *a.Rewrite))
	}
	if a.Redirect != nil {
		parts = append(parts, fmt.Sprintf("redirect %+v", *a.Redirect))
	}
	if a.Respond != nil {
		parts = append(parts, fmt.Sprintf("respond %d", a.Respond.Status))
	}
	return strings.Join(parts, ", ")
}

// outcome is what a request's routing decides, in terms both sides report.
type outcome struct {
	Rule, Upstream, Path, Host, Redirect string
	Status                               int
}

func outcomeOf(res rules.Result) outcome {
	o := outcome{Rule: res.Rule, Upstream: res.Upstream, Redirect: res.RedirectURL, Status: res.Status}
	if res.Upstream != "" {
		o.Path, o.Host = res.Path, res.Host
	}
	if o.Rule == "" {
		o.Status = 404
	}
	return o
}

func simOutcome(d *sim.Decision) outcome {
	o := outcome{Rule: ruleOf(d.Route), Upstream: d.Cluster}
	if d.Response != nil {
		o.Status = d.Response.Status
		if d.Response.Status >= 300 && d.Response.Status < 400 {
			o.Redirect = d.RedirectURL
		}
	}
	if o.Upstream != "" {
		o.Path, _ = d.RequestHeaders.Get(":path")
		o.Host, _ = d.RequestHeaders.Get(":authority")
	}
	return o
}

// randomAction picks an action; rewrites that replace a matched prefix or
// template get the top-level path test they need.
func randomAction(r *rand.Rand, i int) (model.Condition, model.Action) {
	when := randomCondition(r, 3, false)
	fwd := []model.Backend{{Upstream: "up"}}
	switch r.IntN(8) {
	case 0:
		return when, model.Action{Respond: &model.Respond{Status: 200 + i}}
	case 1:
		return when, model.Action{Forward: []model.Backend{{Upstream: "up", Weight: 30}, {Upstream: "up2", Weight: 70}}}
	case 2:
		prefix := []string{"/api", "/docs", "/"}[r.IntN(3)]
		op := []string{model.OpPrefix, model.OpSegmentPrefix, model.OpExact}[r.IntN(3)]
		return model.And(model.Pred(model.FieldPath, op, prefix), when),
			model.Action{Forward: fwd, Rewrite: &model.Rewrite{PathPrefix: []string{"/", "/v2", "/v2/"}[r.IntN(3)]}}
	case 3:
		return when, model.Action{Forward: fwd, Rewrite: &model.Rewrite{PathRegex: &model.RegexSub{Pattern: "/([a-z]+)", Substitution: "/x-\\1"}}}
	case 4:
		return model.And(model.Pred(model.FieldPath, model.OpTemplate, "/users/{id}/orders"), when),
			model.Action{Forward: fwd, Rewrite: &model.Rewrite{PathTemplate: "/orders/{id}"}}
	case 5:
		return when, model.Action{Forward: fwd, Rewrite: &model.Rewrite{Host: "internal.example"}}
	case 6:
		rd := &model.Redirect{Scheme: "https", Status: 302}
		if r.IntN(2) == 0 {
			rd = &model.Redirect{Host: "new.example.com", Path: "/moved", StripQuery: r.IntN(2) == 0}
		}
		return when, model.Action{Redirect: rd}
	}
	return when, model.Action{Forward: fwd, Rewrite: &model.Rewrite{HostFromHeader: "x-b"}}
}
