package api

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestEvaluate(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	tests := map[string]struct {
		request   map[string]any
		wantRule  any // string, or nil for no match
		wantTrace int // rules tried
	}{
		"api by priority": {map[string]any{"method": "GET", "url": "http://shop.example.com/api/cart"}, "api", 1},
		"home by host":    {map[string]any{"url": "http://shop.example.com/"}, "home", 2},
		"host header":     {map[string]any{"url": "/", "headers": map[string]any{"host": "shop.example.com"}}, "home", 2},
		"nothing":         {map[string]any{"url": "http://other.example.com/"}, nil, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, "viewer", "POST", "/api/v1/evaluate", map[string]any{"gateway": "public", "request": tc.request}).must(t, http.StatusOK)
			var res struct {
				Rule  any `json:"rule"`
				Trace []struct {
					Rule       string `json:"rule"`
					Matched    bool   `json:"matched"`
					Conditions []struct {
						Expr   string `json:"expr"`
						Result bool   `json:"result"`
					} `json:"conditions"`
				} `json:"trace"`
			}
			if err := json.Unmarshal(r.body, &res); err != nil {
				t.Fatal(err)
			}
			if res.Rule != tc.wantRule || len(res.Trace) != tc.wantTrace {
				t.Errorf("rule %v, %d traced; want %v, %d: %s", res.Rule, len(res.Trace), tc.wantRule, tc.wantTrace, r.body)
			}
			if len(res.Trace) > 0 && len(res.Trace[0].Conditions) == 0 {
				t.Errorf("trace has no conditions: %s", r.body)
			}
		})
	}
	bad := a.do(t, "viewer", "POST", "/api/v1/evaluate", map[string]any{"request": map[string]any{}}).must(t, http.StatusBadRequest)
	if f := bad.problemFields(t); len(f) != 2 {
		t.Errorf("want gateway and request.url problems: %v", f)
	}
	a.do(t, "viewer", "POST", "/api/v1/evaluate", map[string]any{"gateway": "nope", "request": map[string]any{"url": "/"}}).must(t, http.StatusNotFound)
}
