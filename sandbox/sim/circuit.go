package sim

// Circuit breaking, as Envoy's cluster resource manager and connection
// pools do it (envoy.config.cluster.v3.CircuitBreakers, the circuit
// breaking architecture page, upstream/resource_manager_impl.h and
// conn_pool_base.cc):
//
//   - Each cluster has one set of limits per routing priority (DEFAULT and
//     HIGH); a route's priority chooses the set. The first thresholds entry
//     for a priority wins; unset limits are 1024 connections, 1024 pending
//     requests, 1024 requests and 3 retries.
//   - max_requests bounds the requests outstanding to all hosts of the
//     cluster, whatever the protocol. Every try of a request needs one; past
//     the limit the try fails at once with 503 and the UO response flag, and
//     upstream_rq_pending_overflow counts it.
//   - max_pending_requests bounds the requests waiting for a connection. A
//     request that finds no ready connection is pending; if the pending
//     limit is reached it fails like an overflow of max_requests. On
//     HTTP/1.1 a connection carries one request at a time, so requests are
//     pending whenever every connection is busy; on HTTP/2 one connection
//     per host multiplexes every request, so nothing waits once it is up.
//   - max_connections bounds the connections to all hosts of the cluster.
//     A pending request that cannot get a new connection because of it
//     waits for a busy one to be released; upstream_cx_overflow counts each
//     refusal. A host with no connection at all always gets one, so no
//     request waits for a connection that can never come.
//   - max_retries bounds the retries in flight. A retry_budget with
//     budget_percent or min_retry_concurrency set replaces it with
//     budget_percent of the active and pending requests, at least
//     min_retry_concurrency (defaults 20% and 3). A retry the limit refuses
//     is not made: the answer that asked for it goes back, with the UO flag,
//     and upstream_rq_retry_overflow counts it.
//
// The limits are per cluster and shared by every listener; Envoy's are
// per cluster and shared by its worker threads, so the sim, which has one
// pool per host, overflows where a single-worker Envoy would. For HTTP/2
// clusters the sim enforces max_requests and the retry limits; their one
// multiplexed connection per host is not counted against max_connections,
// and no request waits for it (in Envoy requests wait, as pending, only
// while that connection is being established).

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// Priority is a route's routing priority (RouteAction.priority), which
// picks the circuit-breaker thresholds of the cluster.
type Priority int

// The routing priorities Envoy has.
const (
	PriorityDefault Priority = iota
	PriorityHigh
	numPriorities
)

func (p Priority) String() string {
	if p == PriorityHigh {
		return "high"
	}
	return "default"
}

// MarshalText writes the priority as Envoy's enum names it, lower case.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// thresholds are one priority's circuit-breaker limits.
type thresholds struct {
	maxConnections, maxPending, maxRequests, maxRetries int64
	// budget replaces maxRetries when set.
	budget        bool
	budgetPercent float64
	budgetMin     int64
}

// resourceCounts are what one priority has in use.
type resourceCounts struct {
	cx, pending, rq, retries atomic.Int64
}

// breakers are a cluster's circuit breakers: limits and what is in use,
// per priority. They live as long as the cluster's configuration does:
// an update that leaves the circuit breakers alone keeps them, so
// requests in flight stay counted.
type breakers struct {
	src    *clusterv3.CircuitBreakers
	limits [numPriorities]thresholds
	used   [numPriorities]resourceCounts
}

