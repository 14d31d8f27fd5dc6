package sim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// hcBackend is an upstream whose health check answer, and whether it
// answers in time, the test sets; other requests get 200 and the
// backend's address in x-backend.
type hcBackend struct {
	srv      *httptest.Server
	status   atomic.Int32
	answer   atomic.Int32 // to requests other than checks
	delay    atomic.Int64
	checks   atomic.Int64 // checks received
	passed   atomic.Int64 // checks answered 200
	lastHost atomic.Pointer[string]
	lastUA   atomic.Pointer[string]
	lastHdr  atomic.Pointer[http.Header]
}

func newHCBackend(t *testing.T) *hcBackend {
	t.Helper()
	b := &hcBackend{}
	b.status.Store(200)
	b.answer.Store(200)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			b.checks.Add(1)
			host, ua := r.Host, r.UserAgent()
			b.lastHost.Store(&host)
			b.lastUA.Store(&ua)
			hdr := r.Header.Clone()
			b.lastHdr.Store(&hdr)
			if d := time.Duration(b.delay.Load()); d > 0 {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				}
			}
			status := int(b.status.Load())
			if status == 200 {
				b.passed.Add(1)
			}
			w.WriteHeader(status)
			return
		}
		w.Header().Set("x-backend", b.addr())
		w.WriteHeader(int(b.answer.Load()))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *hcBackend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

func ms(n int) *durationpb.Duration { return durationpb.New(time.Duration(n) * time.Millisecond) }

// steady is an unhealthy_threshold no run of timeouts reaches within a
// test. Only timeouts and connection failures count towards the
// threshold (an unexpected status fails a host at once), and a check of a
// healthy backend can miss the 40ms timeout when the machine is busy: with
// a threshold of 1 that takes a healthy host out, pushes the cluster into
// panic and sends traffic to the host the test failed.
const steady = 1000

// httpCheck is a fast HTTP health check of /healthz: every 5ms, also
// before the cluster carries traffic.
func httpCheck(unhealthy, healthy uint32, expected ...*typev3.Int64Range) *corev3.HealthCheck {
	return &corev3.HealthCheck{Timeout: ms(40), Interval: ms(5), NoTrafficInterval: ms(5),
		UnhealthyThreshold: u32(unhealthy), HealthyThreshold: u32(healthy),
		HealthChecker: &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &corev3.HealthCheck_HttpHealthCheck{
			Path: "/healthz", Host: "hc.example", ExpectedStatuses: expected}}}
}

func checkedCluster(name string, lb clusterv3.Cluster_LbPolicy, hc *corev3.HealthCheck) *clusterv3.Cluster {
	c := edsCluster(name, lb)
	c.HealthChecks = []*corev3.HealthCheck{hc}
	return c
}

