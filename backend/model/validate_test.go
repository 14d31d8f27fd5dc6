package model

import (
	"os"
	"strings"
	"testing"
	"time"
)

// checkProblems asserts that err holds exactly the wanted problems, each given
// as "field: message fragment".
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	got := ErrorFields(err)
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("want no problems, got %v", err)
		}
		return
	}
	if ErrorCode(err) != EINVALID {
		t.Fatalf("want an invalid error, got %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("want %d problems %q, got %d:\n%s", len(want), want, len(got), listProblems(got))
	}
	used := make([]bool, len(got))
	for _, w := range want {
		field, frag, _ := strings.Cut(w, ": ")
		found := false
		for i, g := range got {
			if !used[i] && g.Field == field && strings.Contains(g.Message, frag) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %q in:\n%s", w, listProblems(got))
		}
	}
}

func listProblems(fs []FieldError) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

func validRoute() Route {
	return Route{
		Meta:    Meta{Name: "static-assets"},
		Gateway: "public",
		When: And(
			Pred(FieldHost, OpEquals, "shop.example.com"),
			Pred(FieldPath, OpPrefix, "/static"),
			Condition{Field: FieldMethod, Op: OpIn, Values: []string{"GET", "HEAD"}},
		),
		Then: Action{
			Forward: []Backend{{Upstream: "web-v1", Weight: 90}, {Upstream: "web-v2", Weight: 10}},
			Rewrite: &Rewrite{PathPrefix: "/"},
			Headers: &HeaderPolicy{Request: &HeaderMutation{Set: map[string]string{"x-team": "shop"}, Remove: []string{"x-debug"}}},
			Timeout: Duration(5 * time.Second),
			Retries: &Retries{Attempts: 2, On: []string{Retry5xx, RetryReset, RetryConnectFailure}, PerTryTimeout: Duration(time.Second)},
		},
	}
}

