package session

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routedeck/routedeck/assets"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/internal/pkitest"
)

// memWorkspaces is a draft held in memory, changeable by the test.
type memWorkspaces struct {
	mu sync.Mutex
	ws model.Workspace
}

func (m *memWorkspaces) GatewayWorkspace(_ context.Context, gateway string) (model.Workspace, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.ws.Gateways {
		if g.Name == gateway {
			return m.ws, nil
		}
	}
	return model.Workspace{}, model.Errorf(model.ENOTFOUND, "gateway %q not found", gateway)
}

func (m *memWorkspaces) update(f func(*model.Workspace)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.ws)
}

func demo(t *testing.T) *memWorkspaces {
	t.Helper()
	ws, err := assets.DemoWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	if err := rules.ResolveWorkspace(&ws); err != nil {
		t.Fatal(err)
	}
	return &memWorkspaces{ws: ws}
}

// startADS serves a real ADS server on loopback for the test, with mutual
// TLS as `serve` runs it, and returns the sandbox's credentials for it.
func startADS(t *testing.T) (*xds.Server, string, *pki.SandboxCredentials) {
	t.Helper()
	ca, err := pki.Open(t.TempDir(), pkitest.Sealer{}, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sandboxCA, err := pki.NewSandboxCA()
	if err != nil {
		t.Fatal(err)
	}
	guard := pki.NewGuard(ca, sandboxCA, pki.ServerNames("127.0.0.1", nil))
	srv := xds.New(xds.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TLS: guard.TLSConfig(), Authorize: guard.Authorize})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv, lis.Addr().String(), &pki.SandboxCredentials{CA: sandboxCA, Authority: ca}
}