// waitHealth polls the data plane's status until cond holds for the
// cluster's hosts (by address), for at most 5 seconds.
func waitHealth(t *testing.T, dp *DataPlane, cluster string, what string, cond func(map[string]HostHealth) bool) map[string]HostHealth {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		hosts := map[string]HostHealth{}
		for _, h := range dp.Status().Health[cluster].Hosts {
			hosts[h.Address] = h
		}
		if cond(hosts) {
			return hosts
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: hosts %+v", what, hosts)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// answered holds once every one of n hosts had a check answered with a
// status: a first check that timed out leaves a host unhealthy whatever
// its backend would have answered.
func answered(n int) func(map[string]HostHealth) bool {
	return func(hosts map[string]HostHealth) bool {
		if len(hosts) != n {
			return false
		}
		for _, h := range hosts {
			if !strings.HasPrefix(h.LastCheck, "HTTP ") {
				return false
			}
		}
		return true
	}
}

func allHealthy(n int) func(map[string]HostHealth) bool {
	return func(hosts map[string]HostHealth) bool {
		if len(hosts) != n {
			return false
		}
		for _, h := range hosts {
			if !h.Healthy {
				return false
			}
		}
		return true
	}
}

// spread sends n requests and counts them by the x-backend that answered.
func (h *harness) spread(t *testing.T, n int, hdr ...string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		resp, _ := h.do(t, "GET", "http://x/", hdr...)
		seen[resp.Header.Get("x-backend")]++
	}
	return seen
}

// TestHealthCheckAvoidsFailingHost: a host whose check answers a status
// outside expected_statuses leaves the healthy set at once, traffic avoids
// it, and it comes back only after healthy_threshold passing checks.
func TestHealthCheckAvoidsFailingHost(t *testing.T) {
	h := newHarness(t)
	a, b := newHCBackend(t), newHCBackend(t)
	h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")),
		checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, httpCheck(steady, 3)), loadAssignmentOf("web", a.addr(), b.addr()))
	waitHealth(t, h.dp, "web", "both hosts to pass their first check", allHealthy(2))
	if got := *b.lastHost.Load(); got != "hc.example" {
		t.Errorf("check Host %q, want the configured host", got)
	}
	if got := *b.lastUA.Load(); got != "Envoy/HC" {
		t.Errorf("check User-Agent %q", got)
	}

	b.status.Store(500)
	hosts := waitHealth(t, h.dp, "web", "b to fail", func(m map[string]HostHealth) bool { return !m[b.addr()].Healthy })
	if got := hosts[b.addr()]; !got.FailedHealthCheck || !strings.Contains(got.Reason, "HTTP 500 is not an expected status") {
		t.Errorf("b: %+v", got)
	}
	if seen := h.spread(t, 12); seen[a.addr()] != 12 {
		t.Errorf("with b failing its check: %v, want every request on a", seen)
	}
	// The trace of a request says why b was left out.
	id, wait := h.dp.Capture()
	h.do(t, "GET", "http://x/", HeaderCapture, id)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ex, err := wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Health == nil || len(ex.Health.Hosts) != 2 || ex.Health.Panic || !strings.Contains(strings.Join(ex.Notes, "\n"), "host "+b.addr()+" is unhealthy: health check failed") {
		t.Errorf("exchange health %+v notes %q", ex.Health, ex.Notes)
	}

	// Counted by their answers: a check received before the switch may
	// still be answered 200 after it.
	before := b.passed.Load()
	b.status.Store(200)
	waitHealth(t, h.dp, "web", "b to return", func(m map[string]HostHealth) bool { return m[b.addr()].Healthy })
	if n := b.passed.Load() - before; n < 3 {
		t.Errorf("b returned after %d passing checks, want at least healthy_threshold (3)", n)
	}
	if seen := h.spread(t, 12); seen[a.addr()] != 6 || seen[b.addr()] != 6 {
		t.Errorf("after b returned: %v, want round robin over both", seen)
	}
}

// TestHealthCheckThresholdOnTimeouts: timeouts count towards
// unhealthy_threshold, unlike an unexpected status.
func TestHealthCheckThresholdOnTimeouts(t *testing.T) {
	h := newHarness(t)
	a, b := newHCBackend(t), newHCBackend(t)
	h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")),
		checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, httpCheck(3, 1)), loadAssignmentOf("web", a.addr(), b.addr()))
	waitHealth(t, h.dp, "web", "both healthy", allHealthy(2))
	b.delay.Store(int64(200 * time.Millisecond))
	hosts := waitHealth(t, h.dp, "web", "b to time out", func(m map[string]HostHealth) bool { return !m[b.addr()].Healthy })
	if r := hosts[b.addr()].Reason; !strings.Contains(r, "3 times in a row") || !strings.Contains(r, "timed out") {
		t.Errorf("reason %q", r)
	}
}

// TestHealthCheckExpectedStatuses: expected_statuses replaces the default
// of 200 only.
func TestHealthCheckExpectedStatuses(t *testing.T) {
	tests := map[string]struct {
		answer   int32
		expected []*typev3.Int64Range
		healthy  bool
	}{
		"200 by default":             {answer: 200, healthy: true},
		"204 fails the default":      {answer: 204, healthy: false},
		"204 in [200, 300)":          {answer: 204, expected: []*typev3.Int64Range{{Start: 200, End: 300}}, healthy: true},
		"200 outside [204, 205)":     {answer: 200, expected: []*typev3.Int64Range{{Start: 204, End: 205}}, healthy: false},
		"503 in a second range":      {answer: 503, expected: []*typev3.Int64Range{{Start: 200, End: 201}, {Start: 503, End: 504}}, healthy: true},
		"range end is not inclusive": {answer: 300, expected: []*typev3.Int64Range{{Start: 200, End: 300}}, healthy: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			b := newHCBackend(t)
			b.status.Store(tc.answer)
			h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")),
				checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, httpCheck(1, 1, tc.expected...)), loadAssignmentOf("web", b.addr()))
			hosts := waitHealth(t, h.dp, "web", "a check answered", answered(1))
			if got := hosts[b.addr()].Healthy; got != tc.healthy {
				t.Errorf("healthy %v, want %v (%+v)", got, tc.healthy, hosts[b.addr()])
			}
		})
	}
}

