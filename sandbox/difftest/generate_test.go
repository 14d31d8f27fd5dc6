package difftest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// predicates the generator draws from: every field and operator, with the
// tricky cases (negations on optional fields, wildcards, case folding,
// query strings, gRPC paths).
var predicates = []model.Condition{
	model.Pred(model.FieldHost, model.OpEquals, "a.example.com"),
	model.Pred(model.FieldHost, model.OpEquals, "*.example.com"),
	model.Pred(model.FieldHost, model.OpEquals, "c.other.org"),
	model.Pred(model.FieldHost, model.OpEquals, "*.org"),
	{Field: model.FieldHost, Op: model.OpIn, Values: []string{"b.example.com", "c.other.org"}},
	{Field: model.FieldHost, Op: model.OpNotIn, Values: []string{"b.example.com"}},
	model.Pred(model.FieldHost, model.OpNotEquals, "a.example.com"),
	model.Pred(model.FieldHost, model.OpPrefix, "b."),
	model.Pred(model.FieldHost, model.OpSuffix, ".org"),
	model.Pred(model.FieldHost, model.OpContains, "example"),
	model.Pred(model.FieldHost, model.OpRegex, "[a-c]\\..*"),
	model.Pred(model.FieldPath, model.OpPrefix, "/api"),
	{Field: model.FieldPath, Op: model.OpPrefix, Value: "/API/v1", IgnoreCase: true},
	model.Pred(model.FieldPath, model.OpExact, "/docs"),
	{Field: model.FieldPath, Op: model.OpExact, Value: "/DOCS", IgnoreCase: true},
	model.Pred(model.FieldPath, model.OpSegmentPrefix, "/docs"),
	model.Pred(model.FieldPath, model.OpSegmentPrefix, "/"),
	model.Pred(model.FieldPath, model.OpRegex, "/users/[0-9]+.*"),
	model.Pred(model.FieldPath, model.OpSuffix, ".js"),
	model.Pred(model.FieldPath, model.OpContains, "x"),
	model.Pred(model.FieldPath, model.OpTemplate, "/users/{id}/orders"),
	{Field: model.FieldMethod, Op: model.OpIn, Values: []string{"GET", "HEAD"}},
	model.Pred(model.FieldMethod, model.OpEquals, "POST"),
	model.Pred(model.FieldMethod, model.OpNotEquals, "GET"),
	model.Pred(model.FieldScheme, model.OpEquals, "https"),
	model.Pred("header[x-a]", model.OpEquals, "1"),
	model.Pred("header[x-a]", model.OpNotEquals, "1"),
	model.Pred("header[x-a]", model.OpPresent, ""),
	model.Pred("header[x-a]", model.OpAbsent, ""),
	model.Pred("header[x-a]", model.OpRegex, "[0-9]*"),
	model.Pred("header[x-a]", model.OpSuffix, "1"),
	model.Pred("header[x-a]", model.OpContains, "1"),
	{Field: "header[x-b]", Op: model.OpIn, Values: []string{"Red", "blue"}, IgnoreCase: true},
	{Field: "header[x-b]", Op: model.OpEquals, Value: "RED", IgnoreCase: true},
	model.Pred("header[x-b]", model.OpPrefix, "re"),
	{Field: "header[x-b]", Op: model.OpNotIn, Values: []string{"red"}},
	model.Pred("cookie[s]", model.OpEquals, "v1"),
	model.Pred("cookie[s]", model.OpPresent, ""),
	model.Pred("cookie[s]", model.OpPrefix, "v"),
	model.Pred("grpc", model.OpPresent, ""),
	model.Pred("grpc.service", model.OpEquals, "shop.Cart"),
	model.Pred("grpc.method", model.OpNotEquals, "Get"),
}

// positivePredicates can only appear un-negated: Envoy cannot invert a
// query parameter matcher, and a negated cookie != would need one regex to
// say "absent, or some occurrence equal".
var positivePredicates = []model.Condition{
	model.Pred("cookie[s]", model.OpNotEquals, "v1"),
	{Field: "cookie[s]", Op: model.OpNotIn, Values: []string{"v1", "v2"}},
	model.Pred("query[q]", model.OpEquals, "1"),
	model.Pred("query[q]", model.OpPresent, ""),
	model.Pred("query[q]", model.OpAbsent, ""),
	model.Pred("query[q]", model.OpPrefix, "a"),
	model.Pred("query[q]", model.OpRegex, "[0-9]+"),
}

// request is one generated request.
type request struct {
	Method, Host, Path, Scheme string
	Headers                    map[string]string
}

