package sim

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

func vhostWith(routes string) string {
	return "virtual_hosts:\n- name: vh\n  domains: [\"*\"]\n  routes:\n" + routes
}

func TestPathRewrites(t *testing.T) {
	const tmplMatch = `path_match_policy: {name: m, typed_config: {"@type": type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig, path_template: "/u/{id}/{rest=**}"}}`
	tests := map[string]struct {
		route    string
		path     string
		wantPath string
	}{
		"prefix keeps the rest and query": {`{match: {prefix: /api}, route: {cluster: c, prefix_rewrite: /v2}}`, "/api/x?y=1", "/v2/x?y=1"},
		"prefix to / leaves double slash": {`{match: {prefix: /prefix}, route: {cluster: c, prefix_rewrite: /}}`, "/prefix/etc", "//etc"},
		"exact path with query":           {`{match: {path: /api/locations, case_sensitive: false}, route: {cluster: c, prefix_rewrite: /rewrote}}`, "/API/locations?works=true", "/rewrote?works=true"},
		"case-insensitive prefix":         {`{match: {prefix: /ABC, case_sensitive: false}, route: {cluster: c, prefix_rewrite: /x}}`, "/abcdef", "/xdef"},
		"regex route replaces whole path": {`{match: {safe_regex: {regex: "/r/.*"}}, route: {cluster: c, prefix_rewrite: /new}}`, "/r/a/b?q=1", "/new?q=1"},
		"path_separated_prefix":           {`{match: {path_separated_prefix: /api}, route: {cluster: c, prefix_rewrite: /v1}}`, "/api/z", "/v1/z"},
		"regex_rewrite keeps query":       {`{match: {prefix: /}, route: {cluster: c, regex_rewrite: {pattern: {regex: "^/svc/([^/]+)/"}, substitution: "/\\1/v1/"}}}`, "/svc/foo/bar?svc=1", "/foo/v1/bar?svc=1"},
		"regex_rewrite replaces all":      {`{match: {prefix: /}, route: {cluster: c, regex_rewrite: {pattern: {regex: "a"}, substitution: "b"}}}`, "/aaa?a=a", "/bbb?a=a"},
		"template rewrite":                {`{match: {` + tmplMatch + `}, route: {cluster: c, path_rewrite_policy: {name: r, typed_config: {"@type": type.googleapis.com/envoy.extensions.path.rewrite.uri_template.v3.UriTemplateRewriteConfig, path_template_rewrite: "/users/{id}/{rest}"}}}}`, "/u/7/a/b", "/users/7/a/b"},
		"no rewrite":                      {`{match: {prefix: /}, route: {cluster: c}}`, "/x?y", "/x?y"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, vhostWith("  - "+tc.route+"\n"), Options{})
			d := route(t, r, req("h", tc.path), 0)
			if got, _ := d.RequestHeaders.Get(":path"); got != tc.wantPath {
				t.Fatalf(":path = %q, want %q", got, tc.wantPath)
			}
			orig, ok := d.RequestHeaders.Get("x-envoy-original-path")
			if rewritten := tc.wantPath != tc.path; rewritten && (!ok || orig != tc.path) {
				t.Fatalf("x-envoy-original-path = %q, want %q", orig, tc.path)
			}
		})
	}
}

