package convert

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// kongWorkspace converts a Kong file and checks that the result validates
// next to the gateway, as every converted workspace must.
func kongWorkspace(t *testing.T, data string) (model.Workspace, []Issue) {
	t.Helper()
	res, err := Kong([]byte(data), "public")
	if err != nil {
		t.Fatal(err)
	}
	ws := res.Workspace
	ws.Gateways = []model.Gateway{{Meta: model.Meta{Name: "public"},
		Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}
	if err := ws.Validate(); err != nil {
		t.Fatalf("converted workspace does not validate: %v", err)
	}
	return ws, res.Report
}

// TestKongEvaluate sends requests through the reference evaluator over the
// golden conversion and checks that the route Kong's router would pick
// wins, with Kong's upstream path and Host.
func TestKongEvaluate(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "kong.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := kongWorkspace(t, string(in))
	tests := map[string]struct {
		method, url string
		headers     map[string]string
		rule        string
		path, host  string
		status      int
	}{
		// host+path+method: the regex path wins over the prefix of the
		// same route (regex paths rank first within a category).
		"regex path":          {"GET", "http://api.example.com/orders/42", nil, "orders-api-path-2", "/api", "orders.internal:8080", 0},
		"regex is anchored":   {"GET", "http://api.example.com/orders/42/items", nil, "orders-api-path-1", "/api/42/items", "orders.internal:8080", 0},
		"prefix, stripped":    {"GET", "http://api.example.com/orders?x=1", nil, "orders-api-path-1", "/api?x=1", "orders.internal:8080", 0},
		"string prefix":       {"GET", "http://api.example.com/ordersx", nil, "orders-api-path-1", "/apix", "orders.internal:8080", 0},
		"method mismatch":     {"DELETE", "http://api.example.com/orders/1", nil, "orders-route-2", "/api/orders/1", "orders.internal:8080", 0},
		"catch-all, no strip": {"GET", "http://api.example.com/", nil, "orders-route-2", "/api", "orders.internal:8080", 0},
		// host+header+path outranks host+path+method (header bit above
		// method bit); header values compare case-insensitively.
		"header route":   {"GET", "http://api.example.com/catalog/x", map[string]string{"X-Beta": "YES"}, "catalog-beta", "/v2/x", "catalog.internal", 0},
		"header missing": {"GET", "http://api.example.com/catalog/x", nil, "orders-route-2", "/api/catalog/x", "orders.internal:8080", 0},
		// Plain hosts rank before wildcard hosts.
		"wildcard host":      {"GET", "https://a.shop.example.com/catalog/shoes", nil, "catalog-wild", "/v2/shoes", "a.shop.example.com", 0},
		"trailing wildcard":  {"GET", "https://shop.de/catalog/shoes", nil, "catalog-wild", "/v2/shoes", "shop.de", 0},
		"https only, http":   {"GET", "http://a.shop.example.com/catalog/shoes", nil, "catalog-wild-http", "", "", 301},
		"header regex":       {"GET", "http://x.example.com/admin/users", map[string]string{"x-role": "superadmin"}, "legacy-admin", "/legacy/users", "10.0.0.20:8080", 0},
		"header regex fails": {"GET", "http://x.example.com/admin/users", map[string]string{"x-role": "viewer"}, "", "", "", 0},
		"sni route":          {"GET", "http://x.example.com/sni/x", nil, "catalog-sni", "/v2/x", "catalog.internal", 0},
		"grpc":               {"POST", "http://x.example.com/shop.v1.Cart/Add", map[string]string{"content-type": "application/grpc"}, "cart-grpc", "/shop.v1.Cart/Add", "10.0.0.7:9000", 0},
		"not grpc":           {"POST", "http://x.example.com/shop.v1.Cart/Add", nil, "", "", "", 0},
		"v0 strip":           {"GET", "http://x.example.com/reports/1", nil, "legacy-reports", "/legacy/1", "10.0.0.20:8080", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := rules.Request{Method: tc.method, URL: tc.url, Headers: http.Header{}}
			if strings.HasPrefix(tc.url, "https:") {
				req.Scheme = "https"
			}
			for k, v := range tc.headers {
				req.Headers.Set(k, v)
			}
			got := rules.Evaluate(ws.Routes, "public", req)
			if got.Rule != tc.rule {
				t.Fatalf("matched %q, want %q", got.Rule, tc.rule)
			}
			if got.Path != tc.path || got.Host != tc.host || got.Status != tc.status {
				t.Errorf("path %q host %q status %d, want %q %q %d", got.Path, got.Host, got.Status, tc.path, tc.host, tc.status)
			}
		})
	}
}

