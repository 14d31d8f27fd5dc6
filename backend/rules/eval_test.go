package rules

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/routedeck/routedeck/backend/model"
)

func forwardTo(u string) model.Action { return model.Action{Forward: []model.Backend{{Upstream: u}}} }

func textRoute(name, when string) model.Route {
	return model.Route{Meta: model.Meta{Name: name}, Gateway: "public", When: model.Condition{Text: when}, Then: forwardTo("web")}
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// TestPredicates pins the meaning of every predicate kind, one request at a
// time. These cases are the written semantics the translator must reproduce.
func TestPredicates(t *testing.T) {
	tests := map[string]struct {
		when string
		req  Request
		want bool
	}{
		// host
		"host equals":                 {`host == "shop.example.com"`, Request{URL: "http://shop.example.com/"}, true},
		"host ignores port":           {`host == "shop.example.com"`, Request{URL: "http://shop.example.com:8080/"}, true},
		"host case-insensitive":       {`host == "Shop.Example.COM"`, Request{URL: "http://SHOP.example.com/"}, true},
		"host header overrides url":   {`host == "b.com"`, Request{URL: "http://a.com/", Headers: hdr("Host", "b.com:443")}, true},
		"host from authority":         {`host == "b.com"`, Request{URL: "/", Headers: hdr(":authority", "b.com")}, true},
		"host wildcard one label":     {`host == "*.example.com"`, Request{URL: "http://a.example.com/"}, true},
		"host wildcard two labels":    {`host == "*.example.com"`, Request{URL: "http://a.b.example.com/"}, true},
		"host wildcard not apex":      {`host == "*.example.com"`, Request{URL: "http://example.com/"}, false},
		"host wildcard not bare dot":  {`host == "*.example.com"`, Request{URL: "http://.example.com/"}, false},
		"host wildcard with port":     {`host == "*.example.com"`, Request{URL: "http://a.example.com:9000/"}, true},
		"host in with wildcard":       {`host in ["a.com", "*.b.com"]`, Request{URL: "http://x.b.com/"}, true},
		"host not in":                 {`host not in ["a.com", "*.b.com"]`, Request{URL: "http://c.com/"}, true},
		"host not equals wildcard":    {`host != "*.b.com"`, Request{URL: "http://x.b.com/"}, false},
		"host suffix folds":           {`host.suffix(".COM")`, Request{URL: "http://a.com/"}, true},
		"host regex case-insensitive": {`host.regex("A\\.com")`, Request{URL: "http://a.com/"}, true},
		"ipv6 host keeps brackets":    {`host == "[::1]"`, Request{URL: "http://[::1]:8080/"}, true},
		"host from userinfo url":      {`host == "a.com"`, Request{URL: "http://user:pw@a.com:81/"}, true},
		// path
		"path prefix":                      {`path.prefix("/static")`, Request{URL: "/static/app.js"}, true},
		"path prefix is a string prefix":   {`path.prefix("/static")`, Request{URL: "/staticfoo"}, true},
		"path case-sensitive":              {`path.prefix("/Static")`, Request{URL: "/static/x"}, false},
		"path prefix ignoreCase":           {`path.prefix("/Static", ignoreCase)`, Request{URL: "/STATIC/x"}, true},
		"path equals ignores query":        {`path == "/a"`, Request{URL: "/a?x=1"}, true},
		"path exact ignores fragment":      {`path.exact("/a")`, Request{URL: "/a#frag"}, true},
		"path regex sees no query":         {`path.regex("/a")`, Request{URL: "http://h/a?b"}, true},
		"path regex is a full match":       {`path.regex("/a")`, Request{URL: "/ab"}, false},
		"path empty is slash":              {`path == "/"`, Request{URL: "http://h"}, true},
		"path query only":                  {`path == "/" && query["a"] == "1"`, Request{URL: "http://h?a=1"}, true},
		"path not decoded":                 {`path == "/a%20b"`, Request{URL: "/a%20b"}, true},
		"segment prefix exact":             {`path.segmentPrefix("/api")`, Request{URL: "/api"}, true},
		"segment prefix child":             {`path.segmentPrefix("/api")`, Request{URL: "/api/v1"}, true},
		"segment prefix not partial":       {`path.segmentPrefix("/api")`, Request{URL: "/apix"}, false},
		"segment prefix with query":        {`path.segmentPrefix("/api")`, Request{URL: "/api?x"}, true},
		"segment prefix ignoreCase":        {`path.segmentPrefix("/API", ignoreCase)`, Request{URL: "/api/x"}, true},
		"template var":                     {`path.template("/users/{id}")`, Request{URL: "/users/42?x=1"}, true},
		"template var one segment":         {`path.template("/users/{id}")`, Request{URL: "/users/42/posts"}, false},
		"template double star deep":        {`path.template("/files/**")`, Request{URL: "/files/a/b/c.txt"}, true},
		"template double star empty":       {`path.template("/files/**")`, Request{URL: "/files/"}, true},
		"template double star needs slash": {`path.template("/files/**")`, Request{URL: "/files"}, false},
		"template star then double":        {`path.template("/{org}/*/**")`, Request{URL: "/acme/repo/x/y"}, true},
		"path not equals":                  {`path != "/a"`, Request{URL: "/b"}, true},
		"path suffix":                      {`path.suffix(".js")`, Request{URL: "/a.js?v=1"}, true},
		"path contains":                    {`path.contains("/v1/")`, Request{URL: "/api/v1/x"}, true},
		// method and scheme
		"method in":              {`method in ["GET", "HEAD"]`, Request{Method: "HEAD", URL: "/"}, true},
		"method default GET":     {`method == "GET"`, Request{URL: "/"}, true},
		"method case-sensitive":  {`method == "GET"`, Request{Method: "get", URL: "/"}, false},
		"method ignoreCase":      {`method.equals("GET", ignoreCase)`, Request{Method: "get", URL: "/"}, true},
		"scheme from url":        {`scheme == "https"`, Request{URL: "https://a.com/"}, true},
		"scheme field overrides": {`scheme == "https"`, Request{URL: "http://a.com/", Scheme: "https"}, true},
		"scheme default http":    {`scheme == "http"`, Request{URL: "/"}, true},
		// headers
		"header equals":                 {`header["x-canary"] == "1"`, Request{URL: "/", Headers: hdr("X-Canary", "1")}, true},
		"header name case-insensitive":  {`header["X-CANARY"] == "1"`, Request{URL: "/", Headers: http.Header{"x-canary": {"1"}}}, true},
		"header value case-sensitive":   {`header["x"] == "abc"`, Request{URL: "/", Headers: hdr("x", "ABC")}, false},
		"header ignoreCase":             {`header["x"].equals("abc", ignoreCase)`, Request{URL: "/", Headers: hdr("x", "ABC")}, true},
		"header repeated joined":        {`header["x"] == "a,b"`, Request{URL: "/", Headers: hdr("x", "a", "x", "b")}, true},
		"header repeated not first":     {`header["x"] == "a"`, Request{URL: "/", Headers: hdr("x", "a", "x", "b")}, false},
		"header present empty value":    {`header["x"].present() && header["x"] == ""`, Request{URL: "/", Headers: hdr("x", "")}, true},
		"header missing equals":         {`header["x"] == "a"`, Request{URL: "/"}, false},
		"header missing not equals":     {`header["x"] != "a"`, Request{URL: "/"}, false},
		"header missing not in":         {`header["x"] not in ["a"]`, Request{URL: "/"}, false},
		"header missing negated equals": {`!(header["x"] == "a")`, Request{URL: "/"}, true},
		"header present not equals":     {`header["x"] != "a"`, Request{URL: "/", Headers: hdr("x", "b")}, true},
		"header absent":                 {`header["x"].absent()`, Request{URL: "/"}, true},
		"header prefix":                 {`header["user-agent"].prefix("curl/")`, Request{URL: "/", Headers: hdr("User-Agent", "curl/8.0")}, true},
		"header contains ignoreCase":    {`header["accept"].contains("JSON", ignoreCase)`, Request{URL: "/", Headers: hdr("Accept", "application/json")}, true},
		"header regex full":             {`header["x"].regex("v[0-9]")`, Request{URL: "/", Headers: hdr("x", "v12")}, false},
		// query
		"query equals":             {`query["v"] == "2"`, Request{URL: "/?v=2"}, true},
		"query not decoded":        {`query["q"] == "a b"`, Request{URL: "/?q=a%20b"}, false},
		"query raw":                {`query["q"] == "a%20b"`, Request{URL: "/?q=a%20b"}, true},
		"query plus not space":     {`query["q"] == "a+b"`, Request{URL: "/?q=a+b"}, true},
		"query first value counts": {`query["v"] == "2"`, Request{URL: "/?v=1&v=2"}, false},
		"query key without value":  {`query["debug"].present() && query["debug"] == ""`, Request{URL: "/?debug"}, true},
		"query missing not equals": {`query["v"] != "1"`, Request{URL: "/"}, false},
		"query absent":             {`query["debug"].absent()`, Request{URL: "/?debugx=1"}, true},
		"query key case-sensitive": {`query["V"].present()`, Request{URL: "/?v=1"}, false},
		"query value with equals":  {`query["t"] == "a=b"`, Request{URL: "/?t=a=b"}, true},
		"query ignores fragment":   {`query["a"] == "1"`, Request{URL: "/?a=1#x"}, true},
		// cookies
		"cookie equals":             {`cookie["session"] == "abc"`, Request{URL: "/", Headers: hdr("Cookie", "a=1; session=abc")}, true},
		"cookie quoted":             {`cookie["s"] == "x y"`, Request{URL: "/", Headers: hdr("Cookie", `s="x y"`)}, true},
		"cookie across headers":     {`cookie["b"] == "2"`, Request{URL: "/", Headers: hdr("Cookie", "a=1", "Cookie", "b=2")}, true},
		"cookie any occurrence":     {`cookie["a"] == "2"`, Request{URL: "/", Headers: hdr("Cookie", "a=1; a=2")}, true},
		"cookie any across headers": {`cookie["a"].prefix("2")`, Request{URL: "/", Headers: hdr("Cookie", "a=1", "Cookie", "a=20")}, true},
		"cookie not equals any":     {`cookie["a"] != "2"`, Request{URL: "/", Headers: hdr("Cookie", "a=1; a=2")}, false},
		"cookie not equals all":     {`cookie["a"] != "3"`, Request{URL: "/", Headers: hdr("Cookie", "a=1; a=2")}, true},
		"cookie not in":             {`cookie["a"] not in ["2", "4"]`, Request{URL: "/", Headers: hdr("Cookie", "a=1; a=2")}, false},
		"cookie negated equals":     {`!(cookie["a"] == "2")`, Request{URL: "/", Headers: hdr("Cookie", "a=1; a=2")}, false},
		"cookie header joined":      {`header["cookie"] == "a=1; b=2"`, Request{URL: "/", Headers: hdr("Cookie", "a=1", "Cookie", "b=2")}, true},
		"cookie missing not equals": {`cookie["a"] != "1"`, Request{URL: "/"}, false},
		"cookie absent":             {`cookie["a"].absent()`, Request{URL: "/", Headers: hdr("Cookie", "ab=1")}, true},
		// grpc
		"grpc content type":                {`grpc.present()`, Request{Method: "POST", URL: "/shop.v1.Cart/Add", Headers: hdr("content-type", "application/grpc")}, true},
		"grpc plus suffix":                 {`grpc.present()`, Request{URL: "/a/b", Headers: hdr("content-type", "application/grpc+proto")}, true},
		"grpc-web is not grpc":             {`grpc.present()`, Request{URL: "/a/b", Headers: hdr("content-type", "application/grpc-web")}, false},
		"grpc absent":                      {`grpc.absent()`, Request{URL: "/"}, true},
		"grpc service":                     {`grpc.service == "shop.v1.Cart" && grpc.method == "Add"`, Request{URL: "/shop.v1.Cart/Add", Headers: hdr("content-type", "application/grpc")}, true},
		"grpc service not for http":        {`grpc.service == "shop.v1.Cart"`, Request{URL: "/shop.v1.Cart/Add"}, false},
		"grpc service not equals non-grpc": {`grpc.service != "x"`, Request{URL: "/shop.v1.Cart/Add"}, false},
		"grpc method bad path shape":       {`grpc.method == "Add"`, Request{URL: "/a/b/Add", Headers: hdr("content-type", "application/grpc")}, false},
		// combinators
		"all":               {`host == "a.com" && path.prefix("/x")`, Request{URL: "http://a.com/x"}, true},
		"any":               {`path == "/a" || path == "/b"`, Request{URL: "/b"}, true},
		"not":               {`!(path.prefix("/admin"))`, Request{URL: "/admin/x"}, false},
		"empty matches all": {``, Request{URL: "/anything"}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := Evaluate([]model.Route{textRoute("r", tc.when)}, "public", tc.req)
			if got := res.Rule == "r"; got != tc.want {
				t.Fatalf("when %s on %+v: matched = %v, want %v\ntrace: %+v", tc.when, tc.req, got, tc.want, res.Trace)
			}
			if len(res.Trace) != 1 || res.Trace[0].Matched != tc.want {
				t.Fatalf("trace disagrees with result: %+v", res.Trace)
			}
		})
	}
}

