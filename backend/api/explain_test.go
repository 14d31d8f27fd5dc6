package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/xds"
)

// explainAPI is the seeded test API with a request log and three versions
// of gateway public whose rules differ:
//
//	v1:    home, api (/api), admin (admin host && /admin), beta (/beta && x-beta: 1)
//	v2:    v1 and new (path == "/new")
//	draft: v2 without api
//
// report stores entries as the proxy of gateway (or sandbox/gateway) that
// ran version would report them.
func explainAPI(t *testing.T) (a *testAPI, report func(gateway, version string, entries ...*accesslogdata.HTTPAccessLogEntry)) {
	t.Helper()
	al, err := accesslog.Open(context.Background(), filepath.Join(t.TempDir(), "accesslog.db"), accesslog.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	a = newTestAPI(t, func(d *Deps) { d.AccessLog = al })
	a.seed(t)
	ctx := context.Background()
	for _, r := range []map[string]any{
		{"name": "admin", "gateway": "public", "priority": 20, "when": `host == "admin.example.com" && path.prefix("/admin")`,
			"then": map[string]any{"forward": []any{map[string]any{"upstream": "api"}}}},
		{"name": "beta", "gateway": "public", "priority": 30, "when": `path.prefix("/beta") && header["x-beta"] == "1"`,
			"then": map[string]any{"forward": []any{map[string]any{"upstream": "api"}}}},
	} {
		a.do(t, "editor", "POST", "/api/v1/routes", r).must(t, http.StatusCreated)
	}
	if _, err := a.store.Publish(ctx, "test", "public", "v1"); err != nil {
		t.Fatal(err)
	}
	a.do(t, "editor", "POST", "/api/v1/routes", map[string]any{"name": "new", "gateway": "public", "when": `path == "/new"`,
		"then": map[string]any{"forward": []any{map[string]any{"upstream": "web"}}}}).must(t, http.StatusCreated)
	if _, err := a.store.Publish(ctx, "test", "public", "v2"); err != nil {
		t.Fatal(err)
	}
	api := a.do(t, "viewer", "GET", "/api/v1/routes/api", nil).must(t, http.StatusOK)
	a.do(t, "editor", "DELETE", "/api/v1/routes/api", nil, "If-Match", api.header.Get("ETag")).must(t, http.StatusNoContent)
	return a, func(gateway, version string, entries ...*accesslogdata.HTTPAccessLogEntry) {
		t.Helper()
		if !al.Offer(xds.AccessLogBatch{Gateway: gateway, Node: "edge-1", Version: version, Received: time.Now(), Entries: entries}) {
			t.Fatal("dropped")
		}
		if err := al.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func hostEntry(route string, status int, host, path string) *accesslogdata.HTTPAccessLogEntry {
	return &accesslogdata.HTTPAccessLogEntry{
		CommonProperties: &accesslogdata.AccessLogCommon{StartTime: timestamppb.Now(), Duration: durationpb.New(3 * time.Millisecond), RouteName: route},
		Request:          &accesslogdata.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Authority: host, Path: path, Scheme: "http"},
		Response:         &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(uint32(status))},
	}
}

// explained is the part of an explanation the tests read.
type explained struct {
	Rule       *string `json:"rule"`
	Version    string  `json:"version"`
	Tried      int     `json:"tried"`
	NearMisses []struct {
		Rule         string `json:"rule"`
		FirstFailing string `json:"firstFailing"`
	} `json:"nearMisses"`
	Winner *struct {
		Rule       string `json:"rule"`
		Conditions []struct {
			Expr   string `json:"expr"`
			Result bool   `json:"result"`
		} `json:"conditions"`
	} `json:"winner"`
	Trace     []json.RawMessage `json:"trace"`
	TraceNext string            `json:"traceNext"`
	Entry     *accesslog.Entry  `json:"entry"`
	Agrees    bool              `json:"agrees"`
	Notes     []string          `json:"notes"`
}

func (e explained) rule() string {
	if e.Rule == nil {
		return ""
	}
	return *e.Rule
}

func decodeExplained(t *testing.T, r reply) explained {
	t.Helper()
	var e explained
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return e
}

// TestExplainVersion asks each version of the gateway about the same
// requests: each answers by its own rules.
func TestExplainVersion(t *testing.T) {
	a, _ := explainAPI(t)
	ask := func(version, url string) explained {
		t.Helper()
		r := a.do(t, "viewer", "POST", "/api/v1/gateways/public/explain", map[string]any{
			"version": version, "request": map[string]any{"url": url}}).must(t, http.StatusOK)
		return decodeExplained(t, r)
	}
	tests := map[string]struct {
		url                      string
		v1, v2, live, draft, dft string
	}{
		"removed from the draft": {url: "http://other.example.com/api/x", v1: "api", v2: "api", live: "api", draft: ""},
		"added in v2":            {url: "http://other.example.com/new", v1: "", v2: "new", live: "new", draft: "new"},
		"the same everywhere":    {url: "http://shop.example.com/", v1: "home", v2: "home", live: "home", draft: "home"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct{ version, want, label string }{
				{"v1", tc.v1, "v1"}, {"2", tc.v2, "v2"}, {"live", tc.live, "v2"}, {"draft", tc.draft, "draft"},
			} {
				got := ask(c.version, tc.url)
				if got.rule() != c.want || got.Version != c.label {
					t.Errorf("%s: rule %q of %s, want %q of %s", c.version, got.rule(), got.Version, c.want, c.label)
				}
			}
		})
	}

	// A 404 says why: the near misses, each with the condition it failed.
	got := ask("live", "http://shop2.example.com/admin/users")
	if got.Rule != nil || len(got.NearMisses) != 1 || got.NearMisses[0].Rule != "admin" ||
		got.NearMisses[0].FirstFailing != `host == "admin.example.com"` || got.Tried != 5 {
		t.Errorf("404: %+v", got)
	}

	// Problems, all at once, with field paths.
	bad := a.do(t, "viewer", "POST", "/api/v1/gateways/public/explain?trace=some",
		map[string]any{"version": "latest", "request": map[string]any{"url": "/a b"}}).must(t, http.StatusBadRequest)
	fields := bad.problemFields(t)
	for _, f := range []string{"version", "request.url", "trace"} {
		if fields[f] == "" {
			t.Errorf("no problem for %s: %v", f, fields)
		}
	}
	for name, tc := range map[string]struct {
		body  string
		want  int
		field string
		text  string
	}{
		"no version":        {`{"request": {"url": "/"}}`, http.StatusBadRequest, "version", "required"},
		"version not there": {`{"version": "v9", "request": {"url": "/"}}`, http.StatusBadRequest, "version", "its versions are v1 to v2"},
		"unknown field":     {`{"version": "live", "request": {"url": "/"}, "gateway": "public"}`, http.StatusBadRequest, "gateway", ""},
		"no request":        {`{"version": "live"}`, http.StatusBadRequest, "request.url", "required"},
	} {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, "viewer", "POST", "/api/v1/gateways/public/explain", tc.body).must(t, tc.want)
			if msg, ok := r.problemFields(t)[tc.field]; !ok || !strings.Contains(msg, tc.text) {
				t.Errorf("problem for %s = %q, want it to say %q: %s", tc.field, msg, tc.text, r.body)
			}
		})
	}
	a.do(t, "viewer", "POST", "/api/v1/gateways/nobody/explain", map[string]any{"version": "draft", "request": map[string]any{"url": "/"}}).
		must(t, http.StatusNotFound)
}

