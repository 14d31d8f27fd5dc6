package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRouteTestsCRUD(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	test := map[string]any{"name": "api-goes-to-api", "gateway": "public",
		"request": map[string]any{"method": "GET", "url": "http://shop.example.com/api/cart", "headers": map[string]any{"x-user": "7"}},
		"expect":  map[string]any{"rule": "api", "upstream": "api", "requestHeaders": map[string]any{"x-user": "7", "x-debug": nil}}}
	a.do(t, "viewer", "POST", "/api/v1/tests", test).must(t, http.StatusForbidden)
	created := a.do(t, "editor", "POST", "/api/v1/tests", test).must(t, http.StatusCreated).json(t)
	if created["version"] != float64(1) {
		t.Errorf("created version %v", created["version"])
	}
	a.do(t, "editor", "POST", "/api/v1/tests", test).must(t, http.StatusConflict)

	list := a.do(t, "viewer", "GET", "/api/v1/tests?gateway=public", nil).must(t, http.StatusOK).json(t)
	if list["total"] != float64(1) {
		t.Fatalf("list: %v", list)
	}
	got := a.do(t, "viewer", "GET", "/api/v1/tests/api-goes-to-api", nil).must(t, http.StatusOK)
	if got.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", got.header.Get("ETag"))
	}
	expect := got.json(t)["expect"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"x-user": "7", "x-debug": nil}, expect["requestHeaders"]); diff != "" {
		t.Errorf("requestHeaders lost in the round trip (-want +got):\n%s", diff)
	}
	a.do(t, "viewer", "GET", "/api/v1/tests?gateway=other", nil).must(t, http.StatusOK)

	test["expect"] = map[string]any{"upstream": "web"}
	a.do(t, "editor", "PUT", "/api/v1/tests/api-goes-to-api", test).must(t, http.StatusBadRequest) // no version
	test["version"] = 7
	a.do(t, "editor", "PUT", "/api/v1/tests/api-goes-to-api", test).must(t, http.StatusConflict)
	test["version"] = 1
	a.do(t, "editor", "PUT", "/api/v1/tests/api-goes-to-api", test).must(t, http.StatusOK)

	run := a.do(t, "viewer", "POST", "/api/v1/tests/run", map[string]any{"gateway": "public"}).must(t, http.StatusOK).json(t)
	if run["failed"] != float64(1) {
		t.Fatalf("run: %v", run)
	}
	item := run["items"].([]any)[0].(map[string]any)
	wantFailure := []any{map[string]any{"engine": "evaluator", "field": "upstream", "expected": `"web"`, "actual": `"api"`}}
	if diff := cmp.Diff(wantFailure, item["failures"]); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if item["message"] != `evaluator: upstream: expected "web", got "api"` {
		t.Errorf("message %q", item["message"])
	}
	a.do(t, "viewer", "POST", "/api/v1/tests/run", map[string]any{"gateway": "nowhere"}).must(t, http.StatusNotFound)

	a.do(t, "editor", "DELETE", "/api/v1/tests/api-goes-to-api?version=1", nil).must(t, http.StatusConflict)
	a.do(t, "editor", "DELETE", "/api/v1/tests/api-goes-to-api?version=2", nil).must(t, http.StatusNoContent)
	a.do(t, "viewer", "GET", "/api/v1/tests/api-goes-to-api", nil).must(t, http.StatusNotFound)
}

func TestRouteTestsInvalid(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	fields := a.do(t, "editor", "POST", "/api/v1/tests", map[string]any{"name": "Bad", "gateway": "nowhere",
		"request": map[string]any{"url": "x"}, "expect": map[string]any{"status": 42}}).must(t, http.StatusBadRequest).problemFields(t)
	want := []string{"expect.status", "gateway", "name", "request.url"}
	var got []string
	for f := range fields {
		got = append(got, f)
	}
	if diff := cmp.Diff(want, sortedCopy(got)); diff != "" {
		t.Errorf("problem fields (-want +got):\n%s", diff)
	}
}