// TestLoadBalancersHonourHealthySet: every balancer leaves out a host
// that fails its check while enough hosts are healthy.
func TestLoadBalancersHonourHealthySet(t *testing.T) {
	tests := map[string]struct {
		lb   clusterv3.Cluster_LbPolicy
		hash bool
	}{
		"round robin":         {lb: clusterv3.Cluster_ROUND_ROBIN},
		"least request":       {lb: clusterv3.Cluster_LEAST_REQUEST},
		"random":              {lb: clusterv3.Cluster_RANDOM},
		"ring hash on header": {lb: clusterv3.Cluster_RING_HASH, hash: true},
		"ring hash unhashed":  {lb: clusterv3.Cluster_RING_HASH},
		"maglev on header":    {lb: clusterv3.Cluster_MAGLEV, hash: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			a, b, c := newHCBackend(t), newHCBackend(t), newHCBackend(t)
			rt := prefixRoute("r", "/", "web")
			if tc.hash {
				rt.GetRoute().HashPolicy = []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: "x-user"}}}}
			}
			h.set(t, "1", listener(t), routeConfig(rt), checkedCluster("web", tc.lb, httpCheck(steady, 1)), loadAssignmentOf("web", a.addr(), b.addr(), c.addr()))
			waitHealth(t, h.dp, "web", "all healthy", allHealthy(3))
			// Which users b served while healthy: with ring hash they
			// must move elsewhere, the others must stay put.
			before := map[string]string{}
			for i := range 30 {
				user := sprintf("user-%d", i)
				resp, _ := h.do(t, "GET", "http://x/", "x-user", user)
				before[user] = resp.Header.Get("x-backend")
			}
			b.status.Store(503)
			waitHealth(t, h.dp, "web", "b to fail", func(m map[string]HostHealth) bool { return !m[b.addr()].Healthy })
			for i := range 30 {
				user := sprintf("user-%d", i)
				resp, _ := h.do(t, "GET", "http://x/", "x-user", user)
				got := resp.Header.Get("x-backend")
				if got == b.addr() {
					t.Fatalf("request %d went to the unhealthy host: %+v", i, h.dp.Status().Health["web"])
				}
				if tc.hash && before[user] != b.addr() && got != before[user] {
					t.Errorf("%s moved from %s to %s though its host stayed healthy", user, before[user], got)
				}
			}
		})
	}
}

// TestPanicThreshold: below healthy_panic_threshold (default 50%) the
// cluster balances over every host; a threshold of 0 never panics.
func TestPanicThreshold(t *testing.T) {
	tests := map[string]struct {
		threshold *typev3.Percent
		failing   int // of 3 hosts
		wantPanic bool
		wantTo    int // distinct hosts reached, 0 for a 503
	}{
		"one of three down: healthy only": {failing: 1, wantTo: 2},
		"two of three down: panic":        {failing: 2, wantPanic: true, wantTo: 3},
		"threshold 0: healthy only":       {threshold: &typev3.Percent{Value: 0}, failing: 2, wantTo: 1},
		"threshold 0, all down: 503":      {threshold: &typev3.Percent{Value: 0}, failing: 3, wantTo: 0},
		"threshold 80: one down panics":   {threshold: &typev3.Percent{Value: 80}, failing: 1, wantPanic: true, wantTo: 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			backs := []*hcBackend{newHCBackend(t), newHCBackend(t), newHCBackend(t)}
			c := checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, httpCheck(steady, 1))
			if tc.threshold != nil {
				c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{HealthyPanicThreshold: tc.threshold}
			}
			for _, b := range backs[:tc.failing] {
				b.status.Store(500)
			}
			h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")), c, loadAssignmentOf("web", backs[0].addr(), backs[1].addr(), backs[2].addr()))
			waitHealth(t, h.dp, "web", "every host's check answered", answered(3))
			if got := h.dp.Status().Health["web"].Panic; got != tc.wantPanic {
				t.Errorf("status panic %v, want %v", got, tc.wantPanic)
			}
			seen := map[string]int{}
			for range 9 {
				resp, body := h.do(t, "GET", "http://x/")
				if tc.wantTo == 0 {
					if resp.StatusCode != 503 || body != "no healthy upstream" {
						t.Fatalf("got %d %q, want 503 no healthy upstream", resp.StatusCode, body)
					}
					continue
				}
				seen[resp.Header.Get("x-backend")]++
			}
			if tc.wantTo > 0 && len(seen) != tc.wantTo {
				t.Errorf("reached %v, want %d hosts", seen, tc.wantTo)
			}
		})
	}
}

func outlierCluster(name string, od *clusterv3.OutlierDetection) *clusterv3.Cluster {
	c := edsCluster(name, clusterv3.Cluster_ROUND_ROBIN)
	c.OutlierDetection = od
	return c
}