func TestEvaluateOrderAndTrace(t *testing.T) {
	routes := []model.Route{
		textRoute("catch-all", ``),
		textRoute("b-api", `host == "a.com" && path.prefix("/api") && header["x-canary"] == "1"`),
		textRoute("a-api", `host == "a.com" && (path.prefix("/v2") || method == "POST")`),
		textRoute("off", `path.prefix("/")`),
		textRoute("other-gw", ``),
	}
	routes[0].Priority = -1
	routes[1].Priority = 10
	routes[2].Priority = 10
	routes[3].Priority = 100
	routes[3].Disabled = true
	routes[4].Gateway = "private"

	res := Evaluate(routes, "public", Request{URL: "http://a.com:8080/api/x", Headers: hdr("x-canary", "2")})
	if res.Rule != "catch-all" {
		t.Fatalf("rule = %q, want catch-all", res.Rule)
	}
	want := []RuleTrace{
		{Rule: "off", Priority: 100, Skipped: "disabled", Conditions: []ConditionTrace{}},
		{Rule: "a-api", Priority: 10, Conditions: []ConditionTrace{
			{Expr: `host == "a.com"`, Result: true},
			{Expr: `path.prefix("/v2") || method == "POST"`, Result: false},
			{Expr: `path.prefix("/v2")`, Result: false, Depth: 1},
			{Expr: `method == "POST"`, Result: false, Depth: 1},
		}, FirstFailing: `path.prefix("/v2") || method == "POST"`},
		{Rule: "b-api", Priority: 10, Conditions: []ConditionTrace{
			{Expr: `host == "a.com"`, Result: true},
			{Expr: `path.prefix("/api")`, Result: true},
			{Expr: `header["x-canary"] == "1"`, Result: false},
		}, FirstFailing: `header["x-canary"] == "1"`},
		{Rule: "catch-all", Priority: -1, Matched: true, Conditions: []ConditionTrace{}},
	}
	if diff := cmp.Diff(want, res.Trace); diff != "" {
		t.Fatalf("trace (-want +got):\n%s", diff)
	}

	// A single predicate and a negation are their own top-level condition.
	res = Evaluate([]model.Route{textRoute("neg", `!(header["x"] == "a" || path == "/b")`)}, "", Request{URL: "/b"})
	wantConds := []ConditionTrace{
		{Expr: `!(header["x"] == "a" || path == "/b")`, Result: false},
		{Expr: `header["x"] == "a" || path == "/b"`, Result: true, Depth: 1},
		{Expr: `header["x"] == "a"`, Result: false, Depth: 2},
		{Expr: `path == "/b"`, Result: true, Depth: 2},
	}
	if diff := cmp.Diff(wantConds, res.Trace[0].Conditions); diff != "" {
		t.Fatalf("conditions (-want +got):\n%s", diff)
	}
	if res.Rule != "" || res.Action != nil {
		t.Fatalf("want no match, got %q", res.Rule)
	}

	// Every gateway's rules when the gateway is not named.
	if res := Evaluate(routes[4:], "", Request{URL: "/"}); res.Rule != "other-gw" {
		t.Fatalf("rule = %q, want other-gw", res.Rule)
	}
}

