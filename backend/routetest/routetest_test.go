package routetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

func loadWorkspace(t testing.TB, path string) model.Workspace {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := manifest.Load(path, data)
	if err != nil {
		t.Fatal(err)
	}
	ws := f.Workspace
	if err := rules.ResolveWorkspace(&ws); err != nil {
		t.Fatal(err)
	}
	if err := ws.Validate(); err != nil {
		t.Fatal(err)
	}
	return ws
}

func ptr[T any](v T) *T { return &v }

func TestRunEvaluator(t *testing.T) {
	ws := loadWorkspace(t, "testdata/shop.yaml")
	tests := map[string]struct {
		test Test
		want []Mismatch
	}{
		"forward with rewrites and headers": {
			test: Test{Request: rules.Request{URL: "http://shop.example.com/static/app.js?v=1",
				Headers: http.Header{"X-Debug": {"1"}, "Accept": {"*/*"}}},
				Expect: Expect{Rule: ptr("static"), Upstream: ptr("web-v1"), Path: ptr("/assets/app.js?v=1"),
					Host: ptr("assets.internal"), Status: ptr(200),
					RequestHeaders:  map[string]*string{"x-team": ptr("shop"), "accept": ptr("*/*"), "x-debug": nil},
					ResponseHeaders: map[string]*string{"cache-control": ptr("public"), "server": ptr("envoy")}}},
		},
		"canary share by random value": {
			test: Test{Request: rules.Request{URL: "http://shop.example.com/static/a", Random: 95},
				Expect: Expect{Upstream: ptr("web-v2")}},
		},
		"redirect": {
			test: Test{Request: rules.Request{URL: "http://shop.example.com/blog/post?id=3"},
				Expect: Expect{Rule: ptr("old-blog"), Redirect: ptr("https://blog.example.com/blog/post?id=3"), Status: ptr(302), Upstream: ptr("")}},
		},
		"respond": {
			test: Test{Request: rules.Request{URL: "/healthz"},
				Expect: Expect{Rule: ptr("health"), Status: ptr(204), ResponseHeaders: map[string]*string{"x-health": ptr("ok")}}},
		},
		"no match": {
			test: Test{Request: rules.Request{URL: "http://other.example.com/"},
				Expect: Expect{Rule: ptr(""), Status: ptr(404)}},
		},
		"weighted rule, one member saved": {
			test: Test{Request: rules.Request{URL: "http://shop.example.com/static/a"},
				Expect: Expect{Rule: ptr("static"), Upstream: ptr("web-v2")}},
		},
		"weighted rule, membership": {
			test: Test{Request: rules.Request{URL: "http://shop.example.com/static/a"},
				Expect: Expect{UpstreamIn: []string{"web-v2", "web-v1"}}},
		},
		"weighted rule, not a member": {
			test: Test{Request: rules.Request{URL: "http://shop.example.com/static/a"},
				Expect: Expect{Upstream: ptr("web-v3")}},
			want: []Mismatch{{EngineEvaluator, "upstream", `"web-v3"`, `"web-v1"`}},
		},
		"membership missed": {
			test: Test{Request: rules.Request{URL: "/healthz"},
				Expect: Expect{UpstreamIn: []string{"web-v1", "web-v2"}}},
			want: []Mismatch{{EngineEvaluator, "upstreamIn", `one of "web-v1", "web-v2"`, `""`}},
		},
		"pinned random value is exact": {
			test: Test{Request: rules.Request{URL: "http://shop.example.com/static/a", Random: 95},
				Expect: Expect{Upstream: ptr("web-v1")}},
			want: []Mismatch{{EngineEvaluator, "upstream", `"web-v1"`, `"web-v2"`}},
		},
		"every field wrong": {
			test: Test{Request: rules.Request{URL: "http://shop.example.com/static/x", Random: 1, Headers: http.Header{"X-Debug": {"1"}}},
				Expect: Expect{Rule: ptr("health"), Upstream: ptr("web-v2"), Path: ptr("/static/x"), Host: ptr("shop.example.com"),
					Status: ptr(503), RequestHeaders: map[string]*string{"x-team": ptr("ops"), "x-debug": ptr("1"), "x-missing": nil},
					ResponseHeaders: map[string]*string{"cache-control": ptr("no-store")}}},
			want: []Mismatch{
				{EngineEvaluator, "rule", `"health"`, `"static"`},
				{EngineEvaluator, "upstream", `"web-v2"`, `"web-v1"`},
				{EngineEvaluator, "path", `"/static/x"`, `"/assets/x"`},
				{EngineEvaluator, "host", `"shop.example.com"`, `"assets.internal"`},
				{EngineEvaluator, "status", "503", "200"},
				{EngineEvaluator, "requestHeaders.x-debug", `"1"`, "(absent)"},
				{EngineEvaluator, "requestHeaders.x-team", `"ops"`, `"shop"`},
				{EngineEvaluator, "responseHeaders.cache-control", `"no-store"`, `"public"`},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.test.Name, tc.test.Gateway = "t", "public"
			rep := Run(context.Background(), ws, []Test{tc.test}, nil)
			if diff := cmp.Diff(tc.want, rep.Items[0].Failures); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
			if rep.OK() != (len(tc.want) == 0) || rep.Items[0].Passed != rep.OK() {
				t.Errorf("report %+v disagrees with its failures", rep)
			}
		})
	}
}

// fakePlane is a data plane answering from a fixed outcome, to check how
// Run combines engines; the real data planes have their own tests.
type fakePlane struct {
	out Outcome
	err error
}