// TestOutlierDetectionEjectsAndReturns: consecutive 5xx eject a host, the
// traffic goes to the others, and the host returns at the first sweep
// after base_ejection_time.
func TestOutlierDetectionEjectsAndReturns(t *testing.T) {
	h := newHarness(t)
	good, bad := mock(t, "web", upstream.Profile{}), mock(t, "web", upstream.Profile{ErrorPercent: 100})
	h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")),
		outlierCluster("web", &clusterv3.OutlierDetection{Consecutive_5Xx: u32(3), Interval: ms(10), BaseEjectionTime: ms(300), MaxEjectionPercent: u32(50)}),
		loadAssignment("web", good, bad))
	// The host is ejected while the request that draws its third 503 is
	// under way (the detector counts the answer before it goes
	// downstream), so that request's start and end bound the ejection.
	statuses := map[int]int{}
	var ejectedAfter, ejectedBefore time.Time
	for range 6 {
		start := time.Now()
		resp, _ := h.do(t, "GET", "http://x/")
		statuses[resp.StatusCode]++
		if resp.StatusCode == 503 && statuses[503] == 3 {
			ejectedAfter, ejectedBefore = start, time.Now()
		}
	}
	if statuses[503] != 3 {
		t.Fatalf("round robin gave %v, want three 503s from the bad host", statuses)
	}
	hosts := waitHealth(t, h.dp, "web", "the bad host ejected", func(m map[string]HostHealth) bool { return m[bad.Addr()].Ejected })
	r := hosts[bad.Addr()]
	if r.Ejections != 1 || !strings.Contains(r.Reason, "3 consecutive 5xx") {
		t.Errorf("bad host: %+v", r)
	}
	if r.EjectedUntil.Before(ejectedAfter.Add(300*time.Millisecond)) || r.EjectedUntil.After(ejectedBefore.Add(300*time.Millisecond)) {
		t.Errorf("ejected until %v, want base_ejection_time after the ejection (between %v and %v)", r.EjectedUntil, ejectedAfter, ejectedBefore)
	}
	for i := range 10 {
		if resp, body := h.do(t, "GET", "http://x/"); resp.StatusCode != 200 || echoOf(t, body).Endpoint != good.Addr() {
			t.Fatalf("request %d while ejected: %d %q", i, resp.StatusCode, body)
		}
	}
	bad.SetProfile(upstream.Profile{})
	waitHealth(t, h.dp, "web", "the bad host back", func(m map[string]HostHealth) bool { return !m[bad.Addr()].Ejected })
	if d := time.Since(ejectedAfter); d < 300*time.Millisecond {
		t.Errorf("returned at most %v after its ejection, before base_ejection_time", d)
	}
	seen := map[string]int{}
	for range 4 {
		_, body := h.do(t, "GET", "http://x/")
		seen[echoOf(t, body).Endpoint]++
	}
	if seen[bad.Addr()] != 2 {
		t.Errorf("after its return: %v", seen)
	}
}

// TestOutlierEjectionTime drives the detector on a fixed clock: an
// ejected host returns at the first sweep at or after base_ejection_time
// times its ejections since the moment it was ejected (not since a
// sweep), capped at max_ejection_time, and each sweep it spends in
// service lowers the multiplier by one.
func TestOutlierEjectionTime(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	now := start
	ch := &clusterHealth{name: "web", hosts: map[string]*hostState{},
		od:  &odSpec{interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 70 * time.Second, maxPercent: 100},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), rnd: func(uint64) uint64 { return 0 }, now: func() time.Time { return now }}
	host := &hostState{addr: "h"}
	ch.hosts["h"] = host
	at := func(d time.Duration) { now = start.Add(d) }
	eject := func(d time.Duration) {
		t.Helper()
		at(d)
		ch.mu.Lock()
		ch.ejectLocked(host, "test", 100)
		ch.mu.Unlock()
		if !host.ejected {
			t.Fatalf("not ejected at %v", d)
		}
	}
	// sweepAt sweeps at d and reports whether the host is in service.
	sweepAt := func(d time.Duration) bool {
		at(d)
		ch.sweep()
		return !host.ejected && !host.unhealthy.Load()
	}
	steps := []struct {
		sweep     time.Duration
		back      bool
		ejections int
	}{
		// Ejected at 3s, between sweeps: out for 30s from then.
		{10 * time.Second, false, 1},
		{30 * time.Second, false, 1},
		{33*time.Second - time.Nanosecond, false, 1},
		{40 * time.Second, true, 1}, // the first sweep after 33s
	}
	eject(3 * time.Second)
	for _, s := range steps {
		if back := sweepAt(s.sweep); back != s.back || host.ejections != s.ejections {
			t.Fatalf("sweep at %v: back %v with %d ejections, want %v with %d", s.sweep, back, host.ejections, s.back, s.ejections)
		}
	}
	// Ejected again at once: twice the base time, from this ejection.
	eject(41 * time.Second)
	if want := start.Add(101 * time.Second); !host.ejectedUntil.Equal(want) {
		t.Errorf("second ejection until %v, want %v", host.ejectedUntil.Sub(start), want.Sub(start))
	}
	if sweepAt(100*time.Second) || !sweepAt(101*time.Second) {
		t.Fatal("second ejection: not back exactly at 2 x base_ejection_time")
	}
	// A third ejection would last 90s: max_ejection_time caps it.
	eject(102 * time.Second)
	if got := host.ejectedUntil.Sub(start); got != 172*time.Second {
		t.Errorf("third ejection until %v, want 172s (capped at 70s)", got)
	}
	if !sweepAt(172 * time.Second) {
		t.Fatal("third ejection: not back after max_ejection_time")
	}
	// Sweeps in service lower the multiplier, one each.
	for i, want := range []int{2, 1, 0, 0} {
		sweepAt(time.Duration(180+10*i) * time.Second)
		if host.ejections != want {
			t.Fatalf("sweep %d in service: %d ejections, want %d", i, host.ejections, want)
		}
	}
}