// TestKongPrecedence checks the order of converted rules against Kong's
// router order, one rule of the order per case.
func TestKongPrecedence(t *testing.T) {
	const svc = "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://10.0.0.1\n  routes:\n"
	tests := map[string]struct {
		routes string
		want   []string
	}{
		"more attributes first": {`
  - {name: a, paths: [/a/longer/path]}
  - {name: b, hosts: [x.com], paths: [/a]}
`, []string{"b", "a"}},
		"hosts before headers": {`
  - {name: a, headers: {x-a: ["1"]}}
  - {name: b, hosts: [x.com]}
`, []string{"b", "a"}},
		"headers before methods": {`
  - {name: a, paths: [/], methods: [GET]}
  - {name: b, paths: [/], headers: {x-a: ["1"]}}
`, []string{"b", "a"}},
		"plain hosts before wildcard": {`
  - {name: a, hosts: ["*.x.com"], paths: [/long/path]}
  - {name: b, hosts: [a.x.com], paths: [/]}
`, []string{"b", "a"}},
		"more headers first": {`
  - {name: a, headers: {x-a: ["1"]}}
  - {name: b, headers: {x-a: ["1"], x-b: ["2"]}}
`, []string{"b", "a"}},
		"regex before prefix": {`
  - {name: a, paths: [/a/very/long/prefix]}
  - {name: b, paths: ["~/a/.*"]}
`, []string{"b", "a"}},
		"regex_priority": {`
  - {name: a, paths: ["~/a/\\d+"], regex_priority: 1}
  - {name: b, paths: ["~/a/.*"], regex_priority: 10}
`, []string{"b", "a"}},
		"longest prefix": {`
  - {name: a, paths: [/a]}
  - {name: b, paths: [/a/b]}
`, []string{"b", "a"}},
		"paths sort on their own": {`
  - {name: a, paths: [/a, /abc]}
  - {name: b, paths: [/ab]}
`, []string{"a-path-2", "b", "a-path-1"}},
		"created_at": {`
  - {name: a, paths: [/a], created_at: 20}
  - {name: b, paths: [/b], created_at: 10}
`, []string{"b", "a"}},
		"file order": {`
  - {name: z, paths: [/a]}
  - {name: a, paths: [/b]}
`, []string{"z", "a"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ws, _ := kongWorkspace(t, svc+tc.routes)
			rs := slices.Clone(ws.Routes)
			slices.SortFunc(rs, func(a, b model.Route) int { return model.CompareRoutes(&a, &b) })
			var got []string
			for _, r := range rs {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
		})
	}
}

// TestKongPathHandling checks the upstream path for Kong's path_handling
// cases (service path, route path, strip_path, v0/v1), the expectations
// being what Kong sends.
func TestKongPathHandling(t *testing.T) {
	tests := map[string]struct {
		svcPath, routePath, handling string
		strip                        bool
		request, want                string
	}{
		"v0 strip":                     {"/s", "/fv0", "v0", true, "/fv0/re", "/s/re"},
		"v0 strip exact":               {"/s", "/fv0", "v0", true, "/fv0", "/s"},
		"v1 strip":                     {"/s", "/fv1", "v1", true, "/fv1/re", "/s/re"},
		"v1 strip keeps query":         {"/s", "/fv1", "v1", true, "/fv1/re?a=1", "/s/re?a=1"},
		"v0 no strip":                  {"/s", "/fv0", "v0", false, "/fv0/re", "/s/fv0/re"},
		"v1 no strip":                  {"/s", "/fv1", "v1", false, "/fv1/re", "/sfv1/re"},
		"v0 strip, base slash":         {"/s/", "/fv0", "v0", true, "/fv0/re", "/s/re"},
		"v0 strip exact, base slash":   {"/s/", "/fv0", "v0", true, "/fv0", "/s"},
		"v1 strip, base slash":         {"/s/", "/fv1", "v1", true, "/fv1/re", "/s/re"},
		"v1 strip exact, base slash":   {"/s/", "/fv1", "v1", true, "/fv1", "/s/"},
		"v0 no strip, base slash":      {"/s/", "/fv0", "v0", false, "/fv0/re", "/s/fv0/re"},
		"v1 no strip, base slash":      {"/s/", "/fv1", "v1", false, "/fv1/re", "/s/fv1/re"},
		"v0 strip, route slash":        {"/s", "/fv0/", "v0", true, "/fv0/re", "/s/re"},
		"v0 strip exact, route slash":  {"/s", "/fv0/", "v0", true, "/fv0/", "/s/"},
		"v1 strip, route slash":        {"/s", "/fv1/", "v1", true, "/fv1/re", "/sre"},
		"v0 strip, both slash":         {"/s/", "/fv0/", "v0", true, "/fv0/re", "/s/re"},
		"no service path":              {"", "/fv0", "v0", true, "/fv0/re", "/re"},
		"no service path, exact":       {"", "/fv0", "v0", true, "/fv0", "/"},
		"no service path, mid-segment": {"", "/fv1", "v1", true, "/fv1re", "/re"},
		"no service path, no strip":    {"", "/fv0", "v0", false, "/fv0/re", "/fv0/re"},
		"v0 no strip root":             {"/s", "/", "v0", false, "/", "/s"},
		"regex v1 strip":               {"/s", `~/items/\d+`, "v1", true, "/items/12/x", "/s/x"},
		"regex v1 strip, base slash":   {"/s/", `~/items/\d+`, "v1", true, "/items/12/x", "/s/x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			url := "http://10.0.0.1:8080" + tc.svcPath
			doc := fmt.Sprintf("_format_version: \"3.0\"\nservices:\n- name: s\n  url: %s\n  routes:\n  - name: r\n    paths: [%q]\n    strip_path: %v\n    path_handling: %s\n",
				url, tc.routePath, tc.strip, tc.handling)
			ws, _ := kongWorkspace(t, doc)
			got := rules.Evaluate(ws.Routes, "public", rules.Request{Method: "GET", URL: "http://x.com" + tc.request})
			if got.Rule != "r" {
				t.Fatalf("matched %q, want r", got.Rule)
			}
			if got.Path != tc.want {
				t.Errorf("upstream path %q, want %q (rewrite %+v)", got.Path, tc.want, ws.Routes[0].Then.Rewrite)
			}
		})
	}
}

