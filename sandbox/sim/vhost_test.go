package sim

import "testing"

func TestFindVirtualHost(t *testing.T) {
	const cfg = `
virtual_hosts:
- {name: exact, domains: [example.com, "example.com:8080"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: suffix-long, domains: ["*.api.foo.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: suffix, domains: ["*.foo.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: suffix-dash, domains: ["*-bar.foo.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: prefix, domains: ["foo.*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: prefix-long, domains: ["foo-bar.*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: default, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
`
	r := mustRouter(t, cfg, Options{})
	tests := map[string]struct {
		host, want string
	}{
		"exact":                         {"example.com", "exact"},
		"exact is case-insensitive":     {"EXAMPLE.Com", "exact"},
		"port is not stripped":          {"example.com:9090", "default"},
		"domain written with port":      {"example.com:8080", "exact"},
		"suffix wildcard":               {"a.foo.com", "suffix"},
		"suffix matches deeper":         {"a.b.foo.com", "suffix"},
		"longest suffix first":          {"x.api.foo.com", "suffix-long"},
		"wildcard needs one char":       {".foo.com", "default"},
		"dash suffix longer than dot":   {"x-bar.foo.com", "suffix-dash"},
		"suffix beats prefix":           {"foo.foo.com", "suffix"},
		"prefix wildcard":               {"foo.example.org", "prefix"},
		"longest prefix first":          {"foo-bar.example", "prefix-long"},
		"prefix wildcard needs a char":  {"foo.", "default"},
		"suffix wildcard keeps port":    {"a.foo.com:80", "default"},
		"prefix wildcard sees the port": {"foo.x:80", "prefix"},
		"fallback":                      {"other", "default"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			vh := r.FindVirtualHost(tc.host)
			if vh == nil || vh.Name != tc.want {
				t.Fatalf("FindVirtualHost(%q) = %v, want %s", tc.host, vh, tc.want)
			}
		})
	}
}

func TestHostPortHandling(t *testing.T) {
	const cfg = `
virtual_hosts:
- {name: exact, domains: [example.com], routes: [{match: {prefix: /}, route: {cluster: a}}]}
`
	tests := map[string]struct {
		cfg      string
		opts     Options
		host     string
		wantVH   string
		wantHost string
	}{
		"no stripping: no vhost":             {cfg, Options{}, "example.com:8080", "", "example.com:8080"},
		"ignore_port_in_host_matching":       {"ignore_port_in_host_matching: true\n" + cfg, Options{}, "example.com:8080", "exact", "example.com:8080"},
		"strip_any_host_port rewrites host":  {cfg, Options{StripAnyHostPort: true}, "example.com:8080", "exact", "example.com"},
		"strip_matching_host_port, match":    {cfg, Options{StripMatchingHostPort: true, ListenerPort: 8080}, "example.com:8080", "exact", "example.com"},
		"strip_matching_host_port, no match": {cfg, Options{StripMatchingHostPort: true, ListenerPort: 80}, "example.com:8080", "", "example.com:8080"},
		"ipv6 literal without port":          {cfg, Options{StripAnyHostPort: true}, "[::1]", "", "[::1]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, tc.cfg, tc.opts)
			d := route(t, r, req(tc.host, "/"), 0)
			if d.VirtualHost != tc.wantVH {
				t.Errorf("vhost = %q, want %q", d.VirtualHost, tc.wantVH)
			}
			if h, _ := d.RequestHeaders.Get(":authority"); h != tc.wantHost {
				t.Errorf(":authority = %q, want %q", h, tc.wantHost)
			}
		})
	}
}

