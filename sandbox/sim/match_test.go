package sim

import (
	"fmt"
	"strings"
	"testing"
)

// oneRoute builds a config with one matcher route (cluster "hit") and a
// catch-all (cluster "miss").
func oneRoute(match string) string {
	return `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: ` + match + `
    route: {cluster: hit}
  - match: {prefix: ""}
    route: {cluster: miss}
`
}

func TestPathSpecifiers(t *testing.T) {
	tmpl := func(p string) string {
		return `{path_match_policy: {name: envoy.path.match.uri_template.uri_template_matcher, typed_config: {"@type": type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig, path_template: "` + p + `"}}}`
	}
	tests := map[string]struct {
		match string
		hit   []string
		miss  []string
	}{
		"prefix":                          {`{prefix: /api}`, []string{"/api", "/api/x", "/apix", "/api?x=1"}, []string{"/ap", "/API", "/x/api"}},
		"prefix ignores query":            {`{prefix: "/a?b"}`, nil, []string{"/a?b", "/a?bc"}},
		"prefix case-insensitive":         {`{prefix: /Api, case_sensitive: false}`, []string{"/api/x", "/API", "/aPi"}, []string{"/ap"}},
		"path exact":                      {`{path: /a}`, []string{"/a", "/a?x", "/a#f"}, []string{"/a/", "/A", "/ab"}},
		"path case-insensitive":           {`{path: /a/B, case_sensitive: false}`, []string{"/A/b", "/a/B?q"}, []string{"/a/b/"}},
		"regex full match":                {`{safe_regex: {regex: "/u/[0-9]+"}}`, []string{"/u/12", "/u/1?x=a"}, []string{"/u/12/", "/x/u/1", "/u/"}},
		"regex ignores case_sensitive":    {`{safe_regex: {regex: "/a"}, case_sensitive: false}`, []string{"/a"}, []string{"/A"}},
		"path_separated_prefix":           {`{path_separated_prefix: /api}`, []string{"/api", "/api/", "/api/v1", "/api?q"}, []string{"/apix", "/ap"}},
		"path_separated_prefix no case":   {`{path_separated_prefix: /Api, case_sensitive: false}`, []string{"/API/x"}, []string{"/APIX"}},
		"template one segment":            {tmpl("/users/*"), []string{"/users/42", "/users/a.b~c?x"}, []string{"/users/", "/users/1/2", "/users"}},
		"template double star":            {tmpl("/static/**"), []string{"/static/", "/static/a/b/c"}, []string{"/stat/a"}},
		"template variable":               {tmpl("/u/{id}/x"), []string{"/u/7/x"}, []string{"/u/7/8/x"}},
		"template variable multi-segment": {tmpl("/u/{rest=**}"), []string{"/u/a/b", "/u/"}, []string{"/v/a"}},
		"template variable sub-pattern":   {tmpl("/u/{p=a/*}/z"), []string{"/u/a/b/z"}, []string{"/u/b/b/z", "/u/a/z"}},
		"connect matcher":                 {`{connect_matcher: {}}`, nil, []string{"/"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, oneRoute(tc.match), Options{})
			for _, p := range tc.hit {
				if d := route(t, r, req("h", p), 0); d.Cluster != "hit" {
					t.Errorf("%s: cluster %q, want hit (trace %+v)", p, d.Cluster, d.Trace)
				}
			}
			for _, p := range tc.miss {
				if d := route(t, r, req("h", p), 0); d.Cluster != "miss" {
					t.Errorf("%s: cluster %q, want miss", p, d.Cluster)
				}
			}
		})
	}
}

func TestConnectMatcher(t *testing.T) {
	r := mustRouter(t, oneRoute(`{connect_matcher: {}}`), Options{})
	rq := req("h", "/")
	rq.Headers.Set(":method", "CONNECT")
	if d := route(t, r, rq, 0); d.Cluster != "hit" {
		t.Fatalf("CONNECT went to %q", d.Cluster)
	}
}