// TestEvaluateListeners: a rule that names listeners is tried only for a
// request on one of them, and says so in the trace and in an explanation.
func TestEvaluateListeners(t *testing.T) {
	routes := []model.Route{textRoute("admin", `path.prefix("/admin")`), textRoute("any", ``)}
	routes[0].Priority = 10
	routes[0].Listeners = []string{"admin", "ops"}
	p := Compile(routes, "public")
	for _, tc := range []struct{ listener, want, skipped string }{
		{"admin", "admin", ""},
		{"ops", "admin", ""},
		{"web", "any", "only on listeners admin, ops"},
		{"", "any", "only on listeners admin, ops"},
	} {
		req := Request{URL: "/admin/x", Listener: tc.listener}
		res := p.Evaluate(req)
		if res.Rule != tc.want || res.Trace[0].Skipped != tc.skipped {
			t.Errorf("listener %q: rule %q, first skipped %q; want %q, %q", tc.listener, res.Rule, res.Trace[0].Skipped, tc.want, tc.skipped)
		}
		ex := p.Explain(req, ExplainOptions{Before: 10})
		if ex.Result.Rule != tc.want {
			t.Errorf("listener %q: explained rule %q, want %q", tc.listener, ex.Result.Rule, tc.want)
		}
		if tc.skipped != "" && (len(ex.Before) != 1 || ex.Before[0].Skipped != tc.skipped) {
			t.Errorf("listener %q: explained before %+v", tc.listener, ex.Before)
		}
	}
	if err := (Request{URL: "/", Listener: "Not A Name"}).Validate(); err == nil || !strings.Contains(err.Error(), "listener:") {
		t.Errorf("bad listener name: %v", err)
	}
}

