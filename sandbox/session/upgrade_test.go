package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// websocketDemo is the demo draft with WebSockets allowed on the
// static-assets route (/static/...) only.
func websocketDemo(t *testing.T) *memWorkspaces {
	ws := demo(t)
	ws.update(func(w *model.Workspace) {
		for i := range w.Routes {
			if w.Routes[i].Name == "static-assets" {
				w.Routes[i].Then.Websocket = true
			}
		}
	})
	return ws
}

func wsRequest(url, body string) TestRequest {
	return TestRequest{Gateway: "public", Request: &rules.Request{URL: url, Body: body, Headers: http.Header{"Upgrade": {"websocket"}}}}
}

// TestWebSocketThroughSandbox: a test request with Upgrade: websocket goes
// through the data plane; where the route allows upgrades it reports the
// 101 and one message echoed by the mock, elsewhere Envoy's 403.
func TestWebSocketThroughSandbox(t *testing.T) {
	s := newService(t, websocketDemo(t))
	res, err := s.Do(t.Context(), wsRequest("http://shop.example.com/static/live", "ping 1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.Status != http.StatusSwitchingProtocols || res.WebSocket == nil {
		t.Fatalf("status %d, websocket %+v", res.Response.Status, res.WebSocket)
	}
	if ws := res.WebSocket; !ws.Accepted || !ws.Echoed || ws.Sent != "ping 1" || ws.Received != "ping 1" || ws.Error != "" {
		t.Errorf("websocket exchange %+v", ws)
	}
	if res.Upstream == nil || *res.Upstream != "web-v1" || res.Rule == nil || *res.Rule != "static-assets" || res.RuleMismatch != nil {
		t.Errorf("upstream %v rule %v mismatch %+v", res.Upstream, res.Rule, res.RuleMismatch)
	}
	if ex := res.Envoy; ex == nil || ex.Upgrade != "websocket" || ex.Status != 101 || ex.BytesReceived == 0 || ex.BytesSent == 0 {
		t.Errorf("exchange %+v", res.Envoy)
	}

	// Without the body, a greeting is the message.
	res, err = s.Do(t.Context(), wsRequest("http://shop.example.com/static/live", ""))
	if err != nil || res.WebSocket == nil || res.WebSocket.Received != defaultWebSocketMessage {
		t.Fatalf("%v %+v", err, res)
	}

	// The web route does not allow upgrades: Envoy refuses with 403
	// before any filter runs.
	res, err = s.Do(t.Context(), wsRequest("http://shop.example.com/cart", ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.Status != http.StatusForbidden || res.WebSocket != nil || res.Upstream != nil || res.Envoy.LocalReply != "http_connection_manager" {
		t.Errorf("status %d websocket %+v upstream %v exchange %+v", res.Response.Status, res.WebSocket, res.Upstream, res.Envoy)
	}
}

// TestSandboxRequestsEndAtTheirDeadline: an upstream that answers after
// the sandbox's timeout cuts the test request off at the timeout, for
// ordinary requests and upgrades alike, and Close does not wait for them.
func TestSandboxRequestsEndAtTheirDeadline(t *testing.T) {
	ads, addr, creds := startADS(t)
	s := New(Options{Store: websocketDemo(t), ADS: ads, ADSAddr: addr, ADSCredentials: creds, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: 20 * time.Second})
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Do(t.Context(), wsRequest("http://shop.example.com/static/x", "")); err != nil {
		t.Fatal(err)
	}
	// From now on every answer of web-v1 takes a minute.
	if !s.SetProfile("web-v1", upstream.Profile{Latency: time.Minute}) {
		t.Fatal("no mock for web-v1")
	}
	s.opts.Timeout = 500 * time.Millisecond
	for name, req := range map[string]TestRequest{
		"plain":     {Gateway: "public", Request: &rules.Request{URL: "http://shop.example.com/static/app.js"}},
		"websocket": wsRequest("http://shop.example.com/static/live", ""),
	} {
		start := time.Now()
		_, err := s.Do(t.Context(), req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want the deadline", name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: returned after %v", name, d)
		}
	}

	// Close ends a request in flight instead of waiting for its timeout.
	s.opts.Timeout = time.Minute
	done := make(chan error, 1)
	before := mockRequests(s, "web-v1")
	go func() {
		_, err := s.Do(context.Background(), wsRequest("http://shop.example.com/static/live", ""))
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for mockRequests(s, "web-v1") == before {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the mock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("request in flight ended with %v, want canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a request in flight outlived Close")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func mockRequests(s *Service, name string) uint64 {
	var n uint64
	for _, m := range s.Mocks() {
		if m.Name() == name {
			n += m.Stats().Requests
		}
	}
	return n
}