func newBreakers(cb *clusterv3.CircuitBreakers) *breakers {
	r := &breakers{src: cb}
	seen := [numPriorities]bool{}
	for i := range r.limits {
		r.limits[i] = thresholds{maxConnections: 1024, maxPending: 1024, maxRequests: 1024, maxRetries: 3}
	}
	for _, t := range cb.GetThresholds() {
		p := PriorityDefault
		if t.GetPriority() == corev3.RoutingPriority_HIGH {
			p = PriorityHigh
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		l := &r.limits[p]
		if v := t.GetMaxConnections(); v != nil {
			l.maxConnections = int64(v.GetValue())
		}
		if v := t.GetMaxPendingRequests(); v != nil {
			l.maxPending = int64(v.GetValue())
		}
		if v := t.GetMaxRequests(); v != nil {
			l.maxRequests = int64(v.GetValue())
		}
		if v := t.GetMaxRetries(); v != nil {
			l.maxRetries = int64(v.GetValue())
		}
		if b := t.GetRetryBudget(); b != nil && (b.GetBudgetPercent() != nil || b.GetMinRetryConcurrency() != nil) {
			l.budget, l.budgetPercent, l.budgetMin = true, 20, 3
			if b.GetBudgetPercent() != nil {
				l.budgetPercent = b.GetBudgetPercent().GetValue()
			}
			if b.GetMinRetryConcurrency() != nil {
				l.budgetMin = int64(b.GetMinRetryConcurrency().GetValue())
			}
		}
	}
	return r
}

// take reserves one of a counter if it is under limit.
func take(c *atomic.Int64, limit int64) bool {
	for {
		cur := c.Load()
		if cur >= limit {
			return false
		}
		if c.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}

// retryLimit is how many retries may be in flight now.
func (r *breakers) retryLimit(p Priority) int64 {
	l := &r.limits[p]
	if !l.budget {
		return l.maxRetries
	}
	u := &r.used[p]
	return max(int64(l.budgetPercent/100*float64(u.rq.Load()+u.pending.Load())), l.budgetMin)
}

// clusterStats are a cluster's counters under Envoy's names. They belong
// to the cluster's name and outlive updates of its configuration.
type clusterStats struct {
	rqTotal, rqPendingTotal, rqPendingOverflow, cxTotal, cxOverflow, rqRetry, rqRetryOverflow, rqTimeout atomic.Uint64
}

// Stats returns the data plane's statistics, named as Envoy's admin /stats
// names them (cluster.<name>.upstream_rq_pending_overflow, ...): the
// counters of every cluster, the gauges of what is in use, and the
// circuit breakers' open gauges (1 when the limit is reached).
func (dp *DataPlane) Stats() map[string]uint64 {
	out := map[string]uint64{}
	cfg := dp.cfg.Load()
	for name, cl := range cfg.clusters {
		p := "cluster." + name + "."
		s := cl.stats
		out[p+"upstream_rq_total"] = s.rqTotal.Load()
		out[p+"upstream_rq_pending_total"] = s.rqPendingTotal.Load()
		out[p+"upstream_rq_pending_overflow"] = s.rqPendingOverflow.Load()
		out[p+"upstream_cx_total"] = s.cxTotal.Load()
		out[p+"upstream_cx_overflow"] = s.cxOverflow.Load()
		out[p+"upstream_rq_retry"] = s.rqRetry.Load()
		out[p+"upstream_rq_retry_overflow"] = s.rqRetryOverflow.Load()
		out[p+"upstream_rq_timeout"] = s.rqTimeout.Load()
		var rq, pending, cx int64
		for pr := range numPriorities {
			u, l := &cl.res.used[pr], &cl.res.limits[pr]
			rq, pending, cx = rq+u.rq.Load(), pending+u.pending.Load(), cx+u.cx.Load()
			cp := p + "circuit_breakers." + pr.String() + "."
			out[cp+"cx_open"] = open(u.cx.Load(), l.maxConnections)
			out[cp+"rq_pending_open"] = open(u.pending.Load(), l.maxPending)
			out[cp+"rq_open"] = open(u.rq.Load(), l.maxRequests)
			out[cp+"rq_retry_open"] = open(u.retries.Load(), cl.res.retryLimit(pr))
		}
		out[p+"upstream_rq_active"] = uint64(max(rq, 0))
		out[p+"upstream_rq_pending_active"] = uint64(max(pending, 0))
		out[p+"upstream_cx_active"] = uint64(max(cx, 0))
	}
	return out
}

func open(used, limit int64) uint64 {
	if used >= limit {
		return 1
	}
	return 0
}

// ClusterStat picks one cluster's statistics out of Stats, by their name
// without the cluster prefix.
func ClusterStat(stats map[string]uint64, cluster, name string) uint64 {
	return stats["cluster."+cluster+"."+name]
}

// StatNames lists the names of stats in order, for printing.
func StatNames(stats map[string]uint64) []string {
	names := make([]string, 0, len(stats))
	for n := range stats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// overflowError is a try refused by a circuit breaker.
type overflowError struct{ what string }

func (e *overflowError) Error() string { return "overflow: " + e.what }

// h1Pool is the HTTP/1.1 connection pool of one host: each connection is
// its own single-connection transport, handed to one request at a time,
// so the pool knows exactly how many connections there are and which are
// busy.
type h1Pool struct {
	mu      sync.Mutex
	idle    []*http.Transport
	total   int
	waiters []chan *http.Transport
}

// upstreamConn is what one try holds: the transport to send on and how
// to give it back.
type upstreamConn struct {
	tr      *http.Transport
	release func(reusable bool)
}

// acquire gets a connection for one try to the endpoint, under the
// cluster's circuit breakers for priority p: a request slot, then a ready
// connection, a new one, or a wait for a busy one as a pending request.
// It fails with *overflowError when a breaker refuses, or with ctx's error.
func (dp *DataPlane) acquire(ctx context.Context, cl *cluster, p Priority, ep endpoint) (*upstreamConn, error) {
	res, st := cl.res, cl.stats
	u, l := &res.used[p], &res.limits[p]
	if !take(&u.rq, l.maxRequests) {
		st.rqPendingOverflow.Add(1)
		return nil, &overflowError{"max_requests"}
	}
	st.rqTotal.Add(1)
	freeRq := func() { u.rq.Add(-1) }
	if cl.http2 {
		// One multiplexed connection per host: a request never waits
		// for another to end.
		tr := dp.transportFor(cl)
		return &upstreamConn{tr: tr, release: func(bool) { freeRq() }}, nil
	}
	pool := dp.h1PoolFor(cl, p, ep.addr)
	pool.mu.Lock()
	if n := len(pool.idle); n > 0 {
		tr := pool.idle[n-1]
		pool.idle = pool.idle[:n-1]
		pool.mu.Unlock()
		return dp.h1Conn(cl, p, pool, tr, freeRq), nil
	}
	// No ready connection: the request is pending, if it may be.
	if !take(&u.pending, l.maxPending) {
		pool.mu.Unlock()
		freeRq()
		st.rqPendingOverflow.Add(1)
		return nil, &overflowError{"max_pending_requests"}
	}
	st.rqPendingTotal.Add(1)
	if tr := dp.newH1Conn(cl, p, pool); tr != nil {
		pool.mu.Unlock()
		u.pending.Add(-1)
		return dp.h1Conn(cl, p, pool, tr, freeRq), nil
	}
	ch := make(chan *http.Transport, 1)
	pool.waiters = append(pool.waiters, ch)
	pool.mu.Unlock()
	select {
	case tr := <-ch:
		u.pending.Add(-1)
		return dp.h1Conn(cl, p, pool, tr, freeRq), nil
	case <-ctx.Done():
		pool.mu.Lock()
		if i := indexOf(pool.waiters, ch); i >= 0 {
			pool.waiters = append(pool.waiters[:i], pool.waiters[i+1:]...)
			pool.mu.Unlock()
		} else {
			// Handed a connection as the wait ended: pass it on.
			pool.mu.Unlock()
			dp.releaseH1(cl, p, pool, <-ch, true)
		}
		u.pending.Add(-1)
		freeRq()
		return nil, ctx.Err()
	}
}

func indexOf(ws []chan *http.Transport, ch chan *http.Transport) int {
	for i, w := range ws {
		if w == ch {
			return i
		}
	}
	return -1
}

// newH1Conn opens a connection of the pool if the connection breaker
// allows it, or if the host has none at all. Callers hold pool.mu.
func (dp *DataPlane) newH1Conn(cl *cluster, p Priority, pool *h1Pool) *http.Transport {
	u, l := &cl.res.used[p], &cl.res.limits[p]
	if !take(&u.cx, l.maxConnections) {
		cl.stats.cxOverflow.Add(1)
		if pool.total > 0 {
			return nil
		}
		u.cx.Add(1)
	}
	pool.total++
	cl.stats.cxTotal.Add(1)
	tr := dp.transport(cl)
	tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = 1, 1
	return tr
}

func (dp *DataPlane) h1Conn(cl *cluster, p Priority, pool *h1Pool, tr *http.Transport, freeRq func()) *upstreamConn {
	var once sync.Once
	return &upstreamConn{tr: tr, release: func(reusable bool) {
		once.Do(func() {
			freeRq()
			dp.releaseH1(cl, p, pool, tr, reusable)
		})
	}}
}

// releaseH1 gives a connection back: to the first pending request, or to
// the idle list. A connection that cannot be reused (the try was cut off
// mid-answer) is closed, and a pending request may open one instead.
func (dp *DataPlane) releaseH1(cl *cluster, p Priority, pool *h1Pool, tr *http.Transport, reusable bool) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if !reusable {
		tr.CloseIdleConnections()
		pool.total--
		cl.res.used[p].cx.Add(-1)
		if len(pool.waiters) == 0 {
			return
		}
		if tr = dp.newH1Conn(cl, p, pool); tr == nil {
			return
		}
	}
	if len(pool.waiters) > 0 {
		ch := pool.waiters[0]
		pool.waiters = pool.waiters[1:]
		ch <- tr
		return
	}
	pool.idle = append(pool.idle, tr)
}

// h1PoolFor returns the pool of one host of the cluster at one priority.
// Like Envoy's, pools belong to the cluster's configuration: a change of
// its circuit breakers (or protocol, or TLS) starts new ones.
func (dp *DataPlane) h1PoolFor(cl *cluster, p Priority, addr string) *h1Pool {
	key := h1PoolKey(cl, p, addr)
	if pool, ok := dp.h1Pools.Load(key); ok {
		return pool.(*h1Pool)
	}
	pool, _ := dp.h1Pools.LoadOrStore(key, &h1Pool{})
	return pool.(*h1Pool)
}

// pruneH1Pools closes the HTTP/1.1 pools of clusters that are gone (or
// changed pool) and of hosts they no longer have.
func (dp *DataPlane) pruneH1Pools(cfg *config) {
	keep := map[string]bool{}
	for _, cl := range cfg.clusters {
		for _, ep := range cl.endpoints {
			for p := range numPriorities {
				keep[h1PoolKey(cl, p, ep.addr)] = true
			}
		}
	}
	dp.h1Pools.Range(func(k, v any) bool {
		if keep[k.(string)] {
			return true
		}
		dp.h1Pools.Delete(k)
		pool := v.(*h1Pool)
		pool.mu.Lock()
		for _, tr := range pool.idle {
			tr.CloseIdleConnections()
		}
		pool.idle = nil
		pool.mu.Unlock()
		return true
	})
}

func h1PoolKey(cl *cluster, p Priority, addr string) string {
	return fmt.Sprintf("%s|%p|%d|%s", cl.poolKey, cl.res, p, addr)
}

// routePriority reads RouteAction.priority.
func routePriority(p corev3.RoutingPriority) Priority {
	if p == corev3.RoutingPriority_HIGH {
		return PriorityHigh
	}
	return PriorityDefault
}

// addFlag adds an Envoy response flag to a set printed the way
// %RESPONSE_FLAGS% prints it: short names joined by ",".
func addFlag(flags, f string) string {
	if flags == "" {
		return f
	}
	for _, have := range strings.Split(flags, ",") {
		if have == f {
			return flags
		}
	}
	return flags + "," + f
}
