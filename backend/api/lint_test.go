package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/routedeck/routedeck/backend/publishgate"
)

// recordingPublisher publishes nothing: it answers with the next version,
// so the API's publish response can be tested without an ADS server.
type recordingPublisher struct{ version int64 }

func (p *recordingPublisher) Publish(context.Context, string, string, PublishOptions) (PublishResult, error) {
	p.version++
	return PublishResult{Version: p.version}, nil
}

func (p *recordingPublisher) Rollback(context.Context, string, string, int64) (int64, error) {
	return 0, nil
}

func (p *recordingPublisher) Proxies(context.Context, string) ([]Proxy, error) { return nil, nil }

func (p *recordingPublisher) CheckGate(context.Context, string) (publishgate.Check, error) {
	return publishgate.Check{}, nil
}

// lintRoute is a route body for the API forwarding to upstream web.
func lintRoute(name string, priority int, when any, disabled bool) map[string]any {
	return map[string]any{"name": name, "gateway": "public", "priority": priority, "when": when, "disabled": disabled,
		"then": map[string]any{"forward": []any{map[string]any{"upstream": "web"}}}}
}

func TestGatewayLint(t *testing.T) {
	tests := map[string]struct {
		gateway string
		routes  []map[string]any // added to the seeded home and api
		status  int
		want    []lintFinding
	}{
		"seed is clean": {gateway: "public", status: http.StatusOK, want: []lintFinding{}},
		"same condition as a higher priority rule": {
			gateway: "public",
			routes:  []map[string]any{lintRoute("api-copy", 5, map[string]any{"field": "path", "op": "prefix", "value": "/api"}, false)},
			status:  http.StatusOK,
			want: []lintFinding{{Rule: "api-copy", Kind: "shadowed", Severity: "error", ShadowedBy: "api",
				Message: `never matches: rule "api" before it has the same condition`}},
		},
		"catch-all shadows everything after it": {
			gateway: "public",
			routes:  []map[string]any{lintRoute("everything", 20, "", false)},
			status:  http.StatusOK,
			want: []lintFinding{
				{Rule: "api", Kind: "shadowed", Severity: "error", ShadowedBy: "everything", Message: `never matches: rule "everything" before it has no condition and takes every request`},
				{Rule: "home", Kind: "shadowed", Severity: "error", ShadowedBy: "everything", Message: `never matches: rule "everything" before it has no condition and takes every request`},
			},
		},
		"a disabled duplicate is not a finding": {
			gateway: "public",
			routes:  []map[string]any{lintRoute("api-off", 5, map[string]any{"field": "path", "op": "prefix", "value": "/api"}, true)},
			status:  http.StatusOK,
			want:    []lintFinding{},
		},
		"unknown gateway": {gateway: "nope", status: http.StatusNotFound},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := newTestAPI(t)
			a.seed(t)
			// Linted once before the routes are added: the findings are
			// cached per draft generation, and a write must invalidate them.
			a.do(t, "viewer", "GET", "/api/v1/gateways/"+tc.gateway+"/lint", nil).must(t, tc.status)
			for _, r := range tc.routes {
				a.do(t, "editor", "POST", "/api/v1/routes", r).must(t, http.StatusCreated)
			}
			r := a.do(t, "viewer", "GET", "/api/v1/gateways/"+tc.gateway+"/lint", nil).must(t, tc.status)
			if tc.status != http.StatusOK {
				return
			}
			var got struct {
				Items []lintFinding `json:"items"`
			}
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("decode: %v\n%s", err, r.body)
			}
			if got.Items == nil {
				t.Fatalf("items is null, want a list: %s", r.body)
			}
			if diff := cmp.Diff(tc.want, got.Items, ignoreWitness); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, f := range got.Items {
				if f.Witness == nil || f.Witness.TakenBy != f.ShadowedBy {
					t.Errorf("%s: witness %+v", f.Rule, f.Witness)
				}
			}
		})
	}
}

// ignoreWitness compares findings without their witness requests (the
// rules package checks those against the evaluator).
var ignoreWitness = cmpopts.IgnoreFields(lintFinding{}, "Witness")

func rateLimitOnly(notes []lintNote) []lintNote {
	var out []lintNote
	for _, n := range notes {
		if n.Kind == "rate-limit" {
			out = append(out, n)
		}
	}
	return out
}

// TestLintWitnessesAndFixes: the lint answer carries the witness request
// and the rule that takes it, for the dashboard to show, notes partial
// overlaps, and offers the fix of a rewrite that doubles a slash.
func TestLintWitnessesAndFixes(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	canary := lintRoute("canary", 60, `host == "shop.example.com" && path.prefix("/app")`, false)
	canary["then"].(map[string]any)["rewrite"] = map[string]any{"pathPrefix": "/canary/"}
	a.do(t, "editor", "POST", "/api/v1/routes", canary).must(t, http.StatusCreated)
	a.do(t, "editor", "POST", "/api/v1/routes", lintRoute("posts", 70, `method == "POST"`, false)).must(t, http.StatusCreated)
	body := a.do(t, "viewer", "GET", "/api/v1/gateways/public/lint", nil).must(t, http.StatusOK).json(t)

	items, _ := body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("items %v", items)
	}
	f := items[0].(map[string]any)
	w, _ := f["witness"].(map[string]any)
	fix, _ := f["fix"].(map[string]any)
	if f["rule"] != "canary" || f["kind"] != "rewrite-slash" || f["severity"] != "warning" ||
		w["method"] != "GET" || w["url"] != "http://shop.example.com/app/x" ||
		fix["field"] != "then.rewrite.pathPrefix" || fix["value"] != "/canary" {
		t.Errorf("rewrite finding %v", f)
	}
	var overlap map[string]any
	for _, n := range body["notes"].([]any) {
		if n := n.(map[string]any); n["kind"] == "overlap" && n["rule"] == "canary" {
			overlap = n
		}
	}
	w, _ = overlap["witness"].(map[string]any)
	if overlap == nil || overlap["shadowedBy"] != "posts" || w["method"] != "POST" || w["takenBy"] != "posts" {
		t.Errorf("no overlap note of canary with posts: %v", body["notes"])
	}
}

