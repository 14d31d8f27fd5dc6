package sim

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// gate is an upstream that holds every request until opened, so a test
// knows exactly which requests are in flight.
type gate struct {
	srv     *httptest.Server
	open    chan struct{}
	arrived atomic.Int64
	conns   atomic.Int64 // connections accepted
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	t.Helper()
	g := &gate{open: make(chan struct{})}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived.Add(1)
		select {
		case <-g.open:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	g.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			g.conns.Add(1)
		}
	}
	g.srv.Start()
	t.Cleanup(func() { g.release(); g.srv.Close() })
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) addr() string { return g.srv.Listener.Addr().String() }

// waitFor polls cond until it holds, failing the test after five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type captured struct {
	status int
	body   string
	header http.Header
	ex     *Exchange
}

// sendCaptured sends one captured request to the listener "http".
func (h *harness) sendCaptured(t *testing.T, path string) captured {
	id, wait := h.dp.Capture()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+h.dp.Status().Listeners["http"]+path, nil)
	req.Header.Set(HeaderCapture, id)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Error(err)
		return captured{}
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ex, err := wait(ctx)
	if err != nil {
		t.Error(err)
	}
	return captured{resp.StatusCode, string(b), resp.Header, ex}
}

func circuitBreakers(ts ...*clusterv3.CircuitBreakers_Thresholds) *clusterv3.CircuitBreakers {
	return &clusterv3.CircuitBreakers{Thresholds: ts}
}

// TestCircuitBreakerMaxRequests: with max_requests 2 and 16 concurrent
// requests to a slow upstream, two reach it and fourteen get Envoy's 503
// with the UO flag, counted as pending overflows; a route of HIGH priority
// uses the HIGH thresholds.
func TestCircuitBreakerMaxRequests(t *testing.T) {
	h := newHarness(t)
	g := newGate(t)
	cl := edsCluster("slow", clusterv3.Cluster_ROUND_ROBIN)
	cl.CircuitBreakers = circuitBreakers(
		&clusterv3.CircuitBreakers_Thresholds{MaxRequests: u32(2)},
		&clusterv3.CircuitBreakers_Thresholds{Priority: corev3.RoutingPriority_HIGH, MaxRequests: u32(100)},
		// Only the first entry of a priority counts.
		&clusterv3.CircuitBreakers_Thresholds{MaxRequests: u32(50)},
	)
	high := prefixRoute("rule/high/0", "/high", "slow")
	high.GetRoute().Priority = corev3.RoutingPriority_HIGH
	h.set(t, "1", listener(t), routeConfig(high, prefixRoute("rule/slow/0", "/", "slow")), cl, loadAssignmentOf("slow", g.addr()))

	const n = 16
	results := make(chan captured, n)
	for range n {
		go func() { results <- h.sendCaptured(t, "/slow") }()
	}
	var got []captured
	for range n - 2 {
		got = append(got, <-results)
	}
	// The two that hold the slots are on their way upstream.
	waitFor(t, "the two requests upstream", func() bool { return g.arrived.Load() == 2 })
	// While the two hold their slots, HIGH priority has its own.
	hi := make(chan captured, 4)
	for range 4 {
		go func() { hi <- h.sendCaptured(t, "/high") }()
	}
	waitFor(t, "the HIGH priority requests", func() bool { return g.arrived.Load() == 6 })
	stats := h.dp.Stats()
	if v := ClusterStat(stats, "slow", "circuit_breakers.default.rq_open"); v != 1 {
		t.Errorf("default rq_open %d, want 1", v)
	}
	if v := ClusterStat(stats, "slow", "circuit_breakers.high.rq_open"); v != 0 {
		t.Errorf("high rq_open %d, want 0", v)
	}
	if v := ClusterStat(stats, "slow", "upstream_rq_active"); v != 6 {
		t.Errorf("upstream_rq_active %d, want 6", v)
	}
	g.release()
	got = append(got, <-results, <-results)
	ok, overflow := 0, 0
	for _, c := range got {
		switch {
		case c.status == 200:
			ok++
		case c.status == 503 && c.body == "upstream connect error or disconnect/reset before headers. reset reason: overflow" && c.ex.Flags == "UO" && c.ex.LocalReply == "router" && c.header.Get("x-envoy-overloaded") == "true":
			overflow++
		default:
			t.Errorf("unexpected answer %d %q flags %q", c.status, c.body, c.ex.Flags)
		}
	}
	if ok != 2 || overflow != n-2 {
		t.Errorf("%d answered 200 and %d overflowed, want 2 and %d", ok, overflow, n-2)
	}
	for range 4 {
		if c := <-hi; c.status != 200 || c.ex.Decision.Priority != PriorityHigh {
			t.Errorf("HIGH priority request: %d flags %q", c.status, c.ex.Flags)
		}
	}
	stats = h.dp.Stats()
	for name, want := range map[string]uint64{"upstream_rq_pending_overflow": n - 2, "upstream_rq_total": 6, "upstream_rq_active": 0} {
		if v := ClusterStat(stats, "slow", name); v != want {
			t.Errorf("%s = %d, want %d", name, v, want)
		}
	}
}

