package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
)

// TestSandboxTargetsLive publishes the demo gateway, then edits the draft
// so a canary request goes elsewhere: through the API the same request
// sent to the draft, to "live" and to "v1" reaches the rule each of them
// has, each through a simulated Envoy fed that version's translation.
func TestSandboxTargetsLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, call := apiService(t, ctx, auth.RoleEditor, auth.RoleViewer)
	if code, body := call("editor", "POST", "/gateways/public/publish", ""); code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	// The draft drops the canary rule and sends /api/ elsewhere.
	if code, body := call("editor", "DELETE", "/routes/web-canary", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	code, body := call("editor", "GET", "/routes/shop-api", "")
	if code != 200 {
		t.Fatalf("get: %d %s", code, body)
	}
	var api map[string]any
	if err := json.Unmarshal([]byte(body), &api); err != nil {
		t.Fatal(err)
	}
	api["then"].(map[string]any)["forward"] = []any{map[string]any{"upstream": "web-v2"}}
	b, _ := json.Marshal(api)
	if code, body := call("editor", "PUT", "/routes/shop-api", string(b)); code != 200 {
		t.Fatalf("put: %d %s", code, body)
	}

	type result struct {
		Version  int64   `json:"version"`
		Rule     *string `json:"rule"`
		Upstream *string `json:"upstream"`
		Received *struct {
			Path string `json:"path"`
		} `json:"received"`
		RuleMismatch any `json:"ruleMismatch"`
		Envoy        struct {
			Cluster string `json:"cluster"`
		} `json:"envoy"`
	}
	send := func(target, url, headers string) result {
		t.Helper()
		req := `{"gateway":"public",` + target + `"request":{"url":"` + url + `","headers":{` + headers + `}}}`
		code, body := call("viewer", "POST", "/sandbox/requests", req)
		if code != 200 {
			t.Fatalf("%s: %d %s", req, code, body)
		}
		var r result
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		if r.Rule == nil || r.RuleMismatch != nil || r.Received == nil || r.Upstream == nil || r.Envoy.Cluster != *r.Upstream {
			t.Fatalf("%s: %s", req, body)
		}
		return r
	}
	canary := `"x-canary":"1"`
	tests := []struct {
		target, url, headers string
		version              int64
		rule, upstream, path string
	}{
		{``, "http://shop.example.com/cart", canary, 0, "web", "", "/cart"},
		{`"target":"draft",`, "http://shop.example.com/api/orders", "", 0, "shop-api", "web-v2", "/orders"},
		{`"target":"live",`, "http://shop.example.com/cart", canary, 1, "web-canary", "web-v2", "/v2/cart"},
		{`"target":"live",`, "http://shop.example.com/api/orders", "", 1, "shop-api", "api", "/orders"},
		{`"target":"v1",`, "http://shop.example.com/cart", canary, 1, "web-canary", "web-v2", "/v2/cart"},
		// The draft again, after the versions ran beside it.
		{`"target":"draft",`, "http://shop.example.com/cart", canary, 0, "web", "", "/cart"},
	}
	for _, tc := range tests {
		r := send(tc.target, tc.url, tc.headers)
		if r.Version != tc.version || *r.Rule != tc.rule || tc.upstream != "" && *r.Upstream != tc.upstream || r.Received.Path != tc.path {
			t.Errorf("%s%s: version %d rule %s upstream %s path %s; want %d %s %s %s", tc.target, tc.url,
				r.Version, *r.Rule, *r.Upstream, r.Received.Path, tc.version, tc.rule, tc.upstream, tc.path)
		}
	}

	for target, want := range map[string]string{
		`"v2"`: "has no published version 2", `"latest"`: "want live, draft or a published version",
	} {
		code, body := call("viewer", "POST", "/sandbox/requests", `{"gateway":"public","target":`+target+`,"request":{"url":"/"}}`)
		if code/100 != 4 || !strings.Contains(body, want) {
			t.Errorf("target %s: %d %s", target, code, body)
		}
	}
}