func TestPublishWarnings(t *testing.T) {
	tests := map[string]struct {
		routes []map[string]any
		want   []lintFinding
	}{
		"clean draft": {want: []lintFinding{}},
		"shadowed rule": {
			routes: []map[string]any{lintRoute("home-again", 0, `host == "shop.example.com"`, false)},
			want: []lintFinding{{Rule: "home-again", Kind: "shadowed", Severity: "error", ShadowedBy: "home",
				Message: `never matches: rule "home" before it has the same condition`}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := newTestAPI(t, func(d *Deps) { d.Publisher = &recordingPublisher{} })
			a.seed(t)
			for _, r := range tc.routes {
				a.do(t, "editor", "POST", "/api/v1/routes", r).must(t, http.StatusCreated)
			}
			r := a.do(t, "editor", "POST", "/api/v1/gateways/public/publish", nil).must(t, http.StatusOK)
			var got publishResponse
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("decode: %v\n%s", err, r.body)
			}
			if got.Version != 1 {
				t.Errorf("version %d, want 1", got.Version)
			}
			if diff := cmp.Diff(tc.want, got.Warnings, ignoreWitness); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGatewayLintNotes: a rate-limited rule that Envoy counts in several
// buckets is noted, in lint and in the publish answer; one in a single
// route is not.
func TestGatewayLintNotes(t *testing.T) {
	a := newTestAPI(t, func(d *Deps) { d.Publisher = &recordingPublisher{} })
	a.seed(t)
	limited := func(name string, when any) map[string]any {
		r := lintRoute(name, 50, when, false)
		r["then"].(map[string]any)["rateLimit"] = map[string]any{"requests": 10, "per": "1s"}
		return r
	}
	a.do(t, "editor", "POST", "/api/v1/routes", limited("everywhere", map[string]any{"field": "path", "op": "prefix", "value": "/x"})).must(t, http.StatusCreated)
	a.do(t, "editor", "POST", "/api/v1/routes", limited("one-host", `host == "shop.example.com" && path.prefix("/y")`)).must(t, http.StatusCreated)

	var lint lintReport
	if err := json.Unmarshal(a.do(t, "viewer", "GET", "/api/v1/gateways/public/lint", nil).must(t, http.StatusOK).body, &lint); err != nil {
		t.Fatal(err)
	}
	// No host: the rule goes into shop.example.com's virtual host and the
	// catch-all, two buckets of 10.
	want := []lintNote{{Rule: "everywhere", Kind: "rate-limit", Message: "rate limit counted per Envoy route: this rule becomes 2 routes (one per virtual host it can match, times its any/not alternatives), each with its own bucket, so up to 20 requests per 1s pass, not 10"}}
	if diff := cmp.Diff(want, rateLimitOnly(lint.Notes)); diff != "" {
		t.Errorf("lint notes (-want +got):\n%s", diff)
	}
	var pub publishResponse
	if err := json.Unmarshal(a.do(t, "editor", "POST", "/api/v1/gateways/public/publish", nil).must(t, http.StatusOK).body, &pub); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, rateLimitOnly(pub.Notes)); diff != "" {
		t.Errorf("publish notes (-want +got):\n%s", diff)
	}
}

// TestPublishLintPending: a gateway over the bound is not linted for the
// publish answer, which says so; once a report is kept (GET .../lint) the
// answer carries it.
func TestPublishLintPending(t *testing.T) {
	old := publishLintRoutes
	publishLintRoutes = 0
	t.Cleanup(func() { publishLintRoutes = old })
	a := newTestAPI(t, func(d *Deps) { d.Publisher = &recordingPublisher{} })
	a.seed(t)
	a.do(t, "editor", "POST", "/api/v1/routes", lintRoute("home-again", 0, `host == "shop.example.com"`, false)).must(t, http.StatusCreated)
	publish := func() publishResponse {
		t.Helper()
		var got publishResponse
		if err := json.Unmarshal(a.do(t, "editor", "POST", "/api/v1/gateways/public/publish", nil).must(t, http.StatusOK).body, &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := publish(); !got.LintPending || len(got.Warnings) != 0 || got.Warnings == nil {
		t.Fatalf("publish of a gateway over the bound: %+v, want lintPending and no warnings", got)
	}
	a.do(t, "viewer", "GET", "/api/v1/gateways/public/lint", nil).must(t, http.StatusOK)
	if got := publish(); got.LintPending || len(got.Warnings) != 1 || got.Warnings[0].Rule != "home-again" {
		t.Fatalf("publish with a kept report: %+v, want its warning", got)
	}
}