func TestRunInlineTests(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	body := map[string]any{"gateway": "public", "tests": []any{
		map[string]any{"name": "home", "request": map[string]any{"url": "http://shop.example.com/"}, "expect": map[string]any{"rule": "home", "status": 200}},
		map[string]any{"name": "nothing", "request": map[string]any{"url": "http://x.example.com/"}, "expect": map[string]any{"rule": ""}},
	}}
	rep := a.do(t, "viewer", "POST", "/api/v1/tests/run", body).must(t, http.StatusOK).json(t)
	if rep["passed"] != float64(2) || rep["failed"] != float64(0) {
		t.Errorf("report %v", rep)
	}
	if list := a.do(t, "viewer", "GET", "/api/v1/tests", nil).must(t, http.StatusOK).json(t); list["total"] != float64(0) {
		t.Errorf("inline tests were stored: %v", list)
	}
	bad := map[string]any{"gateway": "public", "tests": []any{map[string]any{"name": "x", "request": map[string]any{}, "expect": map[string]any{}}}}
	fields := a.do(t, "viewer", "POST", "/api/v1/tests/run", bad).must(t, http.StatusBadRequest).problemFields(t)
	if _, ok := fields["tests[0].request.url"]; !ok {
		t.Errorf("problems %v", fields)
	}
}