// TestExplainVersionTracePages pages through the full trace of the live
// version; a publish moves live, and the cursor of the old live version
// is refused rather than continuing with other rules.
func TestExplainVersionTracePages(t *testing.T) {
	a, _ := explainAPI(t)
	body := map[string]any{"version": "live", "request": map[string]any{"url": "http://other.example.com/nothing"}}
	first := decodeExplained(t, a.do(t, "viewer", "POST", "/api/v1/gateways/public/explain?trace=full&limit=2", body).must(t, http.StatusOK))
	if len(first.Trace) != 2 || first.TraceNext == "" {
		t.Fatalf("first page: %d rules, next %q", len(first.Trace), first.TraceNext)
	}
	rest := decodeExplained(t, a.do(t, "viewer", "POST", "/api/v1/gateways/public/explain?limit=10&cursor="+first.TraceNext, body).must(t, http.StatusOK))
	if len(first.Trace)+len(rest.Trace) != 5 || rest.TraceNext != "" {
		t.Errorf("pages of %d and %d rules (next %q), want 5 in all", len(first.Trace), len(rest.Trace), rest.TraceNext)
	}
	// The same cursor with another version is another request.
	other := map[string]any{"version": "v2", "request": body["request"]}
	if f := a.do(t, "viewer", "POST", "/api/v1/gateways/public/explain?cursor="+first.TraceNext, other).
		must(t, http.StatusBadRequest).problemFields(t); f["cursor"] == "" {
		t.Errorf("cursor with another version: %v", f)
	}
	if _, err := a.store.Publish(context.Background(), "test", "public", "v3"); err != nil {
		t.Fatal(err)
	}
	r := a.do(t, "viewer", "POST", "/api/v1/gateways/public/explain?cursor="+first.TraceNext, body).must(t, http.StatusConflict)
	if !strings.Contains(string(r.body), "live version changed") {
		t.Errorf("stale cursor: %s", r.body)
	}
}