func TestHostRewrites(t *testing.T) {
	tests := map[string]struct {
		route    string
		headers  []string
		path     string
		wantHost string
		wantXFH  string
	}{
		"literal":                          {`{match: {prefix: /}, route: {cluster: c, host_rewrite_literal: new}}`, nil, "/", "new", ""},
		"literal with x-forwarded-host":    {`{match: {prefix: /}, route: {cluster: c, host_rewrite_literal: new, append_x_forwarded_host: true}}`, nil, "/", "new", "old.com"},
		"from header":                      {`{match: {prefix: /}, route: {cluster: c, host_rewrite_header: X-Host}}`, []string{"x-host", "h1", "x-host", "h2"}, "/", "h1", ""},
		"empty header leaves host":         {`{match: {prefix: /}, route: {cluster: c, host_rewrite_header: x-host}}`, []string{"x-host", ""}, "/", "old.com", ""},
		"missing header leaves host":       {`{match: {prefix: /}, route: {cluster: c, host_rewrite_header: x-host}}`, nil, "/", "old.com", ""},
		"path regex, query ignored":        {`{match: {prefix: /}, route: {cluster: c, host_rewrite_path_regex: {pattern: {regex: "^/([^/]+)/.*$"}, substitution: "\\1.svc"}}}`, nil, "/foo/bar?x=/y/z", "foo.svc", ""},
		"x-forwarded-host is not repeated": {`{match: {prefix: /}, route: {cluster: c, host_rewrite_literal: new, append_x_forwarded_host: true}}`, []string{"x-forwarded-host", "a.com,old.com"}, "/", "new", "a.com,old.com"},
		"x-forwarded-host appends":         {`{match: {prefix: /}, route: {cluster: c, host_rewrite_literal: new, append_x_forwarded_host: true}}`, []string{"x-forwarded-host", "a.com"}, "/", "new", "a.com,old.com"},
		"weighted cluster host first":      {`{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 1, host_rewrite_literal: wc}]}}}`, nil, "/", "wc", ""},
		"route host beats cluster":         {`{match: {prefix: /}, route: {host_rewrite_literal: rt, weighted_clusters: {clusters: [{name: a, weight: 1, host_rewrite_literal: wc}]}}}`, nil, "/", "rt", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, vhostWith("  - "+tc.route+"\n"), Options{})
			d := route(t, r, req("old.com", tc.path, tc.headers...), 0)
			if got, _ := d.RequestHeaders.Get(":authority"); got != tc.wantHost {
				t.Fatalf(":authority = %q, want %q", got, tc.wantHost)
			}
			if got, _ := d.RequestHeaders.Get("x-forwarded-host"); got != tc.wantXFH {
				t.Fatalf("x-forwarded-host = %q, want %q", got, tc.wantXFH)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	tests := map[string]struct {
		redirect string
		match    string
		host     string
		xfp      string
		path     string
		wantURL  string
		wantCode int
	}{
		"host redirect":                   {`{host_redirect: new.com}`, `{prefix: /}`, "old.com", "http", "/foo?q=1", "http://new.com/foo?q=1", 301},
		"scheme from XFP":                 {`{host_redirect: new.com}`, `{prefix: /}`, "old.com", "https", "/foo", "https://new.com/foo", 301},
		"https_redirect":                  {`{https_redirect: true}`, `{prefix: /}`, "old.com", "http", "/a", "https://old.com/a", 301},
		"https_redirect drops :80":        {`{https_redirect: true}`, `{prefix: /}`, "old.com:80", "http", "/a", "https://old.com/a", 301},
		"https_redirect keeps other port": {`{https_redirect: true}`, `{prefix: /}`, "old.com:8080", "http", "/a", "https://old.com:8080/a", 301},
		"same scheme keeps :80":           {`{host_redirect: ""}`, `{prefix: /}`, "old.com:80", "http", "/a", "http://old.com:80/a", 301},
		"scheme_redirect drops :443":      {`{scheme_redirect: http}`, `{prefix: /}`, "old.com:443", "https", "/a", "http://old.com/a", 301},
		"port_redirect":                   {`{port_redirect: 8443}`, `{prefix: /}`, "old.com:80", "http", "/a", "http://old.com:8443/a", 301},
		"port_redirect with host":         {`{host_redirect: "new.com:1", port_redirect: 2}`, `{prefix: /}`, "old.com", "http", "/a", "http://new.com:2/a", 301},
		"path_redirect keeps query":       {`{path_redirect: /new}`, `{prefix: /}`, "h", "http", "/old?x=1", "http://h/new?x=1", 301},
		"path_redirect strip_query":       {`{path_redirect: /new, strip_query: true}`, `{prefix: /}`, "h", "http", "/old?x=1", "http://h/new", 301},
		"path_redirect with own query":    {`{path_redirect: "/new?a=b", strip_query: true}`, `{prefix: /}`, "h", "http", "/old?x=1", "http://h/new?a=b", 301},
		"prefix_rewrite":                  {`{prefix_rewrite: /blah}`, `{prefix: /rewrite}`, "h", "http", "/rewrite/x?q", "http://h/blah/x?q", 301},
		"prefix_rewrite strip_query":      {`{prefix_rewrite: /blah, strip_query: true}`, `{prefix: /rewrite}`, "h", "http", "/rewrite/x?q", "http://h/blah/x", 301},
		"regex_rewrite":                   {`{regex_rewrite: {pattern: {regex: "o"}, substitution: "0"}}`, `{prefix: /}`, "h", "http", "/foo?o=o", "http://h/f00?o=o", 301},
		"response code 302":               {`{path_redirect: /n, response_code: FOUND}`, `{prefix: /}`, "h", "http", "/", "http://h/n", 302},
		"response code 303":               {`{path_redirect: /n, response_code: SEE_OTHER}`, `{prefix: /}`, "h", "http", "/", "http://h/n", 303},
		"response code 307":               {`{path_redirect: /n, response_code: TEMPORARY_REDIRECT}`, `{prefix: /}`, "h", "http", "/", "http://h/n", 307},
		"response code 308":               {`{path_redirect: /n, response_code: PERMANENT_REDIRECT}`, `{prefix: /}`, "h", "http", "/", "http://h/n", 308},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, vhostWith("  - {match: "+tc.match+", redirect: "+tc.redirect+"}\n"), Options{})
			rq := NewRequest("GET", tc.host, tc.path, "x-forwarded-proto", tc.xfp)
			d := route(t, r, rq, 0)
			if d.Kind != KindRedirect || d.RedirectURL != tc.wantURL || d.Response.Status != tc.wantCode {
				t.Fatalf("got %s %q %d, want redirect %q %d", d.Kind, d.RedirectURL, d.Response.Status, tc.wantURL, tc.wantCode)
			}
			if loc, _ := d.Response.Headers.Get("location"); loc != tc.wantURL {
				t.Fatalf("location = %q", loc)
			}
			// A rewriting redirect also rewrites the request :path.
			if orig, ok := d.RequestHeaders.Get("x-envoy-original-path"); ok != contains(tc.redirect, "_rewrite") || ok && orig != tc.path {
				t.Fatalf("x-envoy-original-path = %q (set %v)", orig, ok)
			}
		})
	}
}