func TestRouteValidate(t *testing.T) {
	tests := map[string]struct {
		mutate func(r *Route)
		want   []string
	}{
		"valid":                       {mutate: func(r *Route) {}},
		"empty condition matches all": {mutate: func(r *Route) { r.When = Condition{}; r.Then.Rewrite = nil }},
		"bad names": {
			mutate: func(r *Route) { r.Name = "Static_Assets"; r.Gateway = "" },
			want:   []string{"name: invalid name", "gateway: required"},
		},
		"name too long": {
			mutate: func(r *Route) { r.Name = strings.Repeat("a", 64) },
			want:   []string{"name: at most 63"},
		},
		"name must end alnum": {
			mutate: func(r *Route) { r.Name = "web-" },
			want:   []string{"name: must start and end"},
		},
		"unknown field and bad regex": {
			mutate: func(r *Route) {
				r.When = Or(Pred("hots", OpEquals, "a"), Pred(FieldPath, OpRegex, "/a("))
			},
			want: []string{`when.any[0].field: unknown field "hots"`, "when.any[1].value: invalid regex: missing closing )"},
		},
		"unparsed text": {
			mutate: func(r *Route) { r.When = Condition{Text: `host == "a"`} },
			want:   []string{"when: condition text not parsed"},
		},
		"node with two kinds": {
			mutate: func(r *Route) {
				r.When = Condition{All: []Condition{Pred(FieldHost, OpEquals, "a.com")}, Field: FieldPath, Op: OpPrefix, Value: "/"}
			},
			want: []string{"when: exactly one of all, any, not"},
		},
		"empty all and empty nested node": {
			mutate: func(r *Route) {
				r.When = Condition{Any: []Condition{{All: []Condition{}}, {}}}
			},
			want: []string{"when.any[0].all: must not be empty", "when.any[1]: empty condition"},
		},
		"redirect with rewrite": {
			mutate: func(r *Route) { r.Then.Forward = nil; r.Then.Redirect = &Redirect{Host: "b.com"} },
			want:   []string{"then.rewrite: only applies to forward"},
		},
		"path-only ops": {
			mutate: func(r *Route) {
				r.When = And(Pred(FieldHost, OpSegmentPrefix, "/a"), Pred(FieldHeader+"[x]", OpTemplate, "/a"), Pred(FieldMethod, OpExact, "GET"))
			},
			want: []string{`when.all[0].op: op "segment-prefix" is not allowed on host`, `when.all[1].op: op "template" is not allowed on header`, `when.all[2].op: op "exact" is not allowed on method`},
		},
		"in needs values, present takes none": {
			mutate: func(r *Route) {
				r.When = And(
					Condition{Field: FieldMethod, Op: OpIn, Value: "GET"},
					Condition{Field: "query[debug]", Op: OpPresent, Value: "1"},
					Condition{Field: "cookie[s]", Op: OpAbsent, Values: []string{"x"}},
					Condition{Field: FieldHost, Op: OpEquals, Value: "a.com", Values: []string{"x"}},
				)
			},
			want: []string{"when.all[0].value: takes a list", "when.all[0].values: needs at least one", "when.all[1].value: takes no value", "when.all[2].values: takes no values", "when.all[3].values: takes a single value"},
		},
		"empty prefix suffix contains": {
			mutate: func(r *Route) {
				r.When = And(Pred("header[x]", OpPrefix, ""), Pred("header[x]", OpSuffix, ""), Pred(FieldPath, OpContains, ""))
				r.Then.Rewrite = nil
			},
			want: []string{"when.all[0].value: must not be empty", "when.all[1].value: must not be empty", "when.all[2].value: must not be empty"},
		},
		"host patterns": {
			mutate: func(r *Route) {
				r.When = And(
					Pred(FieldHost, OpEquals, ""),
					Pred(FieldHost, OpEquals, "a.*.com"),
					Pred(FieldHost, OpEquals, "*example.com"),
					Pred(FieldHost, OpEquals, "a.com:8080"),
					Condition{Field: FieldHost, Op: OpIn, Values: []string{"*.a.com", "b.*"}},
					Pred(FieldHost, OpSuffix, "*.a.com"),
					Pred(FieldPath, OpPrefix, "/x"),
				)
			},
			want: []string{"when.all[0].value: empty host pattern", "when.all[1].value: leading", "when.all[2].value: leading", "when.all[3].value: must not include a port", "when.all[4].values[1]: leading", "when.all[5].value: wildcards only"},
		},
		"wildcard host is fine": {
			mutate: func(r *Route) { r.When.All[0] = Pred(FieldHost, OpEquals, "*.example.com") },
		},
		"path values": {
			mutate: func(r *Route) {
				r.When = And(
					Pred(FieldPath, OpPrefix, "static"),
					Pred(FieldPath, OpSegmentPrefix, "/api/"),
					Pred(FieldPath, OpExact, "/a?b=1"),
					Condition{Field: FieldPath, Op: OpNotIn, Values: []string{"/ok", "bad"}},
				)
				r.Then.Rewrite = nil
			},
			want: []string{"when.all[0].value: must start with '/'", "when.all[1].value: must not end with '/'", "when.all[2].value: never see the query", "when.all[3].values[1]: must start with '/'"},
		},
		"templates": {
			mutate: func(r *Route) {
				r.When = Or(
					Pred(FieldPath, OpTemplate, "/users/{id}/**"),
					Pred(FieldPath, OpTemplate, "/v1/{rest=**}"),
					Pred(FieldPath, OpTemplate, "/a/**/*"),
					Pred(FieldPath, OpTemplate, "/a/{id"),
					Pred(FieldPath, OpTemplate, "/a/{id}/{id}"),
					Pred(FieldPath, OpTemplate, "users/{id}"),
					Pred(FieldPath, OpTemplate, "/a/x{id}"),
					Pred(FieldPath, OpTemplate, "/a//b"),
					Pred(FieldPath, OpTemplate, "/a/**/{v}"),
					Pred(FieldPath, OpTemplate, "/a=b"),
					Pred(FieldPath, OpTemplate, "/{averyveryverylongname}"),
					Pred(FieldPath, OpTemplate, "/*.js/x"),
					Pred(FieldPath, OpTemplate, "/a b"),
					Pred(FieldPath, OpTemplate, "/{a}/{b}/{c}/{d}/{e}/{f}"),
				)
				r.Then.Rewrite = nil
			},
			want: []string{
				"when.any[2].value: no '*', '**' or {var} may follow '**'", "when.any[3].value: unclosed",
				"when.any[4].value: appears twice", "when.any[5].value: must start with '/'",
				`when.any[6].value: invalid segment "x{id}"`, "when.any[7].value: empty path segment",
				"when.any[8].value: may follow '**'", `when.any[9].value: invalid segment "a=b"`,
				"when.any[10].value: longer than 16", "when.any[11].value: must end the template",
				"when.any[12].value: not contain spaces", "when.any[13].value: at most 5 variables",
			},
		},
		"ignoreCase where Envoy has none": {
			mutate: func(r *Route) {
				r.When = And(
					Condition{Field: FieldPath, Op: OpRegex, Value: "/a", IgnoreCase: true},
					Condition{Field: "header[x]", Op: OpPresent, IgnoreCase: true},
					Condition{Field: "header[x]", Op: OpPrefix, Value: "a", IgnoreCase: true},
				)
				r.Then.Rewrite = nil
			},
			want: []string{`when.all[0].ignoreCase: not supported with op "regex"`, `when.all[1].ignoreCase: not supported with op "present"`},
		},
		"header keys": {
			mutate: func(r *Route) {
				r.When = And(Pred("header[:path]", OpEquals, "/"), Pred("header[Host]", OpEquals, "a"), Pred("header[bad name]", OpPresent, ""), Pred("header[]", OpPresent, ""))
				r.Then.Rewrite = nil
			},
			want: []string{"when.all[0].field: pseudo-header", "when.all[1].field: use the host field", "when.all[2].field: invalid header name", `when.all[3].field: unknown field "header[]"`},
		},
		"not nesting path": {
			mutate: func(r *Route) { r.When = Not(Pred("grpc", OpEquals, "x")); r.Then.Rewrite = nil },
			want:   []string{`when.not.op: op "equals" is not allowed on grpc`},
		},
		"actions": {
			mutate: func(r *Route) {
				r.Then.Respond = &Respond{Status: 200}
			},
			want: []string{"then: exactly one of forward, redirect and respond"},
		},
		"no action": {
			mutate: func(r *Route) { r.Then = Action{} },
			want:   []string{"then: exactly one of forward"},
		},
		"weights": {
			mutate: func(r *Route) {
				r.Then.Forward = []Backend{{Upstream: "a", Weight: 0}, {Upstream: "b", Weight: -1}}
			},
			want: []string{"then.forward[1].weight: must not be negative", "then.forward: add up to more than 0"},
		},
		"single backend default weight": {
			mutate: func(r *Route) { r.Then.Forward = []Backend{{Upstream: "a"}} },
		},
		"redirect": {
			mutate: func(r *Route) {
				r.Then = Action{Redirect: &Redirect{Scheme: "ftp", Status: 300, Path: "x", PathPrefix: "/y", Port: 70000}}
			},
			want: []string{"then.redirect.scheme: http or https", "then.redirect.status: 301, 302", "then.redirect: at most one of path and pathPrefix", "then.redirect.path: must start with '/'", "then.redirect.port: between 1 and 65535"},
		},
		"redirect prefix needs path prefix condition": {
			mutate: func(r *Route) {
				r.When = Pred(FieldHost, OpEquals, "a.com")
				r.Then = Action{Redirect: &Redirect{PathPrefix: "/y"}}
			},
			want: []string{`when: has no path condition for then.redirect.pathPrefix to replace: add one, such as path.prefix("/")`},
		},
		"respond": {
			mutate: func(r *Route) {
				r.Then = Action{Respond: &Respond{Status: 600, Body: strings.Repeat("x", 4097), Headers: map[string]string{":status": "1", "x-ok": "a\nb"}}}
			},
			want: []string{"then.respond.status: between 200 and 599", "then.respond.body: at most 4096", "then.respond.headers[:status]: pseudo-header", "then.respond.headers[x-ok]: must not contain CR"},
		},
		"rewrite exclusivity": {
			mutate: func(r *Route) {
				r.Then.Rewrite = &Rewrite{PathPrefix: "/", PathRegex: &RegexSub{Pattern: "("}, Host: "a.com", AutoHost: true}
			},
			want: []string{"then.rewrite: at most one of pathPrefix, pathRegex", "then.rewrite.pathRegex.pattern: invalid regex", "then.rewrite: at most one of host, hostFromHeader"},
		},
		"rewrite template needs template condition": {
			mutate: func(r *Route) { r.Then.Rewrite = &Rewrite{PathTemplate: "/v2/{id}"} },
			want:   []string{`when: has no path.template(...) condition for then.rewrite.pathTemplate to take its variables from`},
		},
		"rewrite template unknown variable": {
			mutate: func(r *Route) {
				r.When = Pred(FieldPath, OpTemplate, "/users/{id}")
				r.Then.Rewrite = &Rewrite{PathTemplate: "/v2/{name}"}
			},
			want: []string{`then.rewrite.pathTemplate: variable "name" is not bound`},
		},
		"rewrite template ok": {
			mutate: func(r *Route) {
				r.When = And(Pred(FieldHost, OpEquals, "a.com"), Pred(FieldPath, OpTemplate, "/users/{id}/{rest=**}"))
				r.Then.Rewrite = &Rewrite{PathTemplate: "/v2/{id}/x/{rest}", Host: "b.internal:8080"}
			},
		},
		"rewrite prefix without a path condition": {
			mutate: func(r *Route) { r.When = Pred(FieldHost, OpEquals, "a.com") },
			want:   []string{`when: has no path condition for then.rewrite.pathPrefix to replace: add one, such as path.prefix("/"), or rewrite with then.rewrite.pathRegex, which needs none`},
		},
		"rewrite regex without a path condition": {
			mutate: func(r *Route) {
				r.When = Pred(FieldHost, OpEquals, "a.com")
				r.Then.Rewrite = &Rewrite{PathRegex: &RegexSub{Pattern: "^/(.*)$", Substitution: "/v2/\\1"}}
			},
		},
		"rewrite prefix with two path prefixes": {
			mutate: func(r *Route) {
				r.When = And(Pred(FieldPath, OpPrefix, "/a"), Pred(FieldPath, OpPrefix, "/ab"))
			},
			want: []string{"when: has 2 path conditions, and then.rewrite.pathPrefix needs to know which part"},
		},
		"header mutations": {
			mutate: func(r *Route) {
				r.Then.Headers = &HeaderPolicy{
					Request:  &HeaderMutation{Set: map[string]string{"host": "x", "ok": "v"}, Add: map[string]string{"bad name": "v"}, Remove: []string{":path", "Host"}},
					Response: &HeaderMutation{AddIfAbsent: map[string]string{":status": "1"}},
				}
			},
			want: []string{"then.headers.request.set[host]: host cannot", "then.headers.request.add[bad name]: invalid header name", "then.headers.request.remove[0]: pseudo-header", "then.headers.request.remove[1]: host cannot", "then.headers.response.addIfAbsent[:status]: pseudo-header"},
		},
		"retries": {
			mutate: func(r *Route) {
				r.Then.Retries = &Retries{Attempts: -1, On: []string{"5xx", "sometimes"}, StatusCodes: []int{503, 42}}
			},
			want: []string{"then.retries.attempts: must not be negative", `then.retries.on[1]: unknown retry condition "sometimes"`, "then.retries.statusCodes[1]: HTTP status", "then.retries.statusCodes: only used with"},
		},
		"policies": {
			mutate: func(r *Route) {
				r.Then.RateLimit = &RateLimit{Requests: 0, Per: 0}
				r.Then.Auth = &Auth{APIKey: &APIKeyAuth{Header: "x-key", Keys: []string{"k"}}, Basic: &BasicAuth{Users: map[string]string{"a": "b"}}}
				r.Then.Access = &Access{Allow: []string{"10.0.0.0/8", "10.0.0.1"}, Deny: []string{"nope"}}
				r.Then.CORS = &CORS{}
				r.Then.Mirror = &Mirror{Upstream: "shadow", Percent: 101}
				r.Then.Fault = &Fault{Abort: &FaultAbort{Status: 150, Percent: -1}, Delay: &FaultDelay{Percent: 50}}
			},
			want: []string{
				"then.rateLimit.requests: must be > 0", "then.rateLimit.per: must be > 0",
				"then.auth: exactly one of jwt, apiKey and basic",
				`then.access.allow[1]: invalid CIDR "10.0.0.1"`, `then.access.deny[0]: invalid CIDR "nope"`,
				"then.cors.allowOrigins: at least one origin",
				"then.mirror.percent: between 0 and 100",
				"then.fault.abort.status: between 200 and 599", "then.fault.abort.percent: between 0 and 100",
				"then.fault.delay.duration: must be > 0",
			},
		},
		"jwt": {
			mutate: func(r *Route) {
				r.Then.Auth = &Auth{JWT: &JWTAuth{JWKSURI: "not a url"}}
				r.Then.CORS = &CORS{AllowOrigins: []string{"https://a.com", "regex:(", ""}}
			},
			want: []string{"then.auth.jwt.issuer: required", "then.auth.jwt.jwksUri: http or https URL", "then.auth.jwt.jwksUpstream: required with jwksUri", "then.cors.allowOrigins[1]: invalid regex", "then.cors.allowOrigins[2]: must not be empty"},
		},
		"no auth method": {
			mutate: func(r *Route) { r.Then.Auth = &Auth{} },
			want:   []string{"then.auth: exactly one of"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := validRoute()
			tc.mutate(&r)
			checkProblems(t, r.Validate(), tc.want)
		})
	}
}

