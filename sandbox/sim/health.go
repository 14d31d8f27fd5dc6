package sim

// Upstream host health, as Envoy keeps it: active health checking, outlier
// detection (passive health checking) and the healthy set the load
// balancers choose from. What the sim relies on, from Envoy's
// documentation (config.core.v3.HealthCheck, config.cluster.v3.
// OutlierDetection, the health checking, outlier detection and panic
// threshold architecture pages):
//
// Active checks
//   - Each host has its own checker. The first check runs at once (or
//     after a random wait below initial_jitter); after that the wait is
//     interval, plus a random part below interval_jitter and below
//     interval_jitter_percent of the interval. While the cluster has never
//     carried traffic, no_traffic_interval (default 60s) replaces the
//     interval (no_traffic_healthy_interval for a healthy host, if set);
//     unhealthy_interval, unhealthy_edge_interval and healthy_edge_interval
//     replace it for unhealthy hosts and on the check that changed a
//     host's state.
//   - A host that joins a cluster with health checking starts as failing
//     its active check, "pending" its first one, and that first success
//     alone makes it healthy: healthy_threshold counts only for hosts that
//     have been checked before.
//   - An HTTP check is GET path with Host set to host, or to the cluster's
//     name when host is empty. Statuses in expected_statuses (default
//     [200, 201)) pass. A status in retriable_statuses, a timeout or a
//     connection failure counts towards unhealthy_threshold; any other
//     status marks the host unhealthy at once, whatever the threshold.
//   - A TCP check without a payload passes when the connection opens.
//
// Outlier detection
//   - Every upstream answer is counted per host. consecutive_5xx (default
//     5) 5xx answers in a row, or consecutive_gateway_failure (default 5)
//     502/503/504 in a row, detect an outlier. Connection failures and
//     resets count as 503 and timeouts as 504 (local-origin errors are
//     not split out unless split_external_local_origin_errors, which the
//     sim does not support).
//   - A detected host is ejected with probability enforcing_consecutive_5xx
//     (default 100%) or enforcing_consecutive_gateway_failure (default 0%),
//     and only if the ejected share of the cluster, counting it, stays at
//     or below max_ejection_percent (default 10%: a cluster of fewer than
//     ten hosts ejects nothing unless the percentage is raised or
//     always_eject_one_host is set).
//   - An ejected host stays out for base_ejection_time (default 30s) times
//     the number of times it was ejected, at most max_ejection_time
//     (default 300s, never less than the base), and returns at the first
//     sweep (every interval, default 10s) after that. Each sweep a host
//     that is in service lowers its ejection count by one.
//   - With active checks too, a passing check returns an ejected host at
//     once unless successful_active_health_check_uneject_host is false.
//   - Success-rate and failure-percentage detection are not simulated:
//     they need request-volume statistics the sandbox's short runs rarely
//     reach, so their settings are accepted and ignored.
//
// Load balancing
//   - Balancers choose among healthy hosts: neither failing their active
//     check nor ejected. When the healthy share of hosts is below the
//     cluster's healthy_panic_threshold (default 50%), the cluster is in
//     panic and balances over all hosts; a threshold of 0 disables panic,
//     so a cluster with no healthy host then answers 503.
//
// Unlike Envoy, a new cluster is not held back (warming) until its first
// round of checks ends: its hosts start unhealthy, so for the moment
// before the first checks answer it balances in panic over all of them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// HostHealth is one upstream host's health as the load balancer sees it.
type HostHealth struct {
	Address string `json:"address"`
	// Healthy hosts are the ones the load balancer chooses from (outside
	// of panic): passing their active check and not ejected.
	Healthy bool `json:"healthy"`
	// FailedHealthCheck is set while the host fails its active check;
	// PendingHealthCheck while it has not been checked yet.
	FailedHealthCheck  bool `json:"failedHealthCheck,omitempty"`
	PendingHealthCheck bool `json:"pendingHealthCheck,omitempty"`
	// Ejected is set while outlier detection keeps the host out, until
	// EjectedUntil (the first sweep after that time returns it).
	Ejected      bool      `json:"ejected,omitempty"`
	EjectedUntil time.Time `json:"ejectedUntil,omitzero"`
	// Ejections is how many times the host was ejected (the multiplier of
	// the base ejection time); lowered by one each sweep in service.
	Ejections int `json:"ejections,omitempty"`
	// Reason says why the host is unhealthy or ejected.
	Reason string `json:"reason,omitempty"`
	// LastCheck is the result of the last active check.
	LastCheck string `json:"lastCheck,omitempty"`
}