// TestExplainLogEntry explains logged requests against the version that
// served each, and says when it cannot be sure.
func TestExplainLogEntry(t *testing.T) {
	a, report := explainAPI(t)
	report("public", "1",
		hostEntry("", 404, "shop2.example.com", "/admin/users"),
		hostEntry("rule/beta/0", 200, "other.example.com", "/beta/x"),
		hostEntry("rule/api/0", 200, "other.example.com", "/api/cart?id=1"))
	report("public", "2", hostEntry("rule/new/0", 200, "other.example.com", "/new"))
	report("public", "", hostEntry("rule/api/0", 200, "other.example.com", "/api/x"))
	report("public", "7", hostEntry("rule/api/0", 200, "other.example.com", "/api/y"))
	report("sandbox/public", "sandbox-1a2b", hostEntry("", 404, "other.example.com", "/api/z"))
	rewritten := hostEntry("rule/api/0", 200, "other.example.com", "/cart")
	rewritten.Request.OriginalPath = "/api/cart"
	report("public", "1", rewritten)

	ids := map[string]int64{}
	for _, q := range []string{"", "?sandbox=true"} {
		r := a.do(t, "viewer", "GET", "/api/v1/gateways/public/logs"+q, nil).must(t, http.StatusOK)
		var page struct{ Items []accesslog.Entry }
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			ids[e.Version+" "+e.Path] = e.ID
		}
	}
	tests := map[string]struct {
		entry, query      string
		rule, version     string
		agrees            bool
		notes             []string // each a part of one note
		nearMiss, winCond string
	}{
		"404 with a near miss": {entry: "1 /admin/users", version: "v1", agrees: true, nearMiss: "admin"},
		"header not kept": {entry: "1 /beta/x", version: "v1", agrees: false,
			notes: []string{`served this request with rule "beta", but the rules of v1 pick no rule`, "keeps no request headers"}},
		"served by v1":          {entry: "1 /api/cart?id=1", rule: "api", version: "v1", agrees: true, winCond: `path.prefix("/api")`},
		"served by v2":          {entry: "2 /new", rule: "new", version: "v2", agrees: true},
		"rewritten":             {entry: "1 /cart", rule: "api", version: "v1", agrees: true},
		"version unknown":       {entry: " /api/x", rule: "api", version: "v2", agrees: true, notes: []string{`version ("") is not a published version`}},
		"version not published": {entry: "7 /api/y", rule: "api", version: "v2", agrees: true, notes: []string{"v7 is not among the gateway's published versions"}},
		"sandbox":               {entry: "sandbox-1a2b /api/z", query: "?sandbox=true", version: "draft", agrees: true, notes: []string{"sandbox serves the draft"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id, ok := ids[tc.entry]
			if !ok {
				t.Fatalf("no entry %q among %v", tc.entry, ids)
			}
			got := decodeExplained(t, a.do(t, "viewer", "GET", fmt.Sprintf("/api/v1/gateways/public/logs/%d/explain%s", id, tc.query), nil).
				must(t, http.StatusOK))
			if got.rule() != tc.rule || got.Version != tc.version || got.Agrees != tc.agrees || got.Entry == nil || got.Entry.ID != id {
				t.Errorf("rule %q of %s, agrees %v; want %q of %s, agrees %v", got.rule(), got.Version, got.Agrees, tc.rule, tc.version, tc.agrees)
			}
			joined := strings.Join(got.Notes, "\n")
			for _, n := range tc.notes {
				if !strings.Contains(joined, n) {
					t.Errorf("notes %q do not say %q", got.Notes, n)
				}
			}
			if len(tc.notes) == 0 && len(got.Notes) != 0 {
				t.Errorf("unexpected notes %q", got.Notes)
			}
			if tc.nearMiss != "" && (len(got.NearMisses) == 0 || got.NearMisses[0].Rule != tc.nearMiss) {
				t.Errorf("near misses %+v, want %s", got.NearMisses, tc.nearMiss)
			}
			if tc.winCond != "" && (got.Winner == nil || len(got.Winner.Conditions) != 1 ||
				got.Winner.Conditions[0].Expr != tc.winCond || !got.Winner.Conditions[0].Result) {
				t.Errorf("winner %+v, want the condition %s true", got.Winner, tc.winCond)
			}
		})
	}

	// The full trace pages too, bound to its entry.
	first := decodeExplained(t, a.do(t, "viewer", "GET", fmt.Sprintf("/api/v1/gateways/public/logs/%d/explain?trace=full&limit=1", ids["1 /admin/users"]), nil).
		must(t, http.StatusOK))
	if len(first.Trace) != 1 || first.TraceNext == "" {
		t.Fatalf("trace page: %d rules, next %q", len(first.Trace), first.TraceNext)
	}
	a.do(t, "viewer", "GET", fmt.Sprintf("/api/v1/gateways/public/logs/%d/explain?cursor=%s", ids["1 /admin/users"], first.TraceNext), nil).must(t, http.StatusOK)
	a.do(t, "viewer", "GET", fmt.Sprintf("/api/v1/gateways/public/logs/%d/explain?cursor=%s", ids["2 /new"], first.TraceNext), nil).must(t, http.StatusBadRequest)

	for name, tc := range map[string]struct {
		path string
		want int
	}{
		"no such entry":            {"/api/v1/gateways/public/logs/999999/explain", http.StatusNotFound},
		"entry of another gateway": {fmt.Sprintf("/api/v1/gateways/public/logs/%d/explain", ids["sandbox-1a2b /api/z"]), http.StatusNotFound},
		"id not a number":          {"/api/v1/gateways/public/logs/abc/explain", http.StatusBadRequest},
		"unknown parameter":        {fmt.Sprintf("/api/v1/gateways/public/logs/%d/explain?colour=red", ids["2 /new"]), http.StatusBadRequest},
		"no such gateway":          {fmt.Sprintf("/api/v1/gateways/nobody/logs/%d/explain", ids["2 /new"]), http.StatusNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			a.do(t, "viewer", "GET", tc.path, nil).must(t, tc.want)
		})
	}
}