func validGateway() Gateway {
	return Gateway{
		Meta: Meta{Name: "public"},
		Listeners: []Listener{
			{Name: "http", Port: 8080, Protocol: ProtocolHTTP},
			{Name: "https", Port: 8443, Protocol: ProtocolHTTPS, TLS: &ListenerTLS{Certificates: []Certificate{{Secret: "example-com"}}}},
		},
	}
}

func TestGatewayValidate(t *testing.T) {
	tests := map[string]struct {
		mutate func(g *Gateway)
		want   []string
	}{
		"valid": {mutate: func(g *Gateway) {}},
		"no listeners": {
			mutate: func(g *Gateway) { g.Listeners = nil },
			want:   []string{"listeners: at least one"},
		},
		"listener problems": {
			mutate: func(g *Gateway) {
				g.Listeners = append(g.Listeners,
					Listener{Name: "http", Port: 8080, Protocol: ProtocolHTTP},
					Listener{Name: "tls", Port: 0, Protocol: ProtocolHTTPS},
					Listener{Name: "odd", Port: 9000, Protocol: "TCP", Address: "nowhere"},
					Listener{Name: "plain", Port: 9001, Protocol: ProtocolHTTP, TLS: &ListenerTLS{MinVersion: "1.0"}},
				)
			},
			want: []string{
				`listeners[2].name: duplicate listener name "http"`, "listeners[2].port: duplicate port 8080",
				"listeners[3].port: between 1 and 65535", "listeners[3].tls.certificates: HTTPS needs",
				`listeners[4].protocol: unknown protocol "TCP"`, "listeners[4].address: must be an IP",
				"listeners[5].tls: only allowed with protocol HTTPS", "listeners[5].tls.minVersion: 1.2 or 1.3",
			},
		},
		"default response": {
			mutate: func(g *Gateway) { g.DefaultResponse = &Respond{Status: 99} },
			want:   []string{"defaultResponse.status: between 200 and 599"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := validGateway()
			tc.mutate(&g)
			checkProblems(t, g.Validate(), tc.want)
		})
	}
}