func TestEnvoyTestsImportExport(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	file := map[string]any{"tests": []any{
		map[string]any{"test_name": "API cart", "input": map[string]any{"authority": "shop.example.com", "path": "/api/cart", "method": "GET"},
			"validate": map[string]any{"cluster_name": "api", "path_rewrite": "/api/cart"}},
	}}
	a.do(t, "viewer", "POST", "/api/v1/tests/envoy", map[string]any{"gateway": "public", "file": file}).must(t, http.StatusForbidden)
	imp := a.do(t, "editor", "POST", "/api/v1/tests/envoy", map[string]any{"gateway": "public", "file": file}).must(t, http.StatusOK).json(t)
	if diff := cmp.Diff([]any{map[string]any{"name": "api-cart", "action": "created", "version": float64(1)}}, imp["items"]); diff != "" {
		t.Errorf("import (-want +got):\n%s", diff)
	}
	imp = a.do(t, "editor", "POST", "/api/v1/tests/envoy", map[string]any{"gateway": "public", "file": file}).must(t, http.StatusOK).json(t)
	if imp["items"].([]any)[0].(map[string]any)["action"] != "updated" {
		t.Errorf("second import: %v", imp)
	}
	rep := a.do(t, "viewer", "POST", "/api/v1/tests/run", map[string]any{"gateway": "public"}).must(t, http.StatusOK).json(t)
	if rep["passed"] != float64(1) {
		t.Errorf("imported test does not pass: %v", rep)
	}

	exp := a.do(t, "viewer", "GET", "/api/v1/tests/envoy?gateway=public", nil).must(t, http.StatusOK)
	var out struct {
		File struct {
			Tests []struct {
				TestName string         `json:"test_name"`
				Validate map[string]any `json:"validate"`
			} `json:"tests"`
		} `json:"file"`
		Skipped []any `json:"skipped"`
	}
	if err := json.Unmarshal(exp.body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.File.Tests) != 1 || out.File.Tests[0].TestName != "api-cart" || out.File.Tests[0].Validate["cluster_name"] != "api" || out.Skipped == nil {
		t.Errorf("export: %s", exp.body)
	}

	bad := map[string]any{"tests": []any{map[string]any{"test_name": "a", "input": map[string]any{"authority": "h", "path": "/", "method": "GET"},
		"validate": map[string]any{"virtual_host_name": "x"}}}}
	fields := a.do(t, "editor", "POST", "/api/v1/tests/envoy", map[string]any{"gateway": "nowhere", "file": bad}).must(t, http.StatusBadRequest).problemFields(t)
	for _, f := range []string{"gateway", "file.tests[0].validate.virtual_host_name"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("no problem at %s: %v", f, fields)
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// A test saved from a request on an authenticated route holds the
// credential it sent. No answer shows it: reads give its fingerprint, a
// client that sends the fingerprint back keeps the stored value, and a
// failure on that header says the values differ without giving them.
func TestRouteTestCredentialsNotShown(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	const key, bearer = "k3y-of-alice-0001", "Bearer eyJhbGciOi.secret.token"
	a.do(t, "editor", "POST", "/api/v1/routes", map[string]any{
		"name": "keyed", "gateway": "public", "priority": 50, "when": `path.prefix("/keyed")`,
		"then": map[string]any{"forward": []any{map[string]any{"upstream": "api"}},
			"auth": map[string]any{"apiKey": map[string]any{"header": "x-api-key", "keys": []any{key}}}},
	}).must(t, http.StatusCreated)
	test := map[string]any{"name": "keyed-passes", "gateway": "public",
		"request": map[string]any{"url": "http://shop.example.com/keyed/x",
			"headers": map[string]any{"x-api-key": key, "authorization": bearer, "x-user": "7"}},
		"expect": map[string]any{"rule": "keyed", "requestHeaders": map[string]any{"authorization": "Bearer wrong"}}}
	a.do(t, "editor", "POST", "/api/v1/tests", test).must(t, http.StatusCreated)

	secrets := []string{key, bearer, "Bearer wrong"}
	noSecret := func(what string, body []byte) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(string(body), s) {
				t.Errorf("%s shows %q: %s", what, s, body)
			}
		}
	}
	got := a.do(t, "viewer", "GET", "/api/v1/tests/keyed-passes", nil).must(t, http.StatusOK)
	noSecret("GET /tests/NAME", got.body)
	shown := got.json(t)
	headers := shown["request"].(map[string]any)["headers"].(map[string]any)
	if !cmp.Equal(headers["x-api-key"], []any{a.fp.Fingerprint(key)}) {
		t.Errorf("x-api-key shows as %v, want its fingerprint", headers["x-api-key"])
	}
	if !cmp.Equal(headers["x-user"], []any{"7"}) {
		t.Errorf("x-user shows as %v: only credentials are hidden", headers["x-user"])
	}
	noSecret("GET /tests", a.do(t, "viewer", "GET", "/api/v1/tests?gateway=public", nil).must(t, http.StatusOK).body)
	noSecret("GET /tests/envoy", a.do(t, "viewer", "GET", "/api/v1/tests/envoy?gateway=public", nil).must(t, http.StatusOK).body)
	run := a.do(t, "viewer", "POST", "/api/v1/tests/run", map[string]any{"gateway": "public"}).must(t, http.StatusOK)
	noSecret("POST /tests/run", run.body)
	if item := run.json(t)["items"].([]any)[0].(map[string]any); !strings.Contains(item["message"].(string), "requestHeaders.authorization") {
		t.Errorf("the failing header is not named: %v", item["message"])
	}

	// What was read, sent back with a changed expectation, keeps the
	// stored credentials: the test still passes on the keyed rule.
	shown["expect"] = map[string]any{"rule": "keyed"}
	a.do(t, "editor", "PUT", "/api/v1/tests/keyed-passes", shown).must(t, http.StatusOK)
	if rep := a.do(t, "viewer", "POST", "/api/v1/tests/run", map[string]any{"gateway": "public"}).must(t, http.StatusOK).json(t); rep["failed"] != float64(0) {
		t.Errorf("after a round trip of what was read: %v", rep)
	}
	// A fingerprint nothing stored has is refused on its path.
	bad := map[string]any{"name": "made-up", "gateway": "public",
		"request": map[string]any{"url": "/keyed", "headers": map[string]any{"x-api-key": "fp:0123456789ab"}},
		"expect":  map[string]any{"rule": "keyed"}}
	body := string(a.do(t, "editor", "POST", "/api/v1/tests", bad).must(t, http.StatusBadRequest).body)
	if !strings.Contains(body, "request.headers.x-api-key[0]") || !strings.Contains(body, "unknown fingerprint") {
		t.Errorf("made-up fingerprint: %s", body)
	}
}