func TestEvaluateBadCondition(t *testing.T) {
	routes := []model.Route{textRoute("broken", `host == `), textRoute("fallback", ``)}
	routes[0].Priority = 1
	res := Evaluate(routes, "public", Request{URL: "/"})
	if res.Rule != "fallback" {
		t.Fatalf("rule = %q", res.Rule)
	}
	if tr := res.Trace[0]; tr.Matched || !strings.Contains(tr.Conditions[0].Error, "1:9: expected a quoted string") {
		t.Fatalf("trace = %+v", tr)
	}
}

func TestWeightedSelection(t *testing.T) {
	bs := []model.Backend{{Upstream: "v1", Weight: 90}, {Upstream: "zero", Weight: 0}, {Upstream: "v2", Weight: 10}}
	tests := map[string]struct {
		random uint64
		want   string
	}{
		"first bucket start": {0, "v1"},
		"first bucket end":   {89, "v1"},
		"second bucket":      {90, "v2"},
		"last":               {99, "v2"},
		"wraps":              {100, "v1"},
		"modulo":             {1_000_000_095, "v2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := textRoute("split", ``)
			r.Then = model.Action{Forward: bs}
			res := Evaluate([]model.Route{r}, "", Request{URL: "/", Random: tc.random})
			if res.Upstream != tc.want {
				t.Fatalf("upstream = %q, want %q", res.Upstream, tc.want)
			}
		})
	}
	counts := map[string]int{}
	for i := range uint64(1000) {
		counts[pickBackend(bs, i)]++
	}
	if counts["v1"] != 900 || counts["v2"] != 100 || counts["zero"] != 0 {
		t.Fatalf("split = %v", counts)
	}
}

