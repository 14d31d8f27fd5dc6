package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/store"
)

// TestSandboxRequestEndToEnd starts the whole server with the demo
// workspace and sends a test request through the API: the canary rule sends
// it to web-v2 with the rewritten path, and the reply shows the response,
// the mock upstream's echo, the rule and both traces.
func TestSandboxRequestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc := New(Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	tok, hash, _ := auth.NewToken()
	if err := svc.Store().CreateToken(ctx, "test", &store.Token{Name: "t", Role: auth.RoleEditor, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	body := `{"gateway":"public","request":{"method":"GET","url":"http://shop.example.com/products/42?color=red","headers":{"x-canary":"1"}}}`
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+svc.Addr().String()+"/api/v1/sandbox/requests", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	var got struct {
		Response struct {
			Status  int                 `json:"status"`
			Headers map[string][]string `json:"headers"`
			Body    string              `json:"body"`
		} `json:"response"`
		Upstream *string `json:"upstream"`
		Endpoint string  `json:"endpoint"`
		Received *struct {
			Method  string              `json:"method"`
			Path    string              `json:"path"`
			Headers map[string][]string `json:"headers"`
		} `json:"received"`
		Rule  *string `json:"rule"`
		Trace []struct {
			Rule       string `json:"rule"`
			Matched    bool   `json:"matched"`
			Conditions []struct {
				Expr   string `json:"expr"`
				Result bool   `json:"result"`
			} `json:"conditions"`
		} `json:"trace"`
		Envoy struct {
			Decision struct {
				Route string `json:"route"`
				Trace []struct {
					Route   string `json:"route"`
					Matched bool   `json:"matched"`
				} `json:"trace"`
			} `json:"decision"`
			Cluster string `json:"cluster"`
		} `json:"envoy"`
		RuleMismatch any     `json:"ruleMismatch"`
		DurationMs   float64 `json:"durationMs"`
		Curl         string  `json:"curl"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if got.Response.Status != 200 || got.Response.Headers["x-routedeck-upstream"][0] != "web-v2" {
		t.Errorf("response %+v", got.Response)
	}
	if got.Upstream == nil || *got.Upstream != "web-v2" || got.Endpoint == "" {
		t.Errorf("upstream %v endpoint %q", got.Upstream, got.Endpoint)
	}
	if got.Received == nil || got.Received.Path != "/v2/products/42?color=red" || got.Received.Method != "GET" ||
		got.Received.Headers["x-canary-route"][0] != "true" || got.Received.Headers["host"][0] != "shop.example.com" {
		t.Errorf("received %+v", got.Received)
	}
	if got.Rule == nil || *got.Rule != "web-canary" || got.RuleMismatch != nil {
		t.Errorf("rule %v, mismatch %v", got.Rule, got.RuleMismatch)
	}
	// The evaluator tried the higher-priority rules first and matched the
	// canary with every condition true.
	if n := len(got.Trace); n == 0 || got.Trace[n-1].Rule != "web-canary" || !got.Trace[n-1].Matched {
		t.Fatalf("evaluator trace %+v", got.Trace)
	}
	for _, c := range got.Trace[len(got.Trace)-1].Conditions {
		if !c.Result {
			t.Errorf("canary condition %q false", c.Expr)
		}
	}
	if !strings.HasPrefix(got.Envoy.Decision.Route, "rule/web-canary/") || got.Envoy.Cluster != "web-v2" || len(got.Envoy.Decision.Trace) == 0 {
		t.Errorf("envoy side %+v", got.Envoy)
	}
	if got.DurationMs <= 0 || !strings.Contains(got.Curl, "'x-canary: 1'") && !strings.Contains(got.Curl, "'X-Canary: 1'") {
		t.Errorf("duration %v curl %q", got.DurationMs, got.Curl)
	}
}