func newService(t *testing.T, ws Workspaces) *Service {
	t.Helper()
	ads, addr, creds := startADS(t)
	s := New(Options{Store: ws, ADS: ads, ADSAddr: addr, ADSCredentials: creds, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: 20 * time.Second})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSendThroughDemo(t *testing.T) {
	s := newService(t, demo(t))
	tests := map[string]struct {
		req        TestRequest
		status     int
		rule       string
		upstream   string
		path       string
		header     [2]string // a header the upstream must have received
		respHeader [2]string
		body       string
	}{
		"canary": {
			req:    TestRequest{Gateway: "public", Request: &rules.Request{Method: "GET", URL: "http://shop.example.com/cart?x=1", Headers: http.Header{"X-Canary": {"1"}}}},
			status: 200, rule: "web-canary", upstream: "web-v2", path: "/v2/cart?x=1", header: [2]string{"x-canary-route", "true"},
		},
		"api prefix rewrite": {
			req: TestRequest{Gateway: "public", Curl: `curl -X POST -H 'Host: shop.example.com' -d '{"n":1}' http://gw/api/orders`},
			// Envoy's prefix_rewrite replaces the matched "/api" and keeps
			// the slash after it; the reference evaluator agrees.
			status: 200, rule: "shop-api", upstream: "api", path: "/orders",
		},
		"direct response": {
			req:    TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://any.host/healthz"}},
			status: 200, rule: "healthz", body: "{\"status\":\"ok\"}\n",
		},
		"redirect": {
			req:    TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://shop.example.com/catalog/shoes"}},
			status: 301, rule: "old-catalog", respHeader: [2]string{"location", "http://shop.example.com/shop/shoes"},
		},
		"static assets response header": {
			req:    TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://other.example/static/app.js"}},
			status: 200, rule: "static-assets", upstream: "web-v1", path: "/static/app.js", respHeader: [2]string{"cache-control", "public, max-age=3600"},
		},
		"no rule: default response": {
			req:    TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://nobody.example/x"}},
			status: 404, body: "no route for this request\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := s.Do(t.Context(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.RuleMismatch != nil {
				t.Errorf("rule mismatch %+v", res.RuleMismatch)
			}
			if res.Response.Status != tc.status {
				t.Errorf("status %d, want %d (body %q)", res.Response.Status, tc.status, res.Response.Body)
			}
			gotRule := ""
			if res.Rule != nil {
				gotRule = *res.Rule
			}
			if gotRule != tc.rule {
				t.Errorf("rule %q, want %q", gotRule, tc.rule)
			}
			gotUp := ""
			if res.Upstream != nil {
				gotUp = *res.Upstream
			}
			if gotUp != tc.upstream {
				t.Errorf("upstream %q, want %q", gotUp, tc.upstream)
			}
			if tc.upstream != "" {
				if res.Received == nil || res.Received.Path != tc.path {
					t.Fatalf("received %+v, want path %q", res.Received, tc.path)
				}
				if tc.header[0] != "" && strings.Join(res.Received.Headers[tc.header[0]], ",") != tc.header[1] {
					t.Errorf("upstream header %s = %q, want %q", tc.header[0], res.Received.Headers[tc.header[0]], tc.header[1])
				}
				if res.Endpoint == "" || res.Envoy.Endpoint != res.Endpoint {
					t.Errorf("endpoint %q, envoy says %q", res.Endpoint, res.Envoy.Endpoint)
				}
			} else if res.Received != nil {
				t.Errorf("received %+v from no upstream", res.Received)
			}
			if tc.respHeader[0] != "" && strings.Join(res.Response.Headers[tc.respHeader[0]], ",") != tc.respHeader[1] {
				t.Errorf("response header %s = %q, want %q", tc.respHeader[0], res.Response.Headers[tc.respHeader[0]], tc.respHeader[1])
			}
			if tc.body != "" && res.Response.Body != tc.body {
				t.Errorf("body %q, want %q", res.Response.Body, tc.body)
			}
			if len(res.Trace) == 0 || res.Envoy == nil || res.Envoy.Decision == nil || len(res.Envoy.Decision.Trace) == 0 {
				t.Errorf("traces missing: %d evaluator rules, envoy %+v", len(res.Trace), res.Envoy)
			}
			if !strings.HasPrefix(res.Curl, "curl ") {
				t.Errorf("curl = %q", res.Curl)
			}
			if _, err := json.Marshal(res); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRebuildOnDraftChange changes the draft between requests: the sandbox
// follows it and keeps the mock upstreams it can.
func TestRebuildOnDraftChange(t *testing.T) {
	ws := demo(t)
	s := newService(t, ws)
	req := TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://shop.example.com/cart", Headers: http.Header{"X-Canary": {"1"}}}}
	res, err := s.Do(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	before := res.Endpoint
	ws.update(func(w *model.Workspace) {
		for i := range w.Routes {
			if w.Routes[i].Name == "web-canary" {
				w.Routes[i].Then.Rewrite.PathPrefix = "/v3/"
			}
		}
	})
	res, err = s.Do(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received == nil || res.Received.Path != "/v3/cart" {
		t.Fatalf("after the change the upstream received %+v", res.Received)
	}
	if res.Endpoint != before {
		t.Errorf("mock moved from %s to %s across the rebuild", before, res.Endpoint)
	}
}

func TestSendValidation(t *testing.T) {
	s := newService(t, demo(t))
	tests := map[string]struct {
		body string
		want []string
	}{
		"empty":      {`{}`, []string{"gateway", "request"}},
		"both":       {`{"gateway":"public","curl":"curl http://x/","request":{"url":"/"}}`, []string{"curl"}},
		"bad curl":   {`{"gateway":"public","curl":"curl --bogus http://x/"}`, []string{"--bogus"}},
		"unknown gw": {`{"gateway":"nope","request":{"url":"/"}}`, []string{"nope"}},
		"strict":     {`{"gateway":"public","gateway":"public","request":{"URL":"/","method":"GET"},"trace":1}`, []string{"gateway: duplicate key", "request.URL: unknown field (did you mean \"url\"?)", "trace: unknown field"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := s.Send(t.Context(), json.RawMessage(tc.body))
			if err == nil {
				t.Fatal("no error")
			}
			b, _ := json.Marshal(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error()+string(b), w) {
					t.Errorf("error %v (%s) does not mention %q", err, b, w)
				}
			}
		})
	}
}

// TestSendRefusesBadRequests: requests that net/http could not send or a
// gateway would refuse are invalid, each problem at its field, and no
// sandbox starts for them.
func TestSendRefusesBadRequests(t *testing.T) {
	s := newService(t, demo(t))
	bigValue := strings.Repeat("v", 3<<20)
	tests := map[string]struct {
		body  string
		field string
		says  string
	}{
		"CR LF in a value": {`{"gateway":"public","request":{"url":"/","headers":{"a":"1","x-b":"evil\r\nx-injected: 1"}}}`,
			"request.headers[1].value", "control character 0x0D"},
		"space in a name": {`{"gateway":"public","request":{"url":"/","headers":{"x bad":"1"}}}`,
			"request.headers[0].name", "space at byte 1"},
		"3 MB value": {`{"gateway":"public","request":{"url":"/","headers":{"x-big":"` + bigValue + `"}}}`,
			"request.headers[0].value", "3145728 bytes"},
		"NUL in the URL": {`{"gateway":"public","request":{"url":"/a\u0000b"}}`,
			"request.url", "control character 0x00"},
		"method with a space": {`{"gateway":"public","request":{"method":"GET /","url":"/"}}`,
			"request.method", "space"},
		"scheme the URL cannot have": {`{"gateway":"public","request":{"url":"ftp://a/b"}}`,
			"request.url", "want http or https"},
		"curl with a bad header": {`{"gateway":"public","curl":"curl -H 'x y: 1' http://shop.example.com/"}`,
			"curl.headers[0].name", "space"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := s.Send(t.Context(), json.RawMessage(tc.body))
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("error %v, want invalid", err)
			}
			fields := model.ErrorFields(err)
			if len(fields) != 1 || fields[0].Field != tc.field || !strings.Contains(fields[0].Message, tc.says) {
				t.Fatalf("problems %v, want one at %s saying %q", fields, tc.field, tc.says)
			}
			if len(fields[0].Message) > 300 {
				t.Errorf("message of %d bytes", len(fields[0].Message))
			}
		})
	}
	if running := s.Running(); len(running) != 0 {
		t.Errorf("sandboxes started for refused requests: %v", running)
	}
}

// TestDraftThatDoesNotTranslate reports the translator's problem and
// recovers when the draft is fixed.
func TestDraftThatDoesNotTranslate(t *testing.T) {
	ws := demo(t)
	s := newService(t, ws)
	req := TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://shop.example.com/"}}
	ws.update(func(w *model.Workspace) { w.Routes[0].Then.Forward = []model.Backend{{Upstream: "ghost"}} })
	if _, err := s.Do(t.Context(), req); model.ErrorCode(err) != model.EINVALID || !strings.Contains(err.Error()+fmt.Sprint(err), "ghost") {
		t.Fatalf("error %v, want EINVALID naming the upstream", err)
	}
	fixed := demo(t)
	ws.update(func(w *model.Workspace) { *w = fixed.ws })
	res, err := s.Do(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.Status != 200 || res.Rule == nil || *res.Rule != "web" {
		t.Errorf("after the fix: %d rule %v", res.Response.Status, res.Rule)
	}
}