func TestDirectResponse(t *testing.T) {
	r := mustRouter(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  response_headers_to_add: [{header: {key: x-vh, value: "1"}}]
  routes:
  - {match: {path: /body}, direct_response: {status: 200, body: {inline_string: "Success!"}}}
  - {match: {path: /empty}, direct_response: {status: 204, body: {inline_string: ""}}}
  - match: {path: /json}
    direct_response: {status: 200, body: {inline_string: "{}"}}
    response_headers_to_add: [{header: {key: content-type, value: application/json}}]
  - match: {path: /json-overwrite}
    direct_response: {status: 200, body: {inline_string: "{}"}}
    response_headers_to_add: [{header: {key: content-type, value: application/json}, append: false}]
`, Options{})
	tests := map[string]struct {
		path   string
		status int
		want   Headers
	}{
		"body adds type and length": {"/body", 200, Headers{{":status", "200"}, {"content-length", "8"}, {"content-type", "text/plain"}, {"x-vh", "1"}}},
		"empty body adds neither":   {"/empty", 204, Headers{{":status", "204"}, {"x-vh", "1"}}},
		"append joins inline":       {"/json", 200, Headers{{":status", "200"}, {"content-length", "2"}, {"content-type", "text/plain,application/json"}, {"x-vh", "1"}}},
		"append false overwrites":   {"/json-overwrite", 200, Headers{{":status", "200"}, {"content-length", "2"}, {"content-type", "application/json"}, {"x-vh", "1"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := route(t, r, req("lyft.com", tc.path), 0)
			if d.Kind != KindDirect || d.Response.Status != tc.status {
				t.Fatalf("kind %s status %d", d.Kind, d.Response.Status)
			}
			if diff := cmp.Diff(tc.want, d.ResponseHeaders); diff != "" {
				t.Fatalf("response headers (-want +got):\n%s", diff)
			}
			if d.RedirectURL != "http://lyft.com"+tc.path {
				t.Fatalf("newUri = %q", d.RedirectURL)
			}
		})
	}
}

func TestHeaderMutations(t *testing.T) {
	const levels = `
request_headers_to_add: [{header: {key: x-level, value: config}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
virtual_hosts:
- name: vh
  domains: ["*"]
  request_headers_to_add: [{header: {key: x-level, value: vhost}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
  routes:
  - match: {prefix: /}
    route: {weighted_clusters: {clusters: [{name: a, weight: 1, request_headers_to_add: [{header: {key: x-level, value: cluster}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]}]}}
    request_headers_to_add: [{header: {key: x-level, value: route}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
`
	tests := map[string]struct {
		cfg     string
		headers []string
		want    []string
	}{
		"config level wins by default": {levels, nil, []string{"config"}},
		"most specific wins":           {"most_specific_header_mutations_wins: true\n" + levels, nil, []string{"route"}},
		"append (default) duplicates":  {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: b}}]}` + "\n"), []string{"x", "a"}, []string{"a", "b"}},
		"append joins inline headers":  {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x-forwarded-for, value: b}}]}` + "\n"), []string{"x-forwarded-for", "a"}, nil},
		"add if absent, present":       {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: b}, append_action: ADD_IF_ABSENT}]}` + "\n"), []string{"x", "a"}, []string{"a"}},
		"add if absent, absent":        {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: b}, append_action: ADD_IF_ABSENT}]}` + "\n"), nil, []string{"b"}},
		"overwrite if exists, absent":  {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: b}, append_action: OVERWRITE_IF_EXISTS}]}` + "\n"), nil, nil},
		"overwrite if exists, present": {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: b}, append_action: OVERWRITE_IF_EXISTS}]}` + "\n"), []string{"x", "a", "x", "z"}, []string{"b"}},
		"remove runs before add":       {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_remove: [x], request_headers_to_add: [{header: {key: x, value: b}}]}` + "\n"), []string{"x", "a"}, []string{"b"}},
		"empty value is skipped":       {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: "%REQ(nope)%"}}]}` + "\n"), nil, nil},
		"keep_empty_value":             {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: ""}, keep_empty_value: true}]}` + "\n"), nil, []string{""}},
		"remote address without port":  {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: "ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% 100%%"}}]}` + "\n"), nil, []string{"ip=127.0.0.1 100%"}},
		"REQ with fallback":            {vhostWith(`  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: "%REQ(a?B)%"}}]}` + "\n"), []string{"b", "vb"}, []string{"vb"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, tc.cfg, Options{})
			d := route(t, r, req("h", "/", tc.headers...), 0)
			name := "x"
			if contains(tc.cfg, "x-level") {
				name = "x-level"
			}
			got := d.RequestHeaders.Values(name)
			if name == "x" && contains(tc.cfg, "x-forwarded-for") {
				got = d.RequestHeaders.Values("x-forwarded-for")
				tc.want = []string{"a,b"}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(Decision{})); diff != "" {
				t.Fatalf("%s values (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestWeightedClusters(t *testing.T) {
	const wc = `{match: {prefix: /}, route: {weighted_clusters: {%s clusters: [{name: a, weight: 30}, {name: zero, weight: 0}, {name: b, weight: 30}, {name: c, weight: 40}]}}}`
	tests := map[string]struct {
		extra   string
		runtime Runtime
		random  uint64
		headers []string
		want    string
	}{
		"first bucket":                  {"", nil, 0, nil, "a"},
		"bucket edge":                   {"", nil, 29, nil, "a"},
		"weight 0 never picked":         {"", nil, 30, nil, "b"},
		"last bucket":                   {"", nil, 99, nil, "c"},
		"modulo total":                  {"", nil, 445, nil, "b"},
		"header value selects":          {"header_name: x-w,", nil, 0, []string{"x-w", "65"}, "c"},
		"header not a number: random":   {"header_name: x-w,", nil, 0, []string{"x-w", "z"}, "a"},
		"repeated header is ignored":    {"header_name: x-w,", nil, 0, []string{"x-w", "65", "x-w", "65"}, "a"},
		"runtime weights":               {"runtime_key_prefix: p,", StaticRuntime{"p.a": "0", "p.c": "0"}, 0, nil, "b"},
		"runtime default is the weight": {"runtime_key_prefix: p,", StaticRuntime{}, 99, nil, "c"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, vhostWith("  - "+sprintf(wc, tc.extra)+"\n"), Options{Runtime: tc.runtime})
			d := route(t, r, req("h", "/", tc.headers...), tc.random)
			if d.Cluster != tc.want || d.Kind != KindWeighted {
				t.Fatalf("cluster %q kind %s, want %q", d.Cluster, d.Kind, tc.want)
			}
		})
	}
}

func TestClusterHeader(t *testing.T) {
	r := mustRouter(t, vhostWith("  - {match: {prefix: /}, route: {cluster_header: X-Cluster}}\n"), Options{})
	if d := route(t, r, req("h", "/", "x-cluster", "one", "x-cluster", "two"), 0); d.Cluster != "one" || d.Response != nil {
		t.Fatalf("cluster %q response %+v", d.Cluster, d.Response)
	}
	if d := route(t, r, req("h", "/"), 0); d.Cluster != "" || d.Response == nil || d.Response.Status != 503 {
		t.Fatalf("missing header: cluster %q response %+v, want 503", d.Cluster, d.Response)
	}
}

func TestTimeoutsAndRetries(t *testing.T) {
	cluster := &clusterv3.Cluster{}
	js, _ := yaml.YAMLToJSON([]byte(`{name: budget, circuit_breakers: {thresholds: [{max_retries: 9, retry_budget: {budget_percent: {value: 50}}}, {max_retries: 1}]}}`))
	if err := protojson.Unmarshal(js, cluster); err != nil {
		t.Fatal(err)
	}
	empty := &clusterv3.Cluster{}
	js, _ = yaml.YAMLToJSON([]byte(`{name: empty, circuit_breakers: {thresholds: [{retry_budget: {}}]}}`))
	if err := protojson.Unmarshal(js, empty); err != nil {
		t.Fatal(err)
	}
	r := mustRouter(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  retry_policy: {retry_on: 5xx, num_retries: 4}
  routes:
  - {match: {prefix: /own}, route: {cluster: budget, timeout: 2s, idle_timeout: 1s, retry_policy: {retry_on: reset, per_try_timeout: 0.5s, retry_back_off: {base_interval: 0.1s}}}}
  - {match: {prefix: /off}, route: {cluster: empty, timeout: 0s}}
  - {match: {prefix: /}, route: {cluster: budget}}
`, Options{Clusters: map[string]*clusterv3.Cluster{"budget": cluster, "empty": empty}})
	tests := map[string]struct {
		path    string
		headers []string
		want    *Decision
	}{
		"route policy replaces vhost":   {"/own", nil, &Decision{Timeout: 2 * time.Second, IdleTimeout: time.Second, Retry: &RetryPolicy{RetryOn: "reset", NumRetries: 1, PerTryTimeout: 500 * time.Millisecond, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second, MaxRetries: 9, Budget: &RetryBudget{Percent: 50, MinConcurrency: 3}}}},
		"vhost policy, default timeout": {"/x", nil, &Decision{Timeout: 15 * time.Second, Retry: &RetryPolicy{RetryOn: "5xx", NumRetries: 4, BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond, MaxRetries: 9, Budget: &RetryBudget{Percent: 50, MinConcurrency: 3}}}},
		"empty retry_budget is off":     {"/off", nil, &Decision{Timeout: 0, Retry: &RetryPolicy{RetryOn: "5xx", NumRetries: 4, BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond, MaxRetries: 3}}},
		"timeout headers override":      {"/own", []string{"x-envoy-upstream-rq-timeout-ms", "750", "x-envoy-upstream-rq-per-try-timeout-ms", "20"}, &Decision{Timeout: 750 * time.Millisecond, IdleTimeout: time.Second, Retry: &RetryPolicy{RetryOn: "reset", NumRetries: 1, PerTryTimeout: 20 * time.Millisecond, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second, MaxRetries: 9, Budget: &RetryBudget{Percent: 50, MinConcurrency: 3}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := route(t, r, req("h", tc.path, tc.headers...), 0)
			got := &Decision{Timeout: d.Timeout, IdleTimeout: d.IdleTimeout, Retry: d.Retry}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(Decision{})); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	rp := &RetryPolicy{MaxRetries: 3, Budget: &RetryBudget{Percent: 20, MinConcurrency: 3}}
	if got := rp.ConcurrentRetryLimit(100, 0); got != 20 {
		t.Errorf("budget limit = %d, want 20", got)
	}
	if got := rp.ConcurrentRetryLimit(5, 0); got != 3 {
		t.Errorf("budget floor = %d, want 3", got)
	}
}

func TestVirtualClusters(t *testing.T) {
	r := mustRouter(t, `
virtual_hosts:
- name: with
  domains: [with]
  routes: [{match: {prefix: /}, route: {cluster: c}}]
  virtual_clusters:
  - {name: rides, headers: [{name: ":path", string_match: {safe_regex: {regex: "^/rides/\\d+$"}}}, {name: ":method", string_match: {exact: PUT}}]}
- name: without
  domains: [without]
  routes: [{match: {prefix: /}, route: {cluster: c}}]
`, Options{})
	tests := map[string]struct {
		host, method, path, want string
	}{
		"match":        {"with", "PUT", "/rides/1", "rides"},
		"other":        {"with", "GET", "/rides/1", "other"},
		"none defined": {"without", "PUT", "/rides/1", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rq := NewRequest(tc.method, tc.host, tc.path, "x-forwarded-proto", "http")
			if d := route(t, r, rq, 0); d.VirtualCluster != tc.want {
				t.Fatalf("virtual cluster %q, want %q", d.VirtualCluster, tc.want)
			}
		})
	}
}