// ClusterHealth is the health of a cluster's hosts.
type ClusterHealth struct {
	Hosts []HostHealth `json:"hosts"`
	// Panic is set when the healthy share is below the panic threshold,
	// so requests are balanced over every host.
	Panic bool `json:"panic,omitempty"`
}

// hcSpec is a cluster's compiled active health check.
type hcSpec struct {
	timeout, interval, initialJitter, intervalJitter                   time.Duration
	jitterPercent                                                      uint32
	noTraffic, noTrafficHealthy, unhealthy, unhealthyEdge, healthyEdge time.Duration
	unhealthyThreshold, healthyThreshold                               int
	tcp                                                                bool
	path, host, method                                                 string
	expected, retriable                                                []statusRange
	// altPort, when set, is checked instead of the endpoint's port.
	altPort uint32
	// reuse keeps the check connection open between checks (default).
	reuse      bool
	addHeaders []*corev3.HeaderValueOption
	delHeaders []string
}

type statusRange struct{ start, end int64 } // [start, end)

func inRanges(rs []statusRange, code int) bool {
	for _, r := range rs {
		if int64(code) >= r.start && int64(code) < r.end {
			return true
		}
	}
	return false
}

// odSpec is a cluster's compiled outlier detection.
type odSpec struct {
	consecutive5xx, consecutiveGateway  int
	enforce5xx, enforceGateway          uint32
	interval, baseEjection, maxEjection time.Duration
	maxPercent                          uint32
	alwaysEjectOne, unejectOnCheck      bool
}

// durationOr is d, or def when d is unset.
func durationOr(d *durationpb.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.AsDuration()
}

// uint32Or is v, or def when v is unset.
func uint32Or(v *wrapperspb.UInt32Value, def uint32) uint32 {
	if v == nil {
		return def
	}
	return v.GetValue()
}