func TestHeaderMatchers(t *testing.T) {
	tests := map[string]struct {
		matcher string
		headers []string // name, value pairs; nil = header absent
		want    bool
	}{
		"no specifier means present":          {`{name: x}`, []string{"x", ""}, true},
		"no specifier, absent":                {`{name: x}`, nil, false},
		"present true, absent":                {`{name: x, present_match: true}`, nil, false},
		"present false, absent":               {`{name: x, present_match: false}`, nil, true},
		"present false, present":              {`{name: x, present_match: false}`, []string{"x", "1"}, false},
		"present true inverted, absent":       {`{name: x, present_match: true, invert_match: true}`, nil, true},
		"present false inverted, absent":      {`{name: x, present_match: false, invert_match: true}`, nil, false},
		"exact":                               {`{name: x, string_match: {exact: a}}`, []string{"x", "a"}, true},
		"exact is case-sensitive":             {`{name: x, string_match: {exact: a}}`, []string{"x", "A"}, false},
		"exact ignore_case":                   {`{name: x, string_match: {exact: a, ignore_case: true}}`, []string{"x", "A"}, true},
		"name is case-insensitive":            {`{name: X-Y, string_match: {exact: a}}`, []string{"x-y", "a"}, true},
		"value matcher fails on absent":       {`{name: x, string_match: {exact: a}}`, nil, false},
		"inverted value matcher, absent":      {`{name: x, string_match: {exact: a}, invert_match: true}`, nil, false},
		"inverted value matcher, other value": {`{name: x, string_match: {exact: a}, invert_match: true}`, []string{"x", "b"}, true},
		"treat missing as empty":              {`{name: x, string_match: {exact: ""}, treat_missing_header_as_empty: true}`, nil, true},
		"treat missing as empty, inverted":    {`{name: x, string_match: {exact: a}, invert_match: true, treat_missing_header_as_empty: true}`, nil, true},
		"prefix":                              {`{name: x, string_match: {prefix: ab}}`, []string{"x", "abc"}, true},
		"prefix ignore_case":                  {`{name: x, string_match: {prefix: AB, ignore_case: true}}`, []string{"x", "abc"}, true},
		"suffix":                              {`{name: x, string_match: {suffix: bc}}`, []string{"x", "abc"}, true},
		"suffix ignore_case":                  {`{name: x, string_match: {suffix: BC, ignore_case: true}}`, []string{"x", "abc"}, true},
		"contains":                            {`{name: x, string_match: {contains: b}}`, []string{"x", "abc"}, true},
		"contains ignore_case":                {`{name: x, string_match: {contains: B, ignore_case: true}}`, []string{"x", "abc"}, true},
		"regex is a full match":               {`{name: x, string_match: {safe_regex: {regex: "b"}}}`, []string{"x", "abc"}, false},
		"regex full":                          {`{name: x, string_match: {safe_regex: {regex: "a.c"}}}`, []string{"x", "abc"}, true},
		"regex ignores ignore_case":           {`{name: x, string_match: {safe_regex: {regex: "abc"}, ignore_case: true}}`, []string{"x", "ABC"}, false},
		"deprecated exact_match":              {`{name: x, exact_match: a}`, []string{"x", "a"}, true},
		"deprecated safe_regex_match":         {`{name: x, safe_regex_match: {regex: "[0-9]+"}}`, []string{"x", "12"}, true},
		"range inside":                        {`{name: x, range_match: {start: -10, end: 10}}`, []string{"x", "-10"}, true},
		"range end exclusive":                 {`{name: x, range_match: {start: -10, end: 10}}`, []string{"x", "10"}, false},
		"range not a number":                  {`{name: x, range_match: {start: 0, end: 10}}`, []string{"x", "1.5"}, false},
		"range inverted not a number":         {`{name: x, range_match: {start: 0, end: 10}, invert_match: true}`, []string{"x", "z"}, true},
		"repeated headers joined":             {`{name: x, string_match: {exact: "a,b"}}`, []string{"x", "a", "x", "b"}, true},
		"repeated cookies joined with ;":      {`{name: cookie, string_match: {exact: "a=1; b=2"}}`, []string{"cookie", "a=1", "cookie", "b=2"}, true},
		"repeated headers, first only fails":  {`{name: x, string_match: {exact: "a"}}`, []string{"x", "a", "x", "b"}, false},
		"pseudo-header :method":               {`{name: ":method", string_match: {exact: GET}}`, nil, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, oneRoute(`{prefix: /, headers: [`+tc.matcher+`]}`), Options{})
			d := route(t, r, req("h", "/", tc.headers...), 0)
			if got := d.Cluster == "hit"; got != tc.want {
				t.Fatalf("matched = %v, want %v (trace %+v)", got, tc.want, d.Trace)
			}
		})
	}
}

