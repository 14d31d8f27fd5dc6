package session

import (
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// TestHostHealthInResults: with outlier detection on an upstream, each
// sandbox request reports the health of the upstream's hosts as the
// simulated Envoy balanced it, and the service reports it for the
// gateway.
func TestHostHealthInResults(t *testing.T) {
	ws := demo(t)
	ws.update(func(w *model.Workspace) {
		for i := range w.Upstreams {
			if w.Upstreams[i].Name == "api" {
				w.Upstreams[i].OutlierDetection = &model.OutlierDetection{Consecutive5xx: 2, MaxEjectionPercent: 100}
			}
		}
	})
	s := newService(t, ws)
	send := func() *Result {
		t.Helper()
		res, err := s.Do(t.Context(), TestRequest{Gateway: "public", Curl: `curl -H 'Host: shop.example.com' http://gw/api/orders`})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := send()
	if res.Envoy == nil || res.Envoy.Health == nil || len(res.Envoy.Health.Hosts) != 1 || !res.Envoy.Health.Hosts[0].Healthy {
		t.Fatalf("health in the first result: %+v", res.Envoy)
	}
	if !s.SetProfile("api", upstream.Profile{ErrorPercent: 100}) {
		t.Fatal("no api mock")
	}
	send()
	send()
	// Ejected, the only host is balanced to in panic.
	res = send()
	h := res.Envoy.Health
	if h == nil || !h.Panic || !h.Hosts[0].Ejected || !strings.Contains(h.Hosts[0].Reason, "2 consecutive 5xx") {
		t.Fatalf("after two 5xx: %+v", h)
	}
	if !strings.Contains(strings.Join(res.Envoy.Notes, "\n"), "is in panic") {
		t.Errorf("notes %q", res.Envoy.Notes)
	}
	if got := s.Health("public")["api"]; len(got.Hosts) != 1 || !got.Hosts[0].Ejected {
		t.Errorf("service health %+v", got)
	}
	if s.Health("nope") != nil {
		t.Error("health of a gateway without a sandbox")
	}
}

// TestSandboxChecksIdleClusters: a failing endpoint shows as unhealthy at
// the check interval, without traffic to wake the checker (Envoy checks an
// idle cluster once a minute unless told otherwise).
func TestSandboxChecksIdleClusters(t *testing.T) {
	ws := demo(t)
	ws.update(func(w *model.Workspace) {
		for i := range w.Upstreams {
			if w.Upstreams[i].Name == "api" {
				w.Upstreams[i].HealthCheck = &model.HealthCheck{Path: "/healthz", Interval: model.Duration(50 * time.Millisecond), UnhealthyThreshold: 1}
			}
		}
	})
	s := newService(t, ws)
	if _, err := s.Do(t.Context(), TestRequest{Gateway: "public", Curl: `curl -H 'Host: shop.example.com' http://gw/`}); err != nil {
		t.Fatal(err)
	}
	if !s.SetProfile("api", upstream.Profile{ErrorPercent: 100}) {
		t.Fatal("no api mock")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		h := s.Health("public")["api"]
		if len(h.Hosts) == 1 && !h.Hosts[0].Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing api endpoint is still healthy after 3s of 50ms checks: %+v", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