func TestRewrites(t *testing.T) {
	tests := map[string]struct {
		when     string
		rewrite  model.Rewrite
		req      Request
		wantPath string
		wantHost string
	}{
		"no rewrite keeps path and the Host header with its port": {`path.prefix("/a")`, model.Rewrite{}, Request{URL: "http://Shop.com:8080/a/b?x=1"}, "/a/b?x=1", "Shop.com:8080"},
		"prefix keeps query":             {`path.prefix("/api")`, model.Rewrite{PathPrefix: "/v2"}, Request{URL: "/api/users?id=1"}, "/v2/users?id=1", ""},
		"prefix to slash doubles slash":  {`path.prefix("/prefix")`, model.Rewrite{PathPrefix: "/"}, Request{URL: "/prefix/etc"}, "//etc", ""},
		"prefix with trailing slash":     {`path.prefix("/prefix/")`, model.Rewrite{PathPrefix: "/"}, Request{URL: "/prefix/etc"}, "/etc", ""},
		"prefix ignoreCase keeps length": {`path.prefix("/API", ignoreCase)`, model.Rewrite{PathPrefix: "/v2"}, Request{URL: "/api/x"}, "/v2/x", ""},
		"segment prefix":                 {`host == "a" && path.segmentPrefix("/api")`, model.Rewrite{PathPrefix: "/internal"}, Request{URL: "http://a/api/x"}, "/internal/x", "a"},
		"exact replaces the whole path":  {`path == "/old"`, model.Rewrite{PathPrefix: "/new"}, Request{URL: "/old?q"}, "/new?q", ""},
		"regex on path without query":    {`path.prefix("/")`, model.Rewrite{PathRegex: &model.RegexSub{Pattern: `^/service/([^/]+)(/.*)$`, Substitution: `\2/instance/\1`}}, Request{URL: "/service/foo/v1/api?a=$1"}, "/v1/api/instance/foo?a=$1", ""},
		"regex replaces all":             {`path.prefix("/")`, model.Rewrite{PathRegex: &model.RegexSub{Pattern: `a`, Substitution: `$b`}}, Request{URL: "/aXa"}, "/$bX$b", ""},
		"template":                       {`path.template("/users/{id}/{rest=**}")`, model.Rewrite{PathTemplate: "/v2/{rest}/by-id/{id}"}, Request{URL: "/users/7/posts/1?x"}, "/v2/posts/1/by-id/7?x", ""},
		"host literal":                   {``, model.Rewrite{Host: "internal:8080"}, Request{URL: "http://a.com/"}, "/", "internal:8080"},
		"host from header":               {``, model.Rewrite{HostFromHeader: "X-Target"}, Request{URL: "http://a.com/", Headers: hdr("x-target", "b.com", "x-target", "c.com")}, "/", "b.com"},
		"host from missing header":       {``, model.Rewrite{HostFromHeader: "x-target"}, Request{URL: "http://a.com/"}, "/", "a.com"},
		"host from empty header":         {``, model.Rewrite{HostFromHeader: "x-target"}, Request{URL: "http://a.com/", Headers: hdr("x-target", "")}, "/", "a.com"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := textRoute("r", tc.when)
			rw := tc.rewrite
			if rw != (model.Rewrite{}) {
				r.Then.Rewrite = &rw
			}
			res := Evaluate([]model.Route{r}, "", tc.req)
			if res.Rule != "r" {
				t.Fatalf("no match: %+v", res.Trace)
			}
			if res.Path != tc.wantPath || res.Host != tc.wantHost {
				t.Fatalf("path, host = %q, %q; want %q, %q", res.Path, res.Host, tc.wantPath, tc.wantHost)
			}
		})
	}
}