// TestTrafficSeries reads one rule's traffic step by step from the
// rollups of logged requests.
func TestTrafficSeries(t *testing.T) {
	a, report := explainAPI(t)
	report("public", "2", hostEntry("rule/new/0", 200, "other.example.com", "/new"),
		hostEntry("rule/new/0", 503, "other.example.com", "/new"), hostEntry("rule/new/0", 200, "other.example.com", "/new"),
		hostEntry("", 404, "other.example.com", "/none"))
	var s TrafficSeries
	r := a.do(t, "viewer", "GET", "/api/v1/gateways/public/traffic/series?rule=new&window=10m&step=1m", nil).must(t, http.StatusOK)
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatal(err)
	}
	var requests, errs uint64
	for i, p := range s.Points {
		requests += p.Requests
		errs += p.Errors
		if i > 0 && p.Time.Sub(s.Points[i-1].Time) != time.Minute {
			t.Errorf("point %d at %v after %v", i, p.Time, s.Points[i-1].Time)
		}
		if p.Requests > 0 && (p.P99Ms < 3 || p.ErrorRate <= 0.3 || p.ErrorRate >= 0.34) {
			t.Errorf("point %+v: want p99 >= 3ms and an error rate of 1/3", p)
		}
	}
	if len(s.Points) < 10 || len(s.Points) > 11 || requests != 3 || errs != 1 || s.Step != "1m0s" {
		t.Errorf("series: %d points, %d requests, %d errors, step %s", len(s.Points), requests, errs, s.Step)
	}
	// The requests no rule matched are a series too.
	r = a.do(t, "viewer", "GET", "/api/v1/gateways/public/traffic/series?rule=&window=1h", nil).must(t, http.StatusOK)
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Step != "1m0s" || len(s.Points) < 60 {
		t.Errorf("default step for 1h: %s, %d points", s.Step, len(s.Points))
	}
	bad := a.do(t, "viewer", "GET", "/api/v1/gateways/public/traffic/series?window=720h&step=1m&x=1", nil).must(t, http.StatusBadRequest)
	fields := bad.problemFields(t)
	for _, f := range []string{"rule", "step", "x"} {
		if fields[f] == "" {
			t.Errorf("no problem for %s: %v", f, fields)
		}
	}
	a.do(t, "viewer", "GET", "/api/v1/gateways/nobody/traffic/series?rule=x", nil).must(t, http.StatusNotFound)
}