// TestOutlierDetectionLimits covers max_ejection_percent (default 10%),
// always_eject_one_host and the enforcing percentages (gateway failures
// are detected but not enforced by default).
func TestOutlierDetectionLimits(t *testing.T) {
	tests := map[string]struct {
		od          *clusterv3.OutlierDetection
		hosts       int // all failing with 503
		wantEjected int
	}{
		"default 10% ejects none of two":     {od: &clusterv3.OutlierDetection{Consecutive_5Xx: u32(2)}, hosts: 2, wantEjected: 0},
		"always_eject_one_host":              {od: &clusterv3.OutlierDetection{Consecutive_5Xx: u32(2), AlwaysEjectOneHost: wrapperspb.Bool(true)}, hosts: 2, wantEjected: 1},
		"40% of three ejects one":            {od: &clusterv3.OutlierDetection{Consecutive_5Xx: u32(2), MaxEjectionPercent: u32(40)}, hosts: 3, wantEjected: 1},
		"70% of three ejects two":            {od: &clusterv3.OutlierDetection{Consecutive_5Xx: u32(2), MaxEjectionPercent: u32(70)}, hosts: 3, wantEjected: 2},
		"100% ejects all":                    {od: &clusterv3.OutlierDetection{Consecutive_5Xx: u32(2), MaxEjectionPercent: u32(100)}, hosts: 2, wantEjected: 2},
		"enforcing_consecutive_5xx 0":        {od: &clusterv3.OutlierDetection{Consecutive_5Xx: u32(2), MaxEjectionPercent: u32(100), EnforcingConsecutive_5Xx: u32(0)}, hosts: 2, wantEjected: 0},
		"gateway failures not enforced":      {od: &clusterv3.OutlierDetection{Consecutive_5Xx: u32(1000), ConsecutiveGatewayFailure: u32(2), MaxEjectionPercent: u32(100)}, hosts: 2, wantEjected: 0},
		"gateway failures enforced when set": {od: &clusterv3.OutlierDetection{Consecutive_5Xx: u32(1000), ConsecutiveGatewayFailure: u32(2), EnforcingConsecutiveGatewayFailure: u32(100), MaxEjectionPercent: u32(100)}, hosts: 2, wantEjected: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			var servers []*upstream.Server
			for range tc.hosts {
				servers = append(servers, mock(t, "web", upstream.Profile{ErrorPercent: 100}))
			}
			tc.od.Interval, tc.od.BaseEjectionTime = ms(1000), ms(60_000)
			h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")), outlierCluster("web", tc.od), loadAssignment("web", servers...))
			for range 4 * tc.hosts {
				h.do(t, "GET", "http://x/")
			}
			ejected := 0
			for _, hh := range h.dp.Status().Health["web"].Hosts {
				if hh.Ejected {
					ejected++
				}
			}
			if ejected != tc.wantEjected {
				t.Errorf("%d ejected, want %d: %+v", ejected, tc.wantEjected, h.dp.Status().Health["web"])
			}
		})
	}
}