// compileHealthCheck reads a cluster's health checks. The sim runs one
// checker per host; a second health check is refused rather than
// silently ignored.
func compileHealthCheck(hcs []*corev3.HealthCheck) (*hcSpec, error) {
	if len(hcs) == 0 {
		return nil, nil
	}
	if len(hcs) > 1 {
		return nil, errors.New("more than one health check is not supported")
	}
	h := hcs[0]
	s := &hcSpec{
		timeout:            h.GetTimeout().AsDuration(),
		interval:           h.GetInterval().AsDuration(),
		initialJitter:      h.GetInitialJitter().AsDuration(),
		intervalJitter:     h.GetIntervalJitter().AsDuration(),
		jitterPercent:      h.GetIntervalJitterPercent(),
		noTraffic:          durationOr(h.GetNoTrafficInterval(), 60*time.Second),
		noTrafficHealthy:   h.GetNoTrafficHealthyInterval().AsDuration(),
		unhealthy:          h.GetUnhealthyInterval().AsDuration(),
		unhealthyEdge:      h.GetUnhealthyEdgeInterval().AsDuration(),
		healthyEdge:        h.GetHealthyEdgeInterval().AsDuration(),
		unhealthyThreshold: int(h.GetUnhealthyThreshold().GetValue()),
		healthyThreshold:   int(h.GetHealthyThreshold().GetValue()),
	}
	if h.GetTimeout() == nil || h.GetInterval() == nil || s.interval <= 0 || s.timeout <= 0 {
		return nil, errors.New("health check: timeout and interval are required and must be positive")
	}
	if h.GetUnhealthyThreshold() == nil || h.GetHealthyThreshold() == nil {
		return nil, errors.New("health check: unhealthy_threshold and healthy_threshold are required")
	}
	s.altPort = h.GetAltPort().GetValue()
	s.reuse = h.GetReuseConnection() == nil || h.GetReuseConnection().GetValue()
	// A threshold of 0 behaves as 1: the first result decides.
	s.unhealthyThreshold, s.healthyThreshold = max(s.unhealthyThreshold, 1), max(s.healthyThreshold, 1)
	switch c := h.GetHealthChecker().(type) {
	case *corev3.HealthCheck_HttpHealthCheck_:
		hh := c.HttpHealthCheck
		if hh.GetCodecClientType() != 0 {
			return nil, fmt.Errorf("health check: codec_client_type %s is not supported", hh.GetCodecClientType())
		}
		if hh.GetSend() != nil || len(hh.GetReceive()) > 0 || hh.GetServiceNameMatcher() != nil {
			return nil, errors.New("health check: HTTP send/receive payloads and service_name_matcher are not supported")
		}
		s.path, s.host = hh.GetPath(), hh.GetHost()
		s.addHeaders, s.delHeaders = hh.GetRequestHeadersToAdd(), hh.GetRequestHeadersToRemove()
		s.method = http.MethodGet
		if m := hh.GetMethod(); m != corev3.RequestMethod_METHOD_UNSPECIFIED {
			s.method = m.String()
		}
		s.expected = []statusRange{{200, 201}}
		if rs := hh.GetExpectedStatuses(); len(rs) > 0 {
			s.expected = nil
			for _, r := range rs {
				s.expected = append(s.expected, statusRange{r.GetStart(), r.GetEnd()})
			}
		}
		for _, r := range hh.GetRetriableStatuses() {
			s.retriable = append(s.retriable, statusRange{r.GetStart(), r.GetEnd()})
		}
	case *corev3.HealthCheck_TcpHealthCheck_:
		if c.TcpHealthCheck.GetSend() != nil || len(c.TcpHealthCheck.GetReceive()) > 0 {
			return nil, errors.New("health check: TCP payloads are not supported (connect-only checks are)")
		}
		s.tcp = true
	default:
		return nil, fmt.Errorf("health check: %T is not supported (HTTP and connect-only TCP are)", c)
	}
	return s, nil
}

// compileOutlierDetection fills in Envoy's defaults.
func compileOutlierDetection(o *clusterv3.OutlierDetection) (*odSpec, error) {
	if o == nil {
		return nil, nil
	}
	if o.GetSplitExternalLocalOriginErrors() {
		return nil, errors.New("outlier detection: split_external_local_origin_errors is not supported")
	}
	s := &odSpec{
		consecutive5xx:     int(uint32Or(o.GetConsecutive_5Xx(), 5)),
		consecutiveGateway: int(uint32Or(o.GetConsecutiveGatewayFailure(), 5)),
		enforce5xx:         min(uint32Or(o.GetEnforcingConsecutive_5Xx(), 100), 100),
		enforceGateway:     min(uint32Or(o.GetEnforcingConsecutiveGatewayFailure(), 0), 100),
		maxPercent:         min(uint32Or(o.GetMaxEjectionPercent(), 10), 100),
		interval:           durationOr(o.GetInterval(), 10*time.Second),
		baseEjection:       durationOr(o.GetBaseEjectionTime(), 30*time.Second),
		maxEjection:        durationOr(o.GetMaxEjectionTime(), 300*time.Second),
		alwaysEjectOne:     o.GetAlwaysEjectOneHost().GetValue(),
		unejectOnCheck:     o.GetSuccessfulActiveHealthCheckUnejectHost() == nil || o.GetSuccessfulActiveHealthCheckUnejectHost().GetValue(),
	}
	if s.interval <= 0 {
		return nil, errors.New("outlier detection: interval must be positive")
	}
	s.maxEjection = max(s.maxEjection, s.baseEjection)
	return s, nil
}

// panicThreshold is the cluster's healthy_panic_threshold in percent.
func panicThreshold(c *clusterv3.Cluster) float64 {
	if p := c.GetCommonLbConfig().GetHealthyPanicThreshold(); p != nil {
		return min(max(p.GetValue(), 0), 100)
	}
	return 50
}