func TestUpstreamValidate(t *testing.T) {
	tests := map[string]struct {
		up   Upstream
		want []string
	}{
		"static": {up: Upstream{Meta: Meta{Name: "web-v1"}, Static: &StaticSource{Endpoints: []Endpoint{{Address: "10.0.0.11", Port: 8080}, {Address: "web.internal", Port: 80, Weight: 2}}}}},
		"dns":    {up: Upstream{Meta: Meta{Name: "web"}, DNS: &DNSSource{Host: "web.internal", Port: 80}, Protocol: UpstreamHTTP2}},
		"kubernetes and consul": {
			up:   Upstream{Meta: Meta{Name: "web"}, Kubernetes: &KubernetesSource{Namespace: "shop", Service: "web", Port: 80}, Consul: &ConsulSource{Service: "web"}},
			want: []string{": exactly one source is allowed"},
		},
		"no source": {
			up:   Upstream{Meta: Meta{Name: "web"}},
			want: []string{": exactly one source is required"},
		},
		"bad endpoints": {
			up: Upstream{Meta: Meta{Name: "web"}, Static: &StaticSource{Endpoints: []Endpoint{{Address: "", Port: 80}, {Address: "10.0.0.1:80", Port: 0, Weight: -1}}}},
			want: []string{"static.endpoints[0].address: required", "static.endpoints[1].address: without a port",
				"static.endpoints[1].port: between 1 and 65535", "static.endpoints[1].weight: must not be negative"},
		},
		"protocol lb and budget": {
			up: Upstream{
				Meta: Meta{Name: "web"}, DNS: &DNSSource{Host: "web", Port: 80}, Protocol: "http3",
				LoadBalancer:   &LoadBalancer{Policy: LBRingHash, HashOn: &HashOn{Header: "x-user", SourceIP: true}},
				CircuitBreaker: &CircuitBreaker{MaxRetries: -1, RetryBudget: &RetryBudget{BudgetPercent: 120}},
				HealthCheck:    &HealthCheck{Path: "healthz", ExpectedStatuses: []int{200, 700}},
			},
			want: []string{`protocol: unknown protocol "http3"`, "loadBalancer.hashOn: exactly one of header",
				"circuitBreaker.maxRetries: must not be negative", "circuitBreaker.retryBudget.budgetPercent: between 0 and 100",
				"healthCheck.path: must start with '/'", "healthCheck.expectedStatuses[1]: HTTP status"},
		},
		"unknown lb": {
			up:   Upstream{Meta: Meta{Name: "web"}, DNS: &DNSSource{Host: "web", Port: 80}, LoadBalancer: &LoadBalancer{Policy: "fastest"}},
			want: []string{`loadBalancer.policy: unknown policy "fastest"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkProblems(t, tc.up.Validate(), tc.want)
		})
	}
}

func TestWorkspaceValidate(t *testing.T) {
	up := func(name string) Upstream {
		return Upstream{Meta: Meta{Name: name}, DNS: &DNSSource{Host: name, Port: 80}}
	}
	r := validRoute()
	r2 := validRoute()
	r2.Name = "other"
	r2.Gateway = "private"
	r2.Then.Mirror = &Mirror{Upstream: "shadow"}
	r2.Then.Auth = &Auth{JWT: &JWTAuth{Issuer: "i", JWKSURI: "https://idp/keys", JWKSUpstream: "idp"}}
	bad := validRoute()
	bad.Then.Forward[1].Weight = -5
	bad.Listeners = []string{"http", "admin", "Bad Name", "http"}
	ws := Workspace{
		Gateways:  []Gateway{validGateway(), validGateway()},
		Upstreams: []Upstream{up("web-v1"), up("web-v2"), up("web-v1")},
		Routes:    []Route{r, r2, bad},
	}
	checkProblems(t, ws.Validate(), []string{
		// The workspace has no secrets: both gateways' HTTPS listeners name one.
		`gateways[0].listeners[1].tls.certificates[0].secret: unknown secret "example-com"`,
		`gateways[1].listeners[1].tls.certificates[0].secret: unknown secret "example-com"`,
		`gateways[1].name: duplicate gateway name "public" (also gateways[0])`,
		`upstreams[2].name: duplicate upstream name "web-v1"`,
		`routes[1].gateway: unknown gateway "private"`,
		`routes[1].then.mirror.upstream: unknown upstream "shadow"`,
		`routes[1].then.auth.jwt.jwksUpstream: unknown upstream "idp"`,
		`routes[2].name: duplicate route name "static-assets"`,
		"routes[2].then.forward[1].weight: must not be negative",
		`routes[2].listeners[2]: invalid name "Bad Name"`,
		`routes[2].listeners[3]: listener "http" is named twice`,
		`routes[2].listeners[1]: gateway "public" has no listener "admin"`,
		`routes[2].listeners[2]: gateway "public" has no listener "Bad Name"`,
	})

	ok := Workspace{Secrets: []Secret{testSecret(t)}, Gateways: []Gateway{validGateway()}, Upstreams: []Upstream{up("web-v1"), up("web-v2")}, Routes: []Route{validRoute()}}
	checkProblems(t, ok.Validate(), nil)
}

// testSecret is the example-com secret validGateway's HTTPS listener
// names, from a certificate and key generated once for tests.
func testSecret(t *testing.T) Secret {
	t.Helper()
	cert, err := os.ReadFile("testdata/example-com.crt")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("testdata/example-com.key")
	if err != nil {
		t.Fatal(err)
	}
	return Secret{Meta: Meta{Name: "example-com"}, TLS: &SecretTLS{Certificate: string(cert), PrivateKey: string(key)}}
}

func TestPathTemplate(t *testing.T) {
	tests := map[string]struct {
		tmpl, path string
		match      bool
		vars       map[string]string
	}{
		"variable":              {"/users/{id}", "/users/42", true, map[string]string{"id": "42"}},
		"variable one segment":  {"/users/{id}", "/users/42/x", false, nil},
		"variable not empty":    {"/users/{id}", "/users/", false, nil},
		"double star any depth": {"/files/**", "/files/a/b/c", true, map[string]string{}},
		"double star zero":      {"/files/**", "/files/", true, map[string]string{}},
		"double star needs sep": {"/files/**", "/files", false, nil},
		"double star then text": {"/a/**/b", "/a/x/y/b", true, map[string]string{}},
		"double star suffix":    {"/**.mpd", "/content/123/dash/manifest.mpd", true, map[string]string{}},
		"glob suffix":           {"/videos/*/*.m4s", "/videos/123/seg1.m4s", true, map[string]string{}},
		"glob suffix no slash":  {"/videos/*.m4s", "/videos/a/b.m4s", false, nil},
		"variable suffix":       {"/v/{file}.mp4", "/v/cat.mp4", true, map[string]string{"file": "cat"}},
		"trailing slash":        {"/a/", "/a/", true, map[string]string{}},
		"trailing slash needed": {"/a/", "/a", false, nil},
		"star one segment":      {"/a/*/c", "/a/b/c", true, map[string]string{}},
		"star not two":          {"/a/*/c", "/a/b/x/c", false, nil},
		"star not equals sign":  {"/a/*", "/a/x=1", false, nil},
		"var double star":       {"/v1/{rest=**}", "/v1/x/y", true, map[string]string{"rest": "x/y"}},
		"var pattern":           {"/a/{v=x/*}/b", "/a/x/q/b", true, map[string]string{"v": "x/q"}},
		"literal escaped":       {"/a.b", "/aXb", false, nil},
		"root":                  {"/", "/", true, map[string]string{}},
		"case sensitive":        {"/Users/{id}", "/users/1", false, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pt, err := ParsePathTemplate(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			vars, ok := pt.Match(tc.path)
			if ok != tc.match {
				t.Fatalf("Match(%q) = %v, want %v", tc.path, ok, tc.match)
			}
			for k, v := range tc.vars {
				if vars[k] != v {
					t.Errorf("var %s = %q, want %q", k, vars[k], v)
				}
			}
		})
	}
	got, err := RewritePathTemplate("/v2/{id}/raw/{rest}", map[string]string{"id": "7", "rest": "a/b"})
	if err != nil || got != "/v2/7/raw/a/b" {
		t.Fatalf("RewritePathTemplate = %q, %v", got, err)
	}
	if _, err := RewritePathTemplate("/v2/{nope}", map[string]string{"id": "7"}); err == nil {
		t.Fatal("want error for unbound variable")
	}
	if _, err := RewritePathTemplate("/v2/*", nil); err == nil {
		t.Fatal("want error for a glob in a rewrite")
	}
}
