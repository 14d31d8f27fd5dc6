package routetest

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/internal/golden"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/sandbox/checktool"
)

// shopTests pass on testdata/shop.yaml.
func shopTests() []Test {
	return []Test{
		{Name: "static-stable", Gateway: "public",
			Request: rules.Request{Method: "GET", URL: "http://shop.example.com/static/app.js?v=1", Random: 5,
				Headers: http.Header{"X-Debug": {"1"}, "Accept": {"*/*"}}},
			Expect: Expect{Rule: ptr("static"), Upstream: ptr("web-v1"), Path: ptr("/assets/app.js?v=1"), Host: ptr("assets.internal"),
				RequestHeaders:  map[string]*string{"x-team": ptr("shop"), "accept": ptr("*/*"), "x-debug": nil},
				ResponseHeaders: map[string]*string{"cache-control": ptr("public")}}},
		{Name: "static-canary", Gateway: "public",
			Request: rules.Request{URL: "http://shop.example.com/static/a", Random: 95},
			Expect:  Expect{Upstream: ptr("web-v2"), Status: ptr(200)}},
		{Name: "blog", Gateway: "public",
			Request: rules.Request{URL: "https://shop.example.com/blog/post?id=3"},
			Expect:  Expect{Rule: ptr("old-blog"), Redirect: ptr("https://blog.example.com/blog/post?id=3"), Status: ptr(302)}},
	}
}

// TestExportEnvoyRunsOnTranslation exports tests that pass on the
// evaluator and runs the file with the router_check_tool runner against the
// translator's route configuration: the export must mean the same there.
func TestExportEnvoyRunsOnTranslation(t *testing.T) {
	ws := loadWorkspace(t, "testdata/shop.yaml")
	tests := shopTests()
	if rep := Run(t.Context(), ws, tests, nil); !rep.OK() {
		t.Fatalf("fixture tests fail on the evaluator: %+v", rep.Items)
	}
	tf, skipped := ExportEnvoy(tests)
	wantSkipped := []Skipped{
		{Test: "static-stable", Field: "expect.rule", Reason: "router_check_tool cannot check which route matched"},
		{Test: "static-canary", Field: "expect.status", Reason: "router_check_tool checks only redirect codes"},
		{Test: "blog", Field: "expect.rule", Reason: "router_check_tool cannot check which route matched"},
	}
	if diff := cmp.Diff(wantSkipped, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	got, err := MarshalEnvoy(tf)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/export.golden.json", got)

	res, err := translate.Gateway(ws, "public", translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checker, err := checktool.NewChecker(res.Routes[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range checker.RunTests(tf.Tests) {
		if !r.Passed {
			t.Errorf("%s fails on the translated routes: %v", r.TestName, r.Failures)
		}
	}

	// The same runner must catch a wrong expectation, or the check above
	// proves nothing.
	tf.Tests[1].Validate.ClusterName = ptr("web-v1")
	if r := checker.RunTests(tf.Tests[1:2]); r[0].Passed {
		t.Errorf("a wrong cluster_name passed")
	}
}

func TestImportEnvoyRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/export.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	tf, err := ParseEnvoy(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ImportEnvoy(tf, "public")
	if err != nil {
		t.Fatal(err)
	}
	want := shopTests()
	// What the format cannot carry does not come back.
	want[0].Expect.Rule, want[1].Expect.Status, want[2].Expect.Rule = nil, nil, nil
	want[1].Request.Method = "GET"
	want[2].Request.Method = "GET"
	want[0].Request.Headers = http.Header{"x-debug": {"1"}, "accept": {"*/*"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("imported (-want +got):\n%s", diff)
	}
	ws := loadWorkspace(t, "testdata/shop.yaml")
	if rep := Run(t.Context(), ws, got, nil); !rep.OK() {
		t.Errorf("imported tests fail: %+v", rep.Items)
	}
}

func TestImportEnvoy(t *testing.T) {
	tests := map[string]struct {
		file     string
		want     []Test
		problems []string
	}{
		"yaml with header fields and matchers": {
			file: `
tests:
- test_name: "Cart: POST"
  input: {authority: shop.example.com, path: /cart, method: POST, ssl: true,
          additional_request_headers: [{key: X-User, value: "7"}]}
  validate:
    cluster_name: cart
    code_redirect: 301
    path_redirect: https://shop.example.com/cart
    request_header_fields: [{key: x-team, value: shop}]
    response_header_matches:
    - {name: server, present_match: false}
    - {name: x-served-by, string_match: {exact: edge}}
`,
			want: []Test{{Name: "cart-post", Gateway: "g",
				Request: rules.Request{Method: "POST", URL: "https://shop.example.com/cart", Headers: http.Header{"x-user": {"7"}}},
				Expect: Expect{Upstream: ptr("cart"), Status: ptr(301), Redirect: ptr("https://shop.example.com/cart"),
					RequestHeaders:  map[string]*string{"x-team": ptr("shop")},
					ResponseHeaders: map[string]*string{"server": nil, "x-served-by": ptr("edge")}}}},
		},
		"everything routedeck cannot express": {
			file: `{"tests": [
  {"test_name": "a", "input": {"authority": "", "path": "x", "method": "GET", "internal": true},
   "validate": {"virtual_host_name": "vh", "virtual_cluster_name": "vc",
                "request_header_matches": [{"name": "x", "string_match": {"prefix": "a"}}, {"name": "y", "bogus": 1}]}},
  {"test_name": "A", "input": {"authority": "h", "path": "/", "method": "GET"}, "validate": {}},
  {"test_name": "b"},
  {"test_name": "run", "input": {"authority": "h", "path": "/", "method": "GET"}, "validate": {"cluster_name": "c"}}
]}`,
			problems: []string{
				"tests[0].input", "tests[0].input.authority", "tests[0].input.path",
				"tests[0].validate.request_header_matches[0]", "tests[0].validate.request_header_matches[1]",
				"tests[0].validate.virtual_cluster_name", "tests[0].validate.virtual_host_name",
				"tests[1].test_name", "tests[1].validate", "tests[2].input", "tests[2].validate",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tf, err := ParseEnvoy([]byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ImportEnvoy(tf, "g")
			var fields []string
			for _, f := range model.ErrorFields(err) {
				fields = append(fields, f.Field)
			}
			if diff := cmp.Diff(tc.problems, fields); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%v", diff, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tests (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseEnvoy([]byte(`{"tests": [], "extra": 1}`)); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("unknown field: %v, want invalid", err)
	}
}

func TestTestName(t *testing.T) {
	tests := map[string]string{
		"Cart: POST":            "cart-post",
		"  --Weird__Name!!  ":   "weird-name",
		"v1.2 route":            "v1.2-route",
		"":                      "test-4",
		"???":                   "test-4",
		"run":                   "test-4",
		strings.Repeat("a", 70): strings.Repeat("a", 63),
	}
	for in, want := range tests {
		if got := testName(in, 3); got != want {
			t.Errorf("testName(%q) = %q, want %q", in, got, want)
		}
	}
}