// hostState is one host's health. The request path reads only unhealthy;
// the rest is guarded by the cluster health's mutex.
type hostState struct {
	addr      string
	unhealthy atomic.Bool
	stop      context.CancelFunc

	failedCheck, pendingCheck bool
	passes, fails             int
	lastCheck, checkReason    string
	ejected                   bool
	ejectedUntil              time.Time
	ejections                 int
	cons5xx, consGateway      int
	ejectReason               string
}

// clusterHealth runs a cluster's checkers and outlier detector. It lives
// across configuration changes that keep the cluster resource the same
// (an EDS update changes only its hosts) and is stopped, checkers and
// all, when the cluster changes or goes away.
type clusterHealth struct {
	name  string
	src   *clusterv3.Cluster
	hc    *hcSpec
	od    *odSpec
	log   *slog.Logger
	rnd   func(n uint64) uint64
	now   func() time.Time
	ctx   context.Context
	stopF context.CancelFunc
	wg    sync.WaitGroup
	// cl is the newest compiled cluster, for how to reach the hosts
	// (TLS, protocol).
	cl atomic.Pointer[cluster]
	// traffic is set once a request was forwarded to the cluster, which
	// ends the use of no_traffic_interval.
	traffic atomic.Bool
	tr      *http.Transport

	mu    sync.Mutex
	hosts map[string]*hostState
}

func newClusterHealth(cl *cluster, log *slog.Logger) *clusterHealth {
	ctx, cancel := context.WithCancel(context.Background())
	ch := &clusterHealth{name: cl.name, src: cl.src, hc: cl.hc, od: cl.od, log: log, ctx: ctx, stopF: cancel,
		rnd: func(n uint64) uint64 { return rand.Uint64N(n) }, now: time.Now, hosts: map[string]*hostState{}}
	ch.cl.Store(cl)
	if ch.hc != nil {
		// Checks speak HTTP/1.1 (codec_client_type's default) on their
		// own connections, so they never queue behind traffic.
		ch.tr = &http.Transport{Protocols: new(http.Protocols), MaxIdleConnsPerHost: 1, DisableKeepAlives: !ch.hc.reuse}
		ch.tr.Protocols.SetHTTP1(true)
		ch.tr.DialTLSContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			c := ch.cl.Load()
			if c.tls == nil {
				return nil, errors.New("cluster has no TLS context")
			}
			return c.tls.dialHTTP1(ctx, addr)
		}
	}
	if ch.od != nil {
		ch.wg.Add(1)
		go ch.sweeper()
	}
	return ch
}

// close stops every checker and the detector and waits for them.
func (ch *clusterHealth) close() {
	ch.stopF()
	ch.wg.Wait()
	if ch.tr != nil {
		ch.tr.CloseIdleConnections()
	}
}

// setHosts makes addrs the cluster's hosts: known ones keep their state,
// new ones start (failing their check, pending it, when there are
// checks), gone ones stop being checked. It returns the states by address.
func (ch *clusterHealth) setHosts(addrs []string) map[string]*hostState {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	want := map[string]bool{}
	for _, a := range addrs {
		want[a] = true
		if ch.hosts[a] != nil {
			continue
		}
		h := &hostState{addr: a}
		if ch.hc != nil {
			h.failedCheck, h.pendingCheck = true, true
			h.checkReason = "not checked yet"
			h.unhealthy.Store(true)
			ctx, cancel := context.WithCancel(ch.ctx)
			h.stop = cancel
			ch.wg.Add(1)
			go ch.checker(ctx, h)
		}
		ch.hosts[a] = h
	}
	for a, h := range ch.hosts {
		if !want[a] {
			if h.stop != nil {
				h.stop()
			}
			delete(ch.hosts, a)
		}
	}
	return maps.Clone(ch.hosts)
}

// update recomputes a host's place in the healthy set. Callers hold mu.
func (h *hostState) update() {
	h.unhealthy.Store(h.failedCheck || h.ejected)
}

