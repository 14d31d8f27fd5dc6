package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
)

// TestSandboxRequestsReachTheRequestLog runs the whole service: a request
// sent through the gateway's sandbox is served by the simulated Envoy,
// which reports it over the access log service on the ADS port (mutual
// TLS with its sandbox identity); it shows in the gateway's sandbox
// request log with its rule and version, and in /metrics.
func TestSandboxRequestsReachTheRequestLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleEditor, auth.RoleViewer)
	if _, err := os.Stat(filepath.Join(svc.cfg.DataDir, AccessLogFile)); err != nil {
		t.Fatalf("request log database: %v", err)
	}
	code, b := call(auth.RoleEditor, "POST", "/sandbox/requests", `{"gateway": "public", "request": {"url": "http://shop.example.com/api/orders"}}`)
	if code != 200 {
		t.Fatalf("sandbox request: %d %s", code, b)
	}
	var page struct {
		Items []struct {
			Rule, Route, Version, Path, OriginalPath, Gateway string
			Status                                            int
		}
	}
	for {
		code, b = call(auth.RoleViewer, "GET", "/gateways/public/logs?sandbox=true", "")
		if code != 200 {
			t.Fatalf("logs: %d %s", code, b)
		}
		if err := json.Unmarshal([]byte(b), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the data plane sends its log every second
	}
	if len(page.Items) != 1 {
		t.Fatalf("sandbox log: %s", b)
	}
	e := page.Items[0]
	if e.Rule != "shop-api" || !strings.HasPrefix(e.Route, "rule/shop-api/") || e.Version == "" ||
		// The demo rule rewrites /api/ to /: Envoy logs the rewritten path.
		e.Path != "/orders" || e.OriginalPath != "/api/orders" ||
		e.Status != 200 || e.Gateway != "sandbox/public" {
		t.Fatalf("entry = %+v", e)
	}
	// The published gateway's own log is apart.
	if code, b = call(auth.RoleViewer, "GET", "/gateways/public/logs", ""); code != 200 || !strings.Contains(b, `"items": []`) {
		t.Fatalf("public log: %d %s", code, b)
	}
	m := scrape(t, ctx, svc.Addr().String(), newToken(t, ctx, svc, auth.RoleViewer))
	if m[`routedeck_accesslog_requests_total{gateway="sandbox/public",rule="shop-api",status_class="2xx"}`] != 1 ||
		m["routedeck_als_entries_received_total"] != 1 {
		t.Fatalf("metrics: %v", m)
	}
}