func (f fakePlane) Name() string { return "sim" }
func (f fakePlane) Observe(context.Context, string, rules.Request) (Outcome, error) {
	return f.out, f.err
}

func TestRunDataPlane(t *testing.T) {
	ws := loadWorkspace(t, "testdata/shop.yaml")
	test := Test{Name: "health", Gateway: "public", Request: rules.Request{URL: "/healthz"}, Expect: Expect{Status: ptr(204)}}
	tests := map[string]struct {
		plane   fakePlane
		message string
	}{
		"agrees":   {fakePlane{out: Outcome{Status: 204}}, ""},
		"disagree": {fakePlane{out: Outcome{Status: 404}}, "sim: status: expected 204, got 404"},
		"fails":    {fakePlane{err: errors.New("connection refused")}, "sim: request failed: connection refused"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := Run(context.Background(), ws, []Test{test}, tc.plane)
			if got := strings.Join(rep.Engines, ","); got != "evaluator,sim" {
				t.Errorf("engines %s", got)
			}
			if rep.Items[0].Message != tc.message {
				t.Errorf("message %q, want %q", rep.Items[0].Message, tc.message)
			}
		})
	}
}

// TestRunDataPlaneWeighted: a data plane picks a split's member by chance,
// so a test saved from one request on a weighted rule passes with either
// member and fails with anything else, even with a pinned random value.
func TestRunDataPlaneWeighted(t *testing.T) {
	ws := loadWorkspace(t, "testdata/shop.yaml")
	for _, random := range []uint64{0, 95} {
		test := Test{Name: "canary", Gateway: "public", Request: rules.Request{URL: "http://shop.example.com/static/a", Random: random},
			Expect: Expect{Rule: ptr("static"), Upstream: ptr("web-v2")}}
		if random == 0 {
			test.Expect.Upstream = ptr("web-v1")
		}
		tests := map[string]struct {
			got     string
			message string
		}{
			"web-v1": {"web-v1", ""},
			"web-v2": {"web-v2", ""},
			"outside the split": {"web-v3",
				`sim: upstream: expected "` + *test.Expect.Upstream + `" or another upstream of the split "web-v1", "web-v2", got "web-v3"`},
		}
		for name, tc := range tests {
			t.Run(fmt.Sprint(random, " ", name), func(t *testing.T) {
				rep := Run(context.Background(), ws, []Test{test}, fakePlane{out: Outcome{Rule: "static", Upstream: tc.got}})
				if rep.Items[0].Message != tc.message {
					t.Errorf("message %q, want %q", rep.Items[0].Message, tc.message)
				}
			})
		}
	}
}

func TestReportErr(t *testing.T) {
	ws := loadWorkspace(t, "testdata/shop.yaml")
	rep := Run(context.Background(), ws, []Test{
		{Name: "ok", Gateway: "public", Request: rules.Request{URL: "/healthz"}, Expect: Expect{Status: ptr(204)}},
		{Name: "bad", Gateway: "public", Request: rules.Request{URL: "/healthz"}, Expect: Expect{Rule: ptr("static")}},
		{Name: "lost", Gateway: "nowhere", Request: rules.Request{URL: "/"}, Expect: Expect{Status: ptr(200)}},
	}, nil)
	err := rep.Err(model.ECONFLICT)
	if model.ErrorCode(err) != model.ECONFLICT || model.ErrorMessage(err) != "2 of 3 route tests failed" {
		t.Fatalf("err %v", err)
	}
	want := []model.FieldError{
		{Field: "tests.bad.rule", Message: `evaluator: expected "static", got "health"`},
		{Field: "tests.lost", Message: `evaluator: gateway "nowhere" does not exist`},
	}
	if diff := cmp.Diff(want, model.ErrorFields(err)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		test Test
		want []string
	}{
		"good":               {Test{Name: "a.b-1", Gateway: "g", Request: rules.Request{URL: "/x"}, Expect: Expect{Status: ptr(200)}}, nil},
		"everything missing": {Test{}, []string{"expect", "gateway", "name", "request.url"}},
		"bad values": {Test{Name: "Bad Name", Gateway: "g",
			Request: rules.Request{URL: "x", Method: "G T", Headers: http.Header{"bad header": {"v"}}},
			Expect:  Expect{Status: ptr(42), Redirect: ptr("https://x/"), Upstream: ptr("web"), ResponseHeaders: map[string]*string{"a b": nil}}},
			[]string{"expect.redirect", "expect.responseHeaders.a b", "expect.status", "name", "request.headers.bad header", "request.method", "request.url"}},
		"upstreamIn": {Test{Name: "w", Gateway: "g", Request: rules.Request{URL: "/"},
			Expect: Expect{Upstream: ptr("a"), UpstreamIn: []string{"a", "", "a"}}},
			[]string{"expect.upstreamIn", "expect.upstreamIn[1]", "expect.upstreamIn[2]"}},
		"empty upstreamIn": {Test{Name: "w", Gateway: "g", Request: rules.Request{URL: "/"}, Expect: Expect{UpstreamIn: []string{}}},
			[]string{"expect.upstreamIn"}},
		"reserved": {Test{Name: "run", Gateway: "g", Request: rules.Request{URL: "/"}, Expect: Expect{Status: ptr(200)}}, []string{"name"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, f := range model.ErrorFields(tc.test.Validate()) {
				got = append(got, f.Field)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problem fields (-want +got):\n%s", diff)
			}
		})
	}
}