func TestQueryParameters(t *testing.T) {
	tests := map[string]struct {
		matcher string
		path    string
		want    bool
	}{
		"exact":                      {`{name: a, string_match: {exact: "1"}}`, "/?a=1", true},
		"not url-decoded":            {`{name: a, string_match: {exact: "x y"}}`, "/?a=x%20y", false},
		"raw value matches":          {`{name: a, string_match: {exact: "x%20y"}}`, "/?a=x%20y", true},
		"first value counts":         {`{name: a, string_match: {exact: "2"}}`, "/?a=1&a=2", false},
		"key must exist":             {`{name: a, string_match: {exact: ""}}`, "/?b=1", false},
		"empty value":                {`{name: a, string_match: {exact: ""}}`, "/?a", true},
		"present":                    {`{name: a, present_match: true}`, "/?b=2&a", true},
		"present, absent":            {`{name: a, present_match: true}`, "/?b=2", false},
		"fragment is not the query":  {`{name: a, present_match: true}`, "/#a=1", false},
		"prefix ignore_case":         {`{name: a, string_match: {prefix: AB, ignore_case: true}}`, "/?a=abc", true},
		"regex":                      {`{name: a, string_match: {safe_regex: {regex: "[0-9]+"}}}`, "/?a=42", true},
		"no query":                   {`{name: a, present_match: true}`, "/", false},
		"keys are case-sensitive":    {`{name: a, present_match: true}`, "/?A=1", false},
		"value up to the fragment":   {`{name: a, string_match: {exact: "1"}}`, "/?a=1#f", true},
		"second parameter key match": {`{name: b, string_match: {exact: "2"}}`, "/?a=1&b=2", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, oneRoute(`{prefix: /, query_parameters: [`+tc.matcher+`]}`), Options{})
			if got := route(t, r, req("h", tc.path), 0).Cluster == "hit"; got != tc.want {
				t.Fatalf("matched = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGrpcMatch(t *testing.T) {
	r := mustRouter(t, oneRoute(`{prefix: /, grpc: {}}`), Options{})
	for ct, want := range map[string]bool{
		"application/grpc": true, "application/grpc+proto": true, "application/grpc;x=y": true,
		"application/grpcx": false, "application/json": false, "": false,
	} {
		if got := route(t, r, req("h", "/", "content-type", ct), 0).Cluster == "hit"; got != want {
			t.Errorf("content-type %q: matched %v, want %v", ct, got, want)
		}
	}
}

func TestRuntimeFraction(t *testing.T) {
	const match = `{prefix: /, runtime_fraction: {runtime_key: k, default_value: {numerator: 30, denominator: HUNDRED}}}`
	tests := map[string]struct {
		runtime Runtime
		random  uint64
		want    bool
	}{
		"below numerator":          {nil, 29, true},
		"equal is off (strict <)":  {nil, 30, false},
		"modulo denominator":       {nil, 129, true},
		"runtime key overrides":    {StaticRuntime{"k": "50"}, 40, true},
		"runtime key zero":         {StaticRuntime{"k": "0"}, 0, false},
		"non-integer uses default": {StaticRuntime{"k": "x"}, 40, false},
		"other key uses default":   {StaticRuntime{"j": "100"}, 31, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRouter(t, oneRoute(match), Options{Runtime: tc.runtime})
			if got := route(t, r, req("h", "/"), tc.random).Cluster == "hit"; got != tc.want {
				t.Fatalf("matched = %v, want %v", got, tc.want)
			}
		})
	}
	r := mustRouter(t, oneRoute(`{prefix: /, runtime_fraction: {default_value: {numerator: 5, denominator: TEN_THOUSAND}}}`), Options{})
	if route(t, r, req("h", "/"), 10004).Cluster != "hit" || route(t, r, req("h", "/"), 10005).Cluster != "miss" {
		t.Fatal("TEN_THOUSAND denominator not applied")
	}
}

func TestDynamicMetadataMatch(t *testing.T) {
	r := mustRouter(t, oneRoute(`{prefix: /, dynamic_metadata: [{filter: f, path: [{key: a}, {key: b}], value: {string_match: {exact: v}}}]}`), Options{})
	rq := req("h", "/")
	if route(t, r, rq, 0).Cluster != "miss" {
		t.Fatal("matched without metadata")
	}
	rq.Metadata = map[string]*structpbStruct{"f": mustStruct(t, map[string]any{"a": map[string]any{"b": "v"}})}
	if d := route(t, r, rq, 0); d.Cluster != "hit" {
		t.Fatalf("did not match nested metadata: %+v", d.Trace)
	}
}

// TestMatchOrder checks that the first failing condition is reported in
// Envoy's order: runtime, grpc, headers, query, ..., path last.
func TestMatchOrder(t *testing.T) {
	r := mustRouter(t, oneRoute(`{path: /nope, grpc: {}, headers: [{name: h, present_match: true}], query_parameters: [{name: q, present_match: true}], runtime_fraction: {default_value: {numerator: 50}}}`), Options{})
	steps := []struct {
		random  uint64
		headers []string
		path    string
		want    string
	}{
		{60, nil, "/", reasonRuntime},
		{10, nil, "/", reasonGrpc},
		{10, []string{"content-type", "application/grpc"}, "/", "h present_match=true"},
		{10, []string{"content-type", "application/grpc", "h", "1"}, "/", "query q present"},
		{10, []string{"content-type", "application/grpc", "h", "1"}, "/?q", `path "/nope"`},
		{10, []string{"content-type", "application/grpc", "h", "1"}, "/nope?q", ""},
	}
	for i, s := range steps {
		d := route(t, r, req("h", s.path, s.headers...), s.random)
		if got := d.Trace[0].Failed; got != s.want {
			t.Errorf("step %d: failed %q, want %q", i, got, s.want)
		}
	}
}

// TestIndexAgreesWithLinearScan builds tables mixing every path kind and
// checks that the indexed Match picks the same route as Envoy's linear scan.
func TestIndexAgreesWithLinearScan(t *testing.T) {
	var b strings.Builder
	b.WriteString("virtual_hosts:\n- name: vh\n  domains: [\"*\"]\n  routes:\n")
	kinds := []string{
		`{prefix: "/a%d"}`, `{path: "/a%d/x"}`, `{prefix: "/A%d", case_sensitive: false}`,
		`{safe_regex: {regex: "/a%d/[0-9]+"}}`, `{path_separated_prefix: "/b%d"}`,
		`{prefix: "/a%d", headers: [{name: h, string_match: {exact: v}}]}`, `{path: "/B%d", case_sensitive: false}`,
	}
	for i := 0; i < 140; i++ {
		fmt.Fprintf(&b, "  - match: "+kinds[i%len(kinds)]+"\n    route: {cluster: c%d}\n", i%20, i)
	}
	b.WriteString("  - match: {prefix: /}\n    route: {cluster: last}\n")
	r := mustRouter(t, b.String(), Options{})
	paths := []string{"/", "/a1", "/a1/x", "/A1/X", "/a3/12", "/b4", "/b4/z", "/b4z", "/B6", "/b6", "/a19?x", "/a5/x#f", "/zz", ""}
	for _, p := range paths {
		for _, hdr := range [][]string{nil, {"h", "v"}} {
			route(t, r, req("h", p, hdr...), 0)
		}
	}
}