// TestCircuitBreakerHTTP1Pending: on HTTP/1.1 a request waits for a
// connection when max_connections are busy, as a pending request, and
// one past max_pending_requests overflows at once; the waiting one is
// served on the connection the first gives back.
func TestCircuitBreakerHTTP1Pending(t *testing.T) {
	h := newHarness(t)
	g := newGate(t)
	cl := edsCluster("one", clusterv3.Cluster_ROUND_ROBIN)
	cl.CircuitBreakers = circuitBreakers(&clusterv3.CircuitBreakers_Thresholds{MaxConnections: u32(1), MaxPendingRequests: u32(1)})
	h.set(t, "1", listener(t), routeConfig(prefixRoute("rule/one/0", "/", "one")), cl, loadAssignmentOf("one", g.addr()))

	first, second := make(chan captured, 1), make(chan captured, 1)
	go func() { first <- h.sendCaptured(t, "/a") }()
	waitFor(t, "the first request upstream", func() bool { return g.arrived.Load() == 1 })
	go func() { second <- h.sendCaptured(t, "/b") }()
	waitFor(t, "a pending request", func() bool { return ClusterStat(h.dp.Stats(), "one", "upstream_rq_pending_active") == 1 })
	if v := ClusterStat(h.dp.Stats(), "one", "upstream_cx_overflow"); v != 1 {
		t.Errorf("upstream_cx_overflow %d, want 1", v)
	}
	third := h.sendCaptured(t, "/c")
	if third.status != 503 || third.ex.Flags != "UO" || !strings.Contains(strings.Join(third.ex.Notes, ";"), "max_pending_requests") {
		t.Errorf("third request: %d %q flags %q notes %v", third.status, third.body, third.ex.Flags, third.ex.Notes)
	}
	g.release()
	for _, c := range []captured{<-first, <-second} {
		if c.status != 200 {
			t.Errorf("status %d %q", c.status, c.body)
		}
	}
	if c := g.conns.Load(); c != 1 {
		t.Errorf("%d connections opened upstream, want 1", c)
	}
	stats := h.dp.Stats()
	for name, want := range map[string]uint64{"upstream_rq_pending_overflow": 1, "upstream_rq_pending_total": 2, "upstream_cx_total": 1, "upstream_rq_pending_active": 0, "upstream_cx_active": 1} {
		if v := ClusterStat(stats, "one", name); v != want {
			t.Errorf("%s = %d, want %d", name, v, want)
		}
	}
}

// TestCircuitBreakerRetryOverflow: a retry max_retries refuses is not
// made; the answer that asked for it goes back with the UO flag.
func TestCircuitBreakerRetryOverflow(t *testing.T) {
	h := newHarness(t)
	bad := mock(t, "bad", upstream.Profile{ErrorPercent: 100, ErrorStatus: 503})
	cl := edsCluster("bad", clusterv3.Cluster_ROUND_ROBIN)
	cl.CircuitBreakers = circuitBreakers(&clusterv3.CircuitBreakers_Thresholds{MaxRetries: u32(0)})
	rt := prefixRoute("rule/bad/0", "/", "bad")
	rt.GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: u32(2),
		RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(time.Millisecond)}}
	h.set(t, "1", listener(t), routeConfig(rt), cl, loadAssignment("bad", bad))
	c := h.sendCaptured(t, "/")
	if c.status != 503 || len(c.ex.Attempts) != 1 || c.ex.Flags != "UO" || c.ex.LocalReply != "" {
		t.Errorf("status %d attempts %d flags %q local reply %q", c.status, len(c.ex.Attempts), c.ex.Flags, c.ex.LocalReply)
	}
	if v := ClusterStat(h.dp.Stats(), "bad", "upstream_rq_retry_overflow"); v != 1 {
		t.Errorf("upstream_rq_retry_overflow %d, want 1", v)
	}
}

// TestOverflowInAccessLogFlags: the access log marks an overflow UO, not
// a reset.
func TestOverflowInAccessLogFlags(t *testing.T) {
	dp := &DataPlane{}
	ex := &Exchange{LocalReply: "router", Status: 503, Flags: "UO", Decision: &Decision{Kind: KindCluster, Cluster: "c"},
		Attempts: []Attempt{{Endpoint: "127.0.0.1:1", Error: "overflow: max_requests"}}}
	f := dp.responseFlags(ex)
	if !f.GetUpstreamOverflow() || f.GetUpstreamRemoteReset() {
		t.Errorf("flags %v", f)
	}
}