func TestRequireTLS(t *testing.T) {
	const cfg = `
virtual_hosts:
- {name: all, domains: [all.com, "all.com:80"], require_tls: ALL, routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: ext, domains: [ext.com], require_tls: EXTERNAL_ONLY, routes: [{match: {prefix: /}, route: {cluster: a}}]}
`
	r := mustRouter(t, cfg, Options{})
	tests := map[string]struct {
		host, xfp string
		internal  bool
		wantKind  Kind
		wantURL   string
	}{
		"ALL redirects http":            {"all.com:80", "http", false, KindTLSRedirect, "https://all.com:80/p?q=1"},
		"ALL passes https":              {"all.com", "https", false, KindCluster, ""},
		"ALL redirects internal too":    {"all.com", "http", true, KindTLSRedirect, "https://all.com/p?q=1"},
		"EXTERNAL_ONLY skips internal":  {"ext.com", "http", true, KindCluster, ""},
		"EXTERNAL_ONLY redirects other": {"ext.com", "http", false, KindTLSRedirect, "https://ext.com/p?q=1"},
		"missing XFP: no route":         {"all.com", "", false, KindNone, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rq := NewRequest("GET", tc.host, "/p?q=1")
			if tc.xfp != "" {
				rq.Headers.Add("x-forwarded-proto", tc.xfp)
			}
			if tc.internal {
				rq.Headers.Add("x-envoy-internal", "true")
			}
			d := r.Route(rq, 0)
			if d.Kind != tc.wantKind || d.RedirectURL != tc.wantURL {
				t.Fatalf("kind %q url %q, want %q %q", d.Kind, d.RedirectURL, tc.wantKind, tc.wantURL)
			}
			if tc.wantKind == KindTLSRedirect && d.Response.Status != 301 {
				t.Fatalf("status %d, want 301", d.Response.Status)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := map[string]struct {
		cfg  string
		want []string
	}{
		"duplicate domain": {`
virtual_hosts:
- {name: a, domains: [x.com], routes: []}
- {name: b, domains: [X.com], routes: []}`, []string{`duplicate domain "x.com"`}},
		"two defaults": {`
virtual_hosts:
- {name: a, domains: ["*"]}
- {name: b, domains: ["*"]}`, []string{"only one virtual host may use domain *"}},
		"all problems reported": {`
virtual_hosts:
- name: a
  domains: ["*"]
  routes:
  - {match: {safe_regex: {regex: "("}}, route: {cluster: a}}
  - {match: {path_separated_prefix: "/x/"}, route: {cluster: a}}
  - {match: {prefix: /}, route: {cluster: a, prefix_rewrite: /a, regex_rewrite: {pattern: {regex: a}, substitution: b}}}
  - {match: {prefix: /}, direct_response: {status: 600}}
  - {match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 0}]}}}`,
			[]string{"routes[0]: safe_regex", "routes[1]: path_separated_prefix", "routes[2]: only one of prefix_rewrite", "routes[3]: direct_response status 600", "routes[4]: weighted_clusters: the sum of weights"}},
		"unsupported formatter": {`
virtual_hosts:
- name: a
  domains: ["*"]
  request_headers_to_add: [{header: {key: x, value: "%NOPE%"}}]`, []string{"%NOPE% is not supported"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(parseConfig(t, tc.cfg), Options{})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tc.want {
				if !contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestNormalizeAndVhostHeader(t *testing.T) {
	const cfg = `
virtual_hosts:
- {name: a, domains: [a.com], routes: [{match: {path: /x/y}, route: {cluster: xy}}, {match: {prefix: /}, route: {cluster: other}}]}
`
	tests := map[string]struct {
		opts     Options
		path     string
		wantPath string
	}{
		"untouched by default":  {Options{}, "/x//y", "/x//y"},
		"merge slashes":         {Options{MergeSlashes: true}, "//x///y?a=//b", "/x/y?a=//b"},
		"normalize dot segment": {Options{NormalizePath: true}, "/x/./z/../y", "/x/y"},
		"normalize above root":  {Options{NormalizePath: true}, "/../x/y", "/x/y"},
		"normalize backslash":   {Options{NormalizePath: true}, `/x\y`, "/x/y"},
		"trailing dot keeps /":  {Options{NormalizePath: true}, "/x/y/.", "/x/y/"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, cfg, tc.opts)
			d := route(t, r, req("a.com", tc.path), 0)
			if got, _ := d.RequestHeaders.Get(":path"); got != tc.wantPath {
				t.Fatalf(":path = %q, want %q", got, tc.wantPath)
			}
			if want := map[bool]string{true: "xy", false: "other"}[pathOnly(tc.wantPath) == "/x/y"]; d.Cluster != want {
				t.Fatalf("cluster %q, want %q", d.Cluster, want)
			}
		})
	}
	r := mustRouter(t, "vhost_header: X-Vhost\n"+cfg, Options{})
	if d := route(t, r, req("b.com", "/x/y", "x-vhost", "A.com"), 0); d.VirtualHost != "a" {
		t.Fatalf("vhost_header ignored: %q", d.VirtualHost)
	}
}