func TestRedirectAndRespond(t *testing.T) {
	tests := map[string]struct {
		when       string
		redirect   model.Redirect
		req        Request
		wantURL    string
		wantStatus int
	}{
		"https upgrade keeps path and query": {``, model.Redirect{Scheme: "https"}, Request{URL: "http://a.com:80/x?y=1"}, "https://a.com/x?y=1", 301},
		"host and port":                      {``, model.Redirect{Host: "b.com", Port: 8443, Status: 308}, Request{URL: "https://a.com/x"}, "https://b.com:8443/x", 308},
		"path carries query":                 {``, model.Redirect{Path: "/new"}, Request{URL: "http://a.com/old?q=1"}, "http://a.com/new?q=1", 301},
		"path strip query":                   {``, model.Redirect{Path: "/new", StripQuery: true}, Request{URL: "http://a.com/old?q=1"}, "http://a.com/new", 301},
		"path with query is verbatim":        {``, model.Redirect{Path: "/new?a=b", StripQuery: true}, Request{URL: "http://a.com/old?q=1"}, "http://a.com/new?a=b", 301},
		"prefix rewrite":                     {`path.prefix("/old")`, model.Redirect{PathPrefix: "/new", Status: 302}, Request{URL: "http://a.com/old/x?q=1"}, "http://a.com/new/x?q=1", 302},
		"prefix rewrite strip query":         {`path.prefix("/old")`, model.Redirect{PathPrefix: "/new", StripQuery: true}, Request{URL: "http://a.com/old/x?q=1"}, "http://a.com/new/x", 301},
		"strip query only":                   {``, model.Redirect{StripQuery: true, Status: 307}, Request{URL: "http://a.com/p?q=1"}, "http://a.com/p", 307},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := textRoute("r", tc.when)
			rd := tc.redirect
			r.Then = model.Action{Redirect: &rd}
			res := Evaluate([]model.Route{r}, "", tc.req)
			if res.RedirectURL != tc.wantURL || res.Status != tc.wantStatus {
				t.Fatalf("redirect = %q %d, want %q %d", res.RedirectURL, res.Status, tc.wantURL, tc.wantStatus)
			}
			if res.Upstream != "" || res.Path != "" {
				t.Fatalf("a redirect has no upstream: %+v", res)
			}
		})
	}

	r := textRoute("mock", ``)
	r.Then = model.Action{Respond: &model.Respond{Status: 418, Body: "teapot"}}
	res := Evaluate([]model.Route{r}, "", Request{URL: "/"})
	if res.Status != 418 || res.Body != "teapot" || res.Action.Respond == nil {
		t.Fatalf("respond = %+v", res)
	}
}

func TestResultJSON(t *testing.T) {
	res := Evaluate(nil, "public", Request{URL: "/"})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"action":null,"trace":[],"rule":null}`; got != want {
		t.Fatalf("json = %s, want %s", got, want)
	}
	res = Evaluate([]model.Route{textRoute("r", `path == "/"`)}, "", Request{URL: "/"})
	b, _ = json.Marshal(res)
	for _, frag := range []string{`"rule":"r"`, `"upstream":"web"`, `"conditions":[{"expr":"path == \"/\"","result":true,"depth":0}]`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("json %s lacks %s", b, frag)
		}
	}

	var req Request
	if err := json.Unmarshal([]byte(`{"method":"POST","url":"/x","headers":{"x-a":"1","cookie":["a=1","b=2"]},"random":7}`), &req); err != nil {
		t.Fatal(err)
	}
	want := Request{Method: "POST", URL: "/x", Headers: http.Header{"x-a": {"1"}, "cookie": {"a=1", "b=2"}}, Random: 7}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"url":"/","headers":{"x":1}}`), &req); err == nil {
		t.Fatal("want error for a numeric header value")
	}
}

// BenchmarkEvaluate runs 1,000 rules where only the last one matches, the
// worst case for a first-match list. Compile is what the sandbox and API pay
// per request when they do not cache a Program.
func BenchmarkEvaluate(b *testing.B) {
	routes := make([]model.Route, 1000)
	for i := range routes {
		routes[i] = textRoute(fmt.Sprintf("rule-%04d", i),
			fmt.Sprintf(`host == "svc%d.example.com" && path.prefix("/api/%d") && (header["x-canary"] == "1" || query["v"].regex("v[0-9]+")) && method in ["GET", "POST"]`, i, i))
		routes[i].Priority = 1000 - i
	}
	req := Request{Method: "GET", URL: "http://svc999.example.com:8080/api/999/items?v=v2", Headers: hdr("x-canary", "0", "user-agent", "bench")}
	b.Run("compiled", func(b *testing.B) {
		p := Compile(routes, "public")
		b.ReportAllocs()
		for b.Loop() {
			if res := p.Evaluate(req); res.Rule != "rule-0999" {
				b.Fatalf("rule = %q", res.Rule)
			}
		}
	})
	b.Run("compile+evaluate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res := Evaluate(routes, "public", req); res.Rule != "rule-0999" {
				b.Fatalf("rule = %q", res.Rule)
			}
		}
	})
}