var (
	hosts        = []string{"a.example.com", "b.example.com", "x.example.com", "A.Example.com:8080", "c.other.org", "b.net", "x.y.example.com", ".example.com", "b.org"}
	paths        = []string{"/", "/api", "/api/v1", "/API/v1/users", "/apix", "/docs", "/DOCS", "/docs/", "/docs/a", "/docsx", "/static/app.js", "/users/42/orders", "/users/x/orders", "/api?q=1", "/x?q=abc&q=1", "/p?a=1&q", "/p?q=77", "/shop.Cart/Get", "/shop.Cart/List", "/shop.Cart/a/b", "/q?x=/docs"}
	methods      = []string{"GET", "POST", "HEAD", "PUT"}
	headerValues = map[string][]string{
		"x-a":          {"1", "2", "", "11", "a1"},
		"x-b":          {"red", "RED", "Blue", "reed", "green"},
		"cookie":       {"s=v1", "a=1; s=v2", "s=\"v1\"", "x=s=v1", "s=v1 ; b=2", "S=v1", "s=v2; s=v1", "s=w; a=1; s=v3"},
		"content-type": {"application/grpc", "application/grpc+proto", "application/json"},
	}
)

func randomCondition(r *rand.Rand, depth int, negated bool) model.Condition {
	if depth == 0 || r.IntN(3) == 0 {
		if !negated && r.IntN(6) == 0 {
			return positivePredicates[r.IntN(len(positivePredicates))]
		}
		return predicates[r.IntN(len(predicates))]
	}
	switch r.IntN(3) {
	case 0:
		return model.Not(randomCondition(r, depth-1, !negated))
	case 1:
		return model.And(randomCondition(r, depth-1, negated), randomCondition(r, depth-1, negated))
	}
	return model.Or(randomCondition(r, depth-1, negated), randomCondition(r, depth-1, negated))
}

func randomRequest(r *rand.Rand) request {
	req := request{
		Method:  methods[r.IntN(len(methods))],
		Host:    hosts[r.IntN(len(hosts))],
		Path:    paths[r.IntN(len(paths))],
		Scheme:  []string{"http", "https"}[r.IntN(2)],
		Headers: map[string]string{},
	}
	for _, name := range sortedKeys(headerValues) {
		if r.IntN(2) == 0 {
			values := headerValues[name]
			req.Headers[name] = values[r.IntN(len(values))]
		}
	}
	return req
}

// randomAction picks an action; rewrites that replace a matched prefix or
// template get the top-level path test they need.
func randomAction(r *rand.Rand, i int) (model.Condition, model.Action) {
	when := randomCondition(r, 3, false)
	fwd := []model.Backend{{Upstream: "up"}}
	switch r.IntN(9) {
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
	case 7:
		return when, model.Action{Forward: []model.Backend{{Upstream: "up2"}}}
	}
	return when, model.Action{Forward: fwd, Rewrite: &model.Rewrite{HostFromHeader: "x-b"}}
}

// workspace is the fixed gateway and upstreams with n random rules.
func workspace(r *rand.Rand) model.Workspace {
	ws := model.Workspace{
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "gw"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
		Upstreams: []model.Upstream{
			{Meta: model.Meta{Name: "up"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}},
			{Meta: model.Meta{Name: "up2"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.2", Port: 80}}}},
		},
	}
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
	return ws
}

func (q request) evaluatorRequest(random uint64) rules.Request {
	h := http.Header{}
	for k, v := range q.Headers {
		h[k] = []string{v}
	}
	return rules.Request{Method: q.Method, URL: q.Scheme + "://" + q.Host + q.Path, Headers: h, Scheme: q.Scheme, Random: random}
}

func (q request) simRequest() *sim.Request {
	kv := []string{":scheme", q.Scheme, "x-forwarded-proto", q.Scheme}
	for _, k := range sortedKeys(q.Headers) {
		kv = append(kv, k, q.Headers[k])
	}
	return sim.NewRequest(q.Method, q.Host, q.Path, kv...)
}

func (q request) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s://%s%s", q.Method, q.Scheme, q.Host, q.Path)
	for _, k := range sortedKeys(q.Headers) {
		fmt.Fprintf(&b, " %s=%q", k, q.Headers[k])
	}
	return b.String()
}

// outcome is what routing decides, in terms both sides report.
type outcome struct {
	Rule, Upstream, Path, Host, Redirect string
	Status                               int
}

func evaluatorOutcome(res rules.Result) outcome {
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

// ruleOf recovers the rule name from a translated route name.
func ruleOf(route string) string {
	rule, _ := translate.RuleOfRoute(route)
	return rule
}

func describeRules(routes []model.Route) string {
	var b strings.Builder
	for _, r := range routes {
		fmt.Fprintf(&b, "\n    %s (priority %d): when %s then %s", r.Name, r.Priority, rules.Format(r.When), describeAction(r.Then))
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

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