// TestKongFormats covers the format versions and the refusals.
func TestKongFormats(t *testing.T) {
	const routes = "services:\n- name: s\n  url: http://10.0.0.1\n  routes:\n  - {name: r, paths: [\"/users/\\\\d+\", /plain]}\n"
	tests := map[string]struct {
		doc     string
		cond    []string // path condition of each rule, by name order
		report  string
		wantErr string
	}{
		"3.0 paths are prefixes": {"_format_version: \"3.0\"\n" + routes, []string{`prefix /users/\d+`, "prefix /plain"}, "", ""},
		"2.1 guesses regexes": {"_format_version: \"2.1\"\n" + routes, []string{`regex (?:/users/\d+).*`, "prefix /plain"},
			"read as a regex, as Kong 1.x/2.x did", ""},
		"json": {`{"_format_version": "3.0", "services": [{"name": "s", "host": "10.0.0.1", "routes": [{"name": "r", "paths": ["/a"]}]}]}`,
			[]string{"prefix /a"}, "", ""},
		"no version":  {routes, nil, "", "_format_version is missing"},
		"odd version": {"_format_version: \"9.0\"\n" + routes, nil, "", "unsupported _format_version"},
		"not yaml":    {"{", nil, "", "read Kong configuration"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := Kong([]byte(tc.doc), "public")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rs := slices.Clone(res.Workspace.Routes)
			slices.SortFunc(rs, func(a, b model.Route) int { return strings.Compare(a.Name, b.Name) })
			var got []string
			for _, r := range rs {
				for _, c := range append([]model.Condition{r.When}, r.When.All...) {
					if c.Field == model.FieldPath {
						got = append(got, c.Op+" "+c.Value)
					}
				}
			}
			if !slices.Equal(got, tc.cond) {
				t.Errorf("path conditions %q, want %q", got, tc.cond)
			}
			var rep strings.Builder
			for _, is := range res.Report {
				rep.WriteString(is.String() + "\n")
			}
			if !strings.Contains(rep.String(), tc.report) {
				t.Errorf("report lacks %q:\n%s", tc.report, rep.String())
			}
		})
	}
}