// nextWait is how long a host's checker waits before its next check.
// rnd(n) draws uniformly from [0, n).
func (s *hcSpec) nextWait(healthy, changed, traffic bool, rnd func(uint64) uint64) time.Duration {
	base := s.interval
	switch {
	case !traffic:
		base = s.noTraffic
		if healthy && s.noTrafficHealthy > 0 {
			base = s.noTrafficHealthy
		}
	case !healthy && changed && s.unhealthyEdge > 0:
		base = s.unhealthyEdge
	case healthy && changed && s.healthyEdge > 0:
		base = s.healthyEdge
	case !healthy && s.unhealthy > 0:
		base = s.unhealthy
	}
	wait := base
	if pct := uint64(s.jitterPercent) * uint64(base) / 100; pct > 0 {
		wait += time.Duration(rnd(pct))
	}
	if s.intervalJitter > 0 {
		wait += time.Duration(rnd(uint64(s.intervalJitter)))
	}
	return wait
}

// checker runs one host's active checks until ctx ends.
func (ch *clusterHealth) checker(ctx context.Context, h *hostState) {
	defer ch.wg.Done()
	wait := time.Duration(0)
	if ch.hc.initialJitter > 0 {
		wait = time.Duration(ch.rnd(uint64(ch.hc.initialJitter)))
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		res := ch.probe(ctx, h.addr)
		if ctx.Err() != nil {
			return
		}
		healthy, changed := ch.record(h, res)
		timer.Reset(ch.hc.nextWait(healthy, changed, ch.traffic.Load(), ch.rnd))
	}
}

// checkResult is one active check's outcome.
type checkResult struct {
	pass bool
	// immediate failures ignore unhealthy_threshold.
	immediate bool
	detail    string
}

// probe runs one check against addr.
func (ch *clusterHealth) probe(parent context.Context, addr string) checkResult {
	ctx, cancel := context.WithTimeout(parent, ch.hc.timeout)
	defer cancel()
	cl := ch.cl.Load()
	if ch.hc.altPort != 0 {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = net.JoinHostPort(host, strconv.Itoa(int(ch.hc.altPort)))
		}
	}
	if ch.hc.tcp {
		var err error
		var c net.Conn
		if cl.tls != nil {
			c, err = cl.tls.dialHTTP1(ctx, addr)
		} else {
			c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}
		if err != nil {
			return checkResult{detail: "connect failed: " + err.Error()}
		}
		_ = c.Close()
		return checkResult{pass: true, detail: "connected"}
	}
	host := ch.hc.host
	if host == "" {
		host = ch.name
	}
	req, err := http.NewRequestWithContext(ctx, ch.hc.method, cl.scheme()+"://"+addr+ch.hc.path, nil)
	if err != nil {
		return checkResult{immediate: true, detail: err.Error()}
	}
	req.Host = host
	req.Header.Set("User-Agent", "Envoy/HC")
	// Header values are taken literally: the sim has no formatter for
	// %UPSTREAM_...% variables in checks.
	for _, o := range ch.hc.addHeaders {
		k, v := o.GetHeader().GetKey(), o.GetHeader().GetValue()
		switch o.GetAppendAction() {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			if o.GetAppend() != nil && !o.GetAppend().GetValue() {
				req.Header.Set(k, v)
			} else {
				req.Header.Add(k, v)
			}
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if req.Header.Get(k) == "" {
				req.Header.Set(k, v)
			}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			req.Header.Set(k, v)
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			if req.Header.Get(k) != "" {
				req.Header.Set(k, v)
			}
		}
	}
	for _, k := range ch.hc.delHeaders {
		req.Header.Del(k)
	}
	resp, err := ch.tr.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil && parent.Err() == nil {
			return checkResult{detail: "timed out after " + ch.hc.timeout.String()}
		}
		return checkResult{detail: "connection failed: " + err.Error()}
	}
	_ = resp.Body.Close()
	code := resp.StatusCode
	switch {
	case inRanges(ch.hc.expected, code):
		return checkResult{pass: true, detail: "HTTP " + strconv.Itoa(code)}
	case inRanges(ch.hc.retriable, code):
		return checkResult{detail: "HTTP " + strconv.Itoa(code) + " (retriable)"}
	}
	return checkResult{immediate: true, detail: "HTTP " + strconv.Itoa(code) + " is not an expected status"}
}