// TestEvaluateAlgebra checks the evaluator against the boolean structure of
// random trees: ! negates, && and || combine their members' results, and a
// tree means the same after a trip through its text.
func TestEvaluateAlgebra(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	reqs := []Request{
		{URL: "http://shop.example.com/static/app.js?v=2", Headers: hdr("x-canary", "1", "cookie", "session id=x")},
		{Method: "POST", URL: "https://a.b.example.com:8443/shop.v1.Cart/Add", Headers: hdr("content-type", "application/grpc")},
		{URL: "/"},
		{Method: "HEAD", URL: "/GET?&&%20||=]", Headers: hdr("x-canary", "*.example.com", "v", "")},
	}
	evalTree := func(c model.Condition, req Request) bool {
		route := model.Route{Meta: model.Meta{Name: "r"}, When: c, Then: forwardTo("u")}
		return Evaluate([]model.Route{route}, "", req).Rule == "r"
	}
	for i := range 250 {
		a, b := genCondition(r, 2), genCondition(r, 2)
		for j, req := range reqs {
			ea, eb := evalTree(a, req), evalTree(b, req)
			if got := evalTree(model.Not(a), req); got != !ea {
				t.Fatalf("case %d/%d: !(%s) = %v, but the operand is %v", i, j, Format(a), got, ea)
			}
			if got := evalTree(model.And(a, b), req); got != (ea && eb) {
				t.Fatalf("case %d/%d: %s && %s = %v", i, j, Format(a), Format(b), got)
			}
			if got := evalTree(model.Or(a, b), req); got != (ea || eb) {
				t.Fatalf("case %d/%d: %s || %s = %v", i, j, Format(a), Format(b), got)
			}
			if text := Format(a); evalTree(model.Condition{Text: text}, req) != ea {
				t.Fatalf("case %d/%d: text %s evaluates differently from its tree", i, j, text)
			}
		}
	}
}

// TestExplainAgreesWithEvaluate: on random rule sets, Explain picks the
// rule Evaluate picks with the same effect and winner trace, lists exactly
// the near misses the full trace shows, and the trace pages put together
// are Evaluate's trace.
func TestExplainAgreesWithEvaluate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	reqs := []Request{
		{URL: "http://shop.example.com/static/app.js?v=2", Headers: hdr("x-canary", "1", "cookie", "session id=x")},
		{Method: "POST", URL: "https://a.b.example.com:8443/shop.v1.Cart/Add", Headers: hdr("content-type", "application/grpc")},
		{URL: "/"},
		{URL: "/admin", Listener: "admin"},
		{Method: "HEAD", URL: "/GET?&&%20||=]", Headers: hdr("x-canary", "*.example.com", "v", "")},
	}
	for i := range 200 {
		var routes []model.Route
		for j := range 1 + r.IntN(12) {
			var c model.Condition
			switch r.IntN(4) {
			case 0:
				c = genCondition(r, 2)
			case 1: // no condition: matches everything
			default:
				c = model.And(genCondition(r, 1), genCondition(r, 1), genCondition(r, 1))
			}
			route := model.Route{Meta: model.Meta{Name: fmt.Sprintf("r%02d", j)}, Priority: r.IntN(3), When: c, Then: forwardTo("u")}
			route.Disabled = r.IntN(8) == 0
			if r.IntN(6) == 0 {
				route.Listeners = []string{"admin"}
			}
			routes = append(routes, route)
		}
		p := Compile(routes, "")
		for j, req := range reqs {
			want := p.Evaluate(req)
			ex := p.Explain(req, ExplainOptions{Before: 100, NearMisses: 100})
			if ex.Result.Rule != want.Rule || ex.Result.Upstream != want.Upstream || ex.Result.Path != want.Path {
				t.Fatalf("case %d/%d: explain chose %q, evaluate %q", i, j, ex.Result.Rule, want.Rule)
			}
			tried := want.Trace
			if want.Rule != "" {
				if diff := cmp.Diff(&tried[len(tried)-1], ex.Winner); diff != "" {
					t.Fatalf("case %d/%d: winner (-evaluate +explain):\n%s", i, j, diff)
				}
				tried = tried[:len(tried)-1]
			} else if ex.Winner != nil {
				t.Fatalf("case %d/%d: winner %q without a match", i, j, ex.Winner.Rule)
			}
			if ex.Tried != len(tried) || len(ex.Before) != len(tried) {
				t.Fatalf("case %d/%d: tried %d, %d listed; evaluate tried %d", i, j, ex.Tried, len(ex.Before), len(tried))
			}
			var near []RuleTrace
			for k, rt := range tried {
				if b := ex.Before[k]; b.Rule != rt.Rule || b.Skipped != rt.Skipped || b.FirstFailing != rt.FirstFailing {
					t.Fatalf("case %d/%d: before[%d] = %+v, trace says %+v", i, j, k, b, rt)
				}
				top, failed := 0, 0
				for _, c := range rt.Conditions {
					if c.Depth == 0 {
						top++
						if !c.Result {
							failed++
						}
					}
				}
				if rt.Skipped == "" && top >= 2 && failed == 1 {
					near = append(near, rt)
				}
			}
			if diff := cmp.Diff(near, ex.NearMisses, cmpEmptyIsNil); diff != "" {
				t.Fatalf("case %d/%d: near misses (-trace +explain):\n%s", i, j, diff)
			}
			if few := p.Explain(req, ExplainOptions{Before: 1, NearMisses: 1}); len(near) > 0 && !cmp.Equal(near[:1], few.NearMisses) ||
				few.Result.Rule != want.Rule || few.Tried != len(tried) {
				t.Fatalf("case %d/%d: with room for one near miss: %+v", i, j, few.NearMisses)
			}
			var pages []RuleTrace
			for from := 0; from >= 0; {
				var page []RuleTrace
				page, from = p.TracePage(req, from, 3)
				if len(page) > 3 {
					t.Fatalf("page of %d", len(page))
				}
				pages = append(pages, page...)
			}
			if diff := cmp.Diff(want.Trace, pages, cmpEmptyIsNil); diff != "" {
				t.Fatalf("case %d/%d: pages (-evaluate +pages):\n%s", i, j, diff)
			}
		}
	}
}