// TestHealthCheckersStop: the checkers of a cluster stop when it changes
// or goes away, and all of them when the data plane closes.
func TestHealthCheckersStop(t *testing.T) {
	h := newHarness(t)
	a := newHCBackend(t)
	h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")),
		checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, httpCheck(1, 1)), loadAssignmentOf("web", a.addr()))
	waitHealth(t, h.dp, "web", "healthy", allHealthy(1))

	// A changed cluster restarts its checks: the old checker stops
	// asking for the old Host.
	changed := httpCheck(1, 1)
	changed.GetHttpHealthCheck().Host = "changed.example"
	h.set(t, "2", listener(t), routeConfig(prefixRoute("r", "/", "web")),
		checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, changed), loadAssignmentOf("web", a.addr()))
	settle(t, "only the new checker runs", func() bool { return *a.lastHost.Load() == "changed.example" })
	for range 20 {
		time.Sleep(2 * time.Millisecond)
		if got := *a.lastHost.Load(); got != "changed.example" {
			t.Fatalf("the old checker still runs (Host %q)", got)
		}
	}

	// A removed cluster stops its checks.
	h.set(t, "3", listener(t), routeConfig(prefixRoute("r", "/", "other")), edsCluster("other", clusterv3.Cluster_ROUND_ROBIN), loadAssignmentOf("other", a.addr()))
	stopped(t, a)
	h.dp.mu.Lock()
	left := len(h.dp.health)
	h.dp.mu.Unlock()
	if left != 0 {
		t.Errorf("%d cluster health states left", left)
	}

	// Closing the data plane stops every checker.
	h.set(t, "4", listener(t), routeConfig(prefixRoute("r", "/", "web")),
		checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, httpCheck(1, 1)), loadAssignmentOf("web", a.addr()))
	waitHealth(t, h.dp, "web", "healthy again", allHealthy(1))
	if err := h.dp.Close(); err != nil {
		t.Fatal(err)
	}
	stopped(t, a)
}

// settle waits up to 5 seconds for cond.
func settle(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stopped waits until b gets no more checks: the count holds still for
// 50ms (ten check intervals), within 5 seconds.
func stopped(t *testing.T, b *hcBackend) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := b.checks.Load()
		time.Sleep(50 * time.Millisecond)
		if b.checks.Load() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("health checks did not stop")
		}
	}
}