// record applies a check's result; it reports whether the host now
// passes its checks and whether that changed.
func (ch *clusterHealth) record(h *hostState, r checkResult) (healthy, changed bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	was := !h.failedCheck
	h.lastCheck = r.detail
	if r.pass {
		h.fails = 0
		if h.failedCheck {
			h.passes++
			if h.pendingCheck || h.passes >= ch.hc.healthyThreshold {
				h.failedCheck, h.passes, h.checkReason = false, 0, ""
			}
		}
		if h.ejected && ch.od != nil && ch.od.unejectOnCheck {
			ch.unejectLocked(h, "returned by a passing health check")
		}
	} else {
		h.passes = 0
		h.fails++
		if !h.failedCheck && (r.immediate || h.fails >= ch.hc.unhealthyThreshold) {
			h.failedCheck = true
			if r.immediate {
				h.checkReason = "health check failed: " + r.detail
			} else {
				h.checkReason = fmt.Sprintf("health check failed %d times in a row: %s", h.fails, r.detail)
			}
		}
	}
	h.pendingCheck = false
	h.update()
	if was != !h.failedCheck {
		ch.log.Info("sim: host health changed", "cluster", ch.name, "host", h.addr, "healthy", !h.failedCheck, "check", r.detail)
	}
	return !h.failedCheck, was != !h.failedCheck
}

// observe counts an upstream answer (status) or a local-origin failure
// (err, timedOut) for outlier detection and ejects the host when it is
// an outlier.
func (ch *clusterHealth) observe(h *hostState, status int, err error, timedOut bool) {
	if ch.od == nil || h == nil {
		return
	}
	switch {
	case timedOut:
		status = 504
	case err != nil:
		status = 503
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.hosts[h.addr] != h {
		return // no longer a host of this cluster
	}
	if status < 500 {
		h.cons5xx, h.consGateway = 0, 0
		return
	}
	if status >= 502 && status <= 504 {
		h.consGateway++
		if h.consGateway >= ch.od.consecutiveGateway {
			h.consGateway = 0
			ch.ejectLocked(h, fmt.Sprintf("%d consecutive gateway failures", ch.od.consecutiveGateway), ch.od.enforceGateway)
		}
	} else {
		h.consGateway = 0
	}
	h.cons5xx++
	if h.cons5xx >= ch.od.consecutive5xx {
		h.cons5xx = 0
		ch.ejectLocked(h, fmt.Sprintf("%d consecutive 5xx", ch.od.consecutive5xx), ch.od.enforce5xx)
	}
}

// ejectLocked ejects a detected outlier if max_ejection_percent and the
// enforcing percentage allow. Callers hold mu.
func (ch *clusterHealth) ejectLocked(h *hostState, why string, enforcing uint32) {
	if h.ejected {
		return
	}
	active := 0
	for _, o := range ch.hosts {
		if o.ejected {
			active++
		}
	}
	share := 100 * float64(active+1) / float64(len(ch.hosts))
	if share > float64(ch.od.maxPercent) && !(ch.od.alwaysEjectOne && active == 0) {
		ch.log.Info("sim: outlier not ejected: max_ejection_percent reached", "cluster", ch.name, "host", h.addr, "detected", why, "maxEjectionPercent", ch.od.maxPercent)
		return
	}
	if ch.rnd(100) >= uint64(enforcing) {
		return
	}
	now := ch.now()
	h.ejected, h.ejections = true, h.ejections+1
	h.ejectedUntil = now.Add(min(ch.od.baseEjection*time.Duration(h.ejections), ch.od.maxEjection))
	h.ejectReason = "ejected by outlier detection: " + why
	h.update()
	ch.log.Info("sim: host ejected", "cluster", ch.name, "host", h.addr, "reason", why, "until", h.ejectedUntil)
}

func (ch *clusterHealth) unejectLocked(h *hostState, why string) {
	h.ejected, h.ejectReason = false, ""
	h.cons5xx, h.consGateway = 0, 0
	h.update()
	ch.log.Info("sim: host returned", "cluster", ch.name, "host", h.addr, "why", why)
}

// sweeper returns ejected hosts whose time is up, every interval.
func (ch *clusterHealth) sweeper() {
	defer ch.wg.Done()
	t := time.NewTicker(ch.od.interval)
	defer t.Stop()
	for {
		select {
		case <-ch.ctx.Done():
			return
		case <-t.C:
		}
		ch.sweep()
	}
}

func (ch *clusterHealth) sweep() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	now := ch.now()
	for _, h := range ch.hosts {
		switch {
		case h.ejected && !now.Before(h.ejectedUntil):
			ch.unejectLocked(h, "ejection time over")
		case !h.ejected && h.ejections > 0:
			h.ejections--
		}
	}
}

