package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// evalReply decodes POST /evaluate.
type evalReply struct {
	Rule     any    `json:"rule"`
	Upstream string `json:"upstream"`
	Winner   *struct {
		Rule       string `json:"rule"`
		Matched    bool   `json:"matched"`
		Conditions []struct {
			Expr   string `json:"expr"`
			Result bool   `json:"result"`
		} `json:"conditions"`
	} `json:"winner"`
	Tried  int `json:"tried"`
	Before []struct {
		Rule         string `json:"rule"`
		FirstFailing string `json:"firstFailing"`
	} `json:"before"`
	NearMisses []struct {
		Rule         string `json:"rule"`
		FirstFailing string `json:"firstFailing"`
	} `json:"nearMisses"`
	Trace []struct {
		Rule    string `json:"rule"`
		Matched bool   `json:"matched"`
	} `json:"trace"`
	TraceNext string `json:"traceNext"`
}

func (a *testAPI) evaluate(t *testing.T, query string, request map[string]any) evalReply {
	t.Helper()
	r := a.do(t, "viewer", "POST", "/api/v1/evaluate"+query, map[string]any{"gateway": "public", "request": request}).must(t, http.StatusOK)
	var res evalReply
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEvaluate(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	tests := map[string]struct {
		request  map[string]any
		wantRule any // string, or nil for no match
		tried    int // rules tried before the winner
	}{
		"api by priority": {map[string]any{"method": "GET", "url": "http://shop.example.com/api/cart"}, "api", 0},
		"home by host":    {map[string]any{"url": "http://shop.example.com/"}, "home", 1},
		"host header":     {map[string]any{"url": "/", "headers": map[string]any{"host": "shop.example.com"}}, "home", 1},
		"nothing":         {map[string]any{"url": "http://other.example.com/"}, nil, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := a.evaluate(t, "", tc.request)
			if res.Rule != tc.wantRule || res.Tried != tc.tried || len(res.Before) != tc.tried {
				t.Errorf("rule %v, %d tried, %d listed; want %v, %d", res.Rule, res.Tried, len(res.Before), tc.wantRule, tc.tried)
			}
			switch {
			case tc.wantRule == nil && res.Winner != nil:
				t.Errorf("winner %+v without a match", res.Winner)
			case tc.wantRule != nil && (res.Winner == nil || res.Winner.Rule != tc.wantRule || len(res.Winner.Conditions) == 0):
				t.Errorf("winner %+v", res.Winner)
			}
			if res.Trace != nil {
				t.Errorf("full trace without asking for it")
			}
		})
	}
	bad := a.do(t, "viewer", "POST", "/api/v1/evaluate", map[string]any{"request": map[string]any{}}).must(t, http.StatusBadRequest)
	if f := bad.problemFields(t); len(f) != 2 {
		t.Errorf("want gateway and request.url problems: %v", f)
	}
	bad = a.do(t, "viewer", "POST", "/api/v1/evaluate", map[string]any{"gateway": "public",
		"request": map[string]any{"url": "/", "headers": map[string]any{"x bad": "1"}}}).must(t, http.StatusBadRequest)
	if f := bad.problemFields(t); !strings.Contains(f["request.headers[0].name"], "space") {
		t.Errorf("want the header name refused: %v", f)
	}
	a.do(t, "viewer", "POST", "/api/v1/evaluate", map[string]any{"gateway": "nope", "request": map[string]any{"url": "/"}}).must(t, http.StatusNotFound)
}

// TestEvaluateLargeGateway: the summary stays small however many rules
// were tried; the full trace comes in pages that add up to every rule
// tried; a cursor outlives neither a draft change nor a change of request.
func TestEvaluateLargeGateway(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	var routes []any
	for i := range 300 {
		routes = append(routes, map[string]any{"name": fmt.Sprintf("r%03d", i), "gateway": "public", "priority": 100,
			"when": fmt.Sprintf(`host == "h%d.example.com" && path.prefix("/api")`, i),
			"then": map[string]any{"forward": []any{map[string]any{"upstream": "web"}}}})
	}
	a.do(t, "editor", "POST", "/api/v1/apply", map[string]any{"routes": routes}).must(t, http.StatusOK)

	req := map[string]any{"url": "http://shop.example.com/api/cart"}
	r := a.do(t, "viewer", "POST", "/api/v1/evaluate", map[string]any{"gateway": "public", "request": req}).must(t, http.StatusOK)
	if len(r.body) > 20_000 {
		t.Errorf("summary of %d bytes", len(r.body))
	}
	sum := a.evaluate(t, "", req)
	if sum.Rule != "api" || sum.Tried != 300 || len(sum.Before) != evalBefore || len(sum.NearMisses) != evalNearMisses {
		t.Fatalf("rule %v, tried %d, %d before, %d near misses", sum.Rule, sum.Tried, len(sum.Before), len(sum.NearMisses))
	}
	if sum.NearMisses[0].FirstFailing != `host == "h0.example.com"` {
		t.Errorf("near miss %+v", sum.NearMisses[0])
	}

	var rulesSeen []string
	cursor, pages := "", 0
	for {
		q := "?trace=full&limit=128"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		page := a.evaluate(t, q, req)
		pages++
		for _, rt := range page.Trace {
			rulesSeen = append(rulesSeen, rt.Rule)
		}
		if page.TraceNext == "" {
			break
		}
		cursor = page.TraceNext
	}
	if pages != 3 || len(rulesSeen) != 301 || rulesSeen[0] != "r000" || rulesSeen[300] != "api" {
		t.Fatalf("%d pages, %d rules, first %q, last %q", pages, len(rulesSeen), rulesSeen[0], rulesSeen[len(rulesSeen)-1])
	}

	first := a.evaluate(t, "?trace=full&limit=10", req)
	other := a.do(t, "viewer", "POST", "/api/v1/evaluate?cursor="+first.TraceNext,
		map[string]any{"gateway": "public", "request": map[string]any{"url": "/other"}}).must(t, http.StatusBadRequest)
	if f := other.problemFields(t); f["cursor"] == "" {
		t.Errorf("cursor of another request: %v", f)
	}
	a.do(t, "viewer", "POST", "/api/v1/evaluate?cursor=garbage", map[string]any{"gateway": "public", "request": req}).must(t, http.StatusBadRequest)
	a.do(t, "viewer", "POST", "/api/v1/evaluate?trace=some", map[string]any{"gateway": "public", "request": req}).must(t, http.StatusBadRequest)
	a.do(t, "viewer", "POST", "/api/v1/evaluate?trace=full&limit=100000", map[string]any{"gateway": "public", "request": req}).must(t, http.StatusBadRequest)

	// A draft change: the cursor is stale, and the next evaluation sees
	// the change (the compiled rules are per draft generation).
	a.do(t, "editor", "DELETE", "/api/v1/routes/api", nil).must(t, http.StatusNoContent)
	a.do(t, "viewer", "POST", "/api/v1/evaluate?cursor="+first.TraceNext, map[string]any{"gateway": "public", "request": req}).must(t, http.StatusConflict)
	if after := a.evaluate(t, "", req); after.Rule != "home" {
		t.Fatalf("after deleting api the rule is %v", after.Rule)
	}
}