// TestHealthCheckStateMachine walks a host through check results and the
// thresholds.
func TestHealthCheckStateMachine(t *testing.T) {
	pass := checkResult{pass: true, detail: "HTTP 200"}
	netFail := checkResult{detail: "timed out"}
	badStatus := checkResult{immediate: true, detail: "HTTP 503 is not an expected status"}
	tests := map[string]struct {
		steps []checkResult
		want  []bool // healthy after each step
	}{
		"first pass makes a new host healthy":  {steps: []checkResult{pass}, want: []bool{true}},
		"new host failing stays unhealthy":     {steps: []checkResult{netFail, pass, pass}, want: []bool{false, false, true}},
		"network failures need the threshold":  {steps: []checkResult{pass, netFail, netFail, netFail}, want: []bool{true, true, true, false}},
		"a pass resets the failure count":      {steps: []checkResult{pass, netFail, netFail, pass, netFail, netFail}, want: []bool{true, true, true, true, true, true}},
		"unexpected status is immediate":       {steps: []checkResult{pass, badStatus}, want: []bool{true, false}},
		"recovery needs the healthy threshold": {steps: []checkResult{pass, badStatus, pass, netFail, pass, pass}, want: []bool{true, false, false, false, false, true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ch := &clusterHealth{name: "web", hc: &hcSpec{unhealthyThreshold: 3, healthyThreshold: 2}, hosts: map[string]*hostState{},
				log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			host := &hostState{addr: "h", failedCheck: true, pendingCheck: true}
			ch.hosts["h"] = host
			for i, r := range tc.steps {
				if got, _ := ch.record(host, r); got != tc.want[i] {
					t.Fatalf("step %d (%+v): healthy %v, want %v", i, r, got, tc.want[i])
				}
				if host.unhealthy.Load() == tc.want[i] {
					t.Fatalf("step %d: the balancer's view disagrees", i)
				}
			}
		})
	}
}

// TestHealthCheckWait: the wait between checks, with jitter drawn from a
// fixed source.
func TestHealthCheckWait(t *testing.T) {
	sec := time.Second
	half := func(n uint64) uint64 { return n / 2 }
	tests := map[string]struct {
		spec                      hcSpec
		healthy, changed, traffic bool
		want                      time.Duration
	}{
		"no traffic yet":               {spec: hcSpec{interval: sec, noTraffic: 60 * sec}, healthy: true, want: 60 * sec},
		"no traffic, healthy interval": {spec: hcSpec{interval: sec, noTraffic: 60 * sec, noTrafficHealthy: 30 * sec}, healthy: true, want: 30 * sec},
		"no traffic, unhealthy":        {spec: hcSpec{interval: sec, noTraffic: 60 * sec, noTrafficHealthy: 30 * sec}, want: 60 * sec},
		"traffic":                      {spec: hcSpec{interval: sec, noTraffic: 60 * sec}, healthy: true, traffic: true, want: sec},
		"unhealthy interval":           {spec: hcSpec{interval: sec, unhealthy: 5 * sec}, traffic: true, want: 5 * sec},
		"unhealthy edge":               {spec: hcSpec{interval: sec, unhealthy: 5 * sec, unhealthyEdge: 2 * sec}, changed: true, traffic: true, want: 2 * sec},
		"healthy edge":                 {spec: hcSpec{interval: sec, healthyEdge: 3 * sec}, healthy: true, changed: true, traffic: true, want: 3 * sec},
		"interval jitter":              {spec: hcSpec{interval: sec, intervalJitter: 100 * time.Millisecond}, healthy: true, traffic: true, want: 1050 * time.Millisecond},
		"jitter percent":               {spec: hcSpec{interval: sec, jitterPercent: 20}, healthy: true, traffic: true, want: 1100 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.spec.nextWait(tc.healthy, tc.changed, tc.traffic, half); got != tc.want {
				t.Errorf("wait %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHealthConfigRefused: what the sim cannot check is refused.
func TestHealthConfigRefused(t *testing.T) {
	grpcCheck := &corev3.HealthCheck{Timeout: ms(10), Interval: ms(10), UnhealthyThreshold: u32(1), HealthyThreshold: u32(1),
		HealthChecker: &corev3.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &corev3.HealthCheck_GrpcHealthCheck{}}}
	tests := map[string]struct {
		c    *clusterv3.Cluster
		want string
	}{
		"grpc check":    {c: checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, grpcCheck), want: "not supported"},
		"two checks":    {c: &clusterv3.Cluster{Name: "web", HealthChecks: []*corev3.HealthCheck{httpCheck(1, 1), httpCheck(1, 1)}}, want: "more than one"},
		"split origins": {c: outlierCluster("web", &clusterv3.OutlierDetection{SplitExternalLocalOriginErrors: true}), want: "split_external_local_origin_errors"},
		"no thresholds": {c: checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, &corev3.HealthCheck{Timeout: ms(1), Interval: ms(1)}), want: "threshold"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := buildClusterParts(tc.c, &resources{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestOutlierDetectionDefaults: unset fields take Envoy's defaults.
func TestOutlierDetectionDefaults(t *testing.T) {
	got, err := compileOutlierDetection(&clusterv3.OutlierDetection{})
	if err != nil {
		t.Fatal(err)
	}
	want := odSpec{consecutive5xx: 5, consecutiveGateway: 5, enforce5xx: 100, enforceGateway: 0, interval: 10 * time.Second,
		baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxPercent: 10, unejectOnCheck: true}
	if *got != want {
		t.Errorf("defaults %+v, want %+v", *got, want)
	}
	got, err = compileOutlierDetection(&clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(10 * time.Minute), MaxEjectionPercent: u32(250),
		SuccessfulActiveHealthCheckUnejectHost: wrapperspb.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if got.maxEjection != 10*time.Minute || got.maxPercent != 100 || got.unejectOnCheck {
		t.Errorf("bounds %+v", *got)
	}
}

// TestPassingCheckReturnsEjectedHost: with active checks as well, a host
// ejected for its answers returns at its next passing check, long before
// the ejection time, unless successful_active_health_check_uneject_host
// is false.
func TestPassingCheckReturnsEjectedHost(t *testing.T) {
	tests := map[string]struct {
		uneject  *wrapperspb.BoolValue
		wantBack bool
	}{
		"default":          {wantBack: true},
		"uneject disabled": {uneject: wrapperspb.Bool(false)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			a, b := newHCBackend(t), newHCBackend(t)
			c := checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, httpCheck(steady, 1))
			// Sweeps are a minute apart: only a check can return b.
			c.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: u32(2), Interval: ms(60_000), BaseEjectionTime: ms(60_000), MaxEjectionPercent: u32(50),
				SuccessfulActiveHealthCheckUnejectHost: tc.uneject}
			h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")), c, loadAssignmentOf("web", a.addr(), b.addr()))
			waitHealth(t, h.dp, "web", "both healthy", allHealthy(2))
			b.answer.Store(500)
			for range 4 {
				h.do(t, "GET", "http://x/")
			}
			b.answer.Store(200)
			if tc.wantBack {
				hosts := waitHealth(t, h.dp, "web", "b returned by its check", allHealthy(2))
				if hosts[b.addr()].Ejections != 1 {
					t.Errorf("b was not ejected: %+v", hosts[b.addr()])
				}
				return
			}
			hosts := waitHealth(t, h.dp, "web", "b ejected", func(m map[string]HostHealth) bool { return m[b.addr()].Ejected })
			time.Sleep(50 * time.Millisecond) // ten passing checks
			if hosts = waitHealth(t, h.dp, "web", "status", func(map[string]HostHealth) bool { return true }); !hosts[b.addr()].Ejected {
				t.Errorf("b returned though checks may not uneject: %+v", hosts[b.addr()])
			}
		})
	}
}

// TestLoadAssignmentHealthStatus: hosts the load assignment calls
// unhealthy, draining or timed out are left out like failing ones, and
// count towards the panic threshold.
func TestLoadAssignmentHealthStatus(t *testing.T) {
	tests := map[string]struct {
		statuses []corev3.HealthStatus
		wantTo   int
	}{
		"one unhealthy":           {statuses: []corev3.HealthStatus{corev3.HealthStatus_HEALTHY, corev3.HealthStatus_UNHEALTHY, corev3.HealthStatus_UNKNOWN}, wantTo: 2},
		"degraded is balanced to": {statuses: []corev3.HealthStatus{corev3.HealthStatus_DEGRADED, corev3.HealthStatus_TIMEOUT, corev3.HealthStatus_UNKNOWN}, wantTo: 2},
		"two draining: panic":     {statuses: []corev3.HealthStatus{corev3.HealthStatus_DRAINING, corev3.HealthStatus_DRAINING, corev3.HealthStatus_HEALTHY}, wantTo: 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			backs := []*hcBackend{newHCBackend(t), newHCBackend(t), newHCBackend(t)}
			cla := loadAssignmentOf("web", backs[0].addr(), backs[1].addr(), backs[2].addr())
			for i, st := range tc.statuses {
				cla.Endpoints[0].LbEndpoints[i].HealthStatus = st
			}
			h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")), edsCluster("web", clusterv3.Cluster_ROUND_ROBIN), cla)
			seen := h.spread(t, 9)
			if len(seen) != tc.wantTo {
				t.Errorf("reached %v, want %d hosts", seen, tc.wantTo)
			}
			for i, st := range tc.statuses {
				if (st == corev3.HealthStatus_UNHEALTHY || st == corev3.HealthStatus_TIMEOUT) && seen[backs[i].addr()] > 0 {
					t.Errorf("host %d (%s) got traffic", i, st)
				}
			}
		})
	}
}

// TestHealthCheckRequestOptions: request headers to add and remove, and
// alt_port, which checks another port of the host.
func TestHealthCheckRequestOptions(t *testing.T) {
	h := newHarness(t)
	a, other := newHCBackend(t), newHCBackend(t)
	hc := httpCheck(1, 1)
	hc.GetHttpHealthCheck().RequestHeadersToAdd = []*corev3.HeaderValueOption{
		{Header: &corev3.HeaderValue{Key: "x-probe", Value: "1"}},
		{Header: &corev3.HeaderValue{Key: "user-agent", Value: "custom"}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD},
	}
	hc.GetHttpHealthCheck().RequestHeadersToRemove = []string{"x-none"}
	h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")), checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, hc), loadAssignmentOf("web", a.addr()))
	waitHealth(t, h.dp, "web", "healthy", allHealthy(1))
	if hdr := *a.lastHdr.Load(); hdr.Get("x-probe") != "1" || hdr.Get("user-agent") != "custom" {
		t.Errorf("check headers %v", hdr)
	}

	// With alt_port the checks of a go to other's port: other failing
	// takes a out.
	other.status.Store(500)
	alt := httpCheck(1, 1)
	alt.AltPort = u32(uint32(other.srv.Listener.Addr().(*net.TCPAddr).Port))
	h.set(t, "2", listener(t), routeConfig(prefixRoute("r", "/", "web")), checkedCluster("web", clusterv3.Cluster_ROUND_ROBIN, alt), loadAssignmentOf("web", a.addr()))
	hosts := waitHealth(t, h.dp, "web", "a checked on the other port", answered(1))
	if hosts[a.addr()].Healthy || other.checks.Load() == 0 {
		t.Errorf("a %+v, other checked %d times", hosts[a.addr()], other.checks.Load())
	}
}