// snapshot reports the hosts' health in address order.
func (ch *clusterHealth) snapshot() []HostHealth {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	out := make([]HostHealth, 0, len(ch.hosts))
	for _, h := range ch.hosts {
		hh := HostHealth{Address: h.addr, Healthy: !h.failedCheck && !h.ejected, FailedHealthCheck: h.failedCheck, PendingHealthCheck: h.pendingCheck,
			Ejected: h.ejected, Ejections: h.ejections, LastCheck: h.lastCheck}
		if h.ejected {
			hh.EjectedUntil = h.ejectedUntil
		}
		switch {
		case h.ejected && h.failedCheck:
			hh.Reason = h.checkReason + "; " + h.ejectReason
		case h.ejected:
			hh.Reason = h.ejectReason
		case h.failedCheck:
			hh.Reason = h.checkReason
		}
		out = append(out, hh)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// attachHealth gives cfg's clusters their health state: a cluster whose
// resource is unchanged keeps its checkers and detector (and with them
// its hosts' health), a changed one gets new ones, and those of clusters
// that went away stop. Called by apply, with dp.mu held, before cfg is
// installed.
func (dp *DataPlane) attachHealth(cfg *config) {
	for name, cl := range cfg.clusters {
		old := dp.health[name]
		if cl.hc == nil && cl.od == nil {
			if old != nil {
				old.close()
				delete(dp.health, name)
			}
			continue
		}
		if old != nil && cl.health == old {
			continue // the previous build's cluster, kept while warming
		}
		if old == nil || !proto.Equal(old.src, cl.src) {
			if old != nil {
				old.close()
			}
			old = newClusterHealth(cl, dp.log)
			dp.health[name] = old
		}
		old.cl.Store(cl)
		addrs := make([]string, len(cl.endpoints))
		for i, ep := range cl.endpoints {
			addrs[i] = ep.addr
		}
		states := old.setHosts(addrs)
		for i := range cl.endpoints {
			cl.endpoints[i].host = states[cl.endpoints[i].addr]
		}
		cl.health = old
	}
	for name, ch := range dp.health {
		if cfg.clusters[name] == nil {
			ch.close()
			delete(dp.health, name)
		}
	}
}

// candidates are the endpoints the balancer may choose from: nil for all
// of them, else the healthy ones, or all again (panic) when the healthy
// share is below the panic threshold. An empty, non-nil set means no
// healthy host and no panic.
func (c *cluster) candidates() (set []int, panicking bool) {
	if c.health == nil && !c.edsHealth {
		return nil, false
	}
	set = make([]int, 0, len(c.endpoints))
	for i, ep := range c.endpoints {
		if ep.edsStatus == "" && (ep.host == nil || !ep.host.unhealthy.Load()) {
			set = append(set, i)
		}
	}
	if len(set) == len(c.endpoints) {
		return nil, false
	}
	if 100*float64(len(set))/float64(len(c.endpoints)) < c.panicThreshold {
		return nil, true
	}
	return set, false
}