var cmpEmptyIsNil = cmpopts.EquateEmpty()

func TestExplainBounds(t *testing.T) {
	var routes []model.Route
	for i := range 50 {
		routes = append(routes, textRoute(fmt.Sprintf("r%02d", i), fmt.Sprintf(`host == "h%d.example.com" && path.prefix("/api")`, i)))
	}
	routes = append(routes, textRoute("zz-last", `path.prefix("/")`))
	ex := Compile(routes, "").Explain(Request{URL: "http://other.example.com/api/x"}, ExplainOptions{Before: 5, NearMisses: 3})
	if ex.Result.Rule != "zz-last" || ex.Tried != 50 || len(ex.Before) != 5 || len(ex.NearMisses) != 3 {
		t.Fatalf("rule %q, tried %d, %d before, %d near misses", ex.Result.Rule, ex.Tried, len(ex.Before), len(ex.NearMisses))
	}
	if ex.Before[0].Rule != "r00" || ex.Before[0].FirstFailing != `host == "h0.example.com"` {
		t.Fatalf("before[0] = %+v", ex.Before[0])
	}
}

func TestRequestValidate(t *testing.T) {
	big := strings.Repeat("a", MaxHeaderBytes+1)
	tests := map[string]struct {
		req  Request
		want map[string]string // field -> part of the message
	}{
		"fine": {req: Request{Method: "PURGE", URL: "http://a.example.com/x?y=1", Headers: hdr("x-a", "1\twith tab", ":authority", "b.example.com")}},
		"space in name": {req: Request{URL: "/", Headers: http.Header{"a": {"1"}, "b": {"2"}, "x y": {"3"}}},
			want: map[string]string{"headers[2].name": `"x y": space at byte 1`}},
		"CR LF in value": {req: Request{URL: "/", Headers: http.Header{"x": {"a\r\nb: c"}}},
			want: map[string]string{"headers[0].value": "control character 0x0D at byte 1"}},
		"NUL in one of several values": {req: Request{URL: "/", Headers: http.Header{"x": {"ok", "a\x00"}}},
			want: map[string]string{"headers[0].value[1]": "control character 0x00"}},
		"huge value": {req: Request{URL: "/", Headers: http.Header{"x": {big}}},
			want: map[string]string{"headers[0].value": "61441 bytes"}},
		"huge name, clipped in the message": {req: Request{URL: "/", Headers: http.Header{big: {"1"}}},
			want: map[string]string{"headers[0].name": `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"… (61441 bytes)`}},
		"total over 60 KiB": {req: Request{URL: "/", Headers: http.Header{"a": {big[:40000]}, "b": {big[:40000]}}},
			want: map[string]string{"headers": "at most 61440"}},
		"too many": {req: Request{URL: "/", Headers: http.Header{"x": make([]string, 101)}},
			want: map[string]string{"headers": "101 header lines"}},
		"pseudo-header": {req: Request{URL: "/", Headers: http.Header{":path": {"/x"}}},
			want: map[string]string{"headers[0].name": "only pseudo-header accepted is :authority"}},
		"method": {req: Request{Method: "GET /x", URL: "/"},
			want: map[string]string{"method": "space at byte 3"}},
		"url": {req: Request{URL: "/a\nb"},
			want: map[string]string{"url": "control character 0x0A at byte 2"}},
		"scheme": {req: Request{URL: "/", Scheme: "ftp"},
			want: map[string]string{"scheme": "http or https"}},
		"body": {req: Request{URL: "/", Body: strings.Repeat("b", MaxBodyBytes+1)},
			want: map[string]string{"body": "at most 1048576 bytes"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.req.Validate()
			got := map[string]string{}
			for _, f := range model.ErrorFields(err) {
				got[f.Field] = f.Message
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems %v, want fields %v", got, tc.want)
			}
			for field, part := range tc.want {
				if !strings.Contains(got[field], part) {
					t.Errorf("%s: %q, want it to say %q", field, got[field], part)
				}
			}
			if err != nil && model.ErrorCode(err) != model.EINVALID {
				t.Errorf("code %q", model.ErrorCode(err))
			}
		})
	}
}
