package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// routerDef is the router, the terminal filter: the connection manager
// ends its chain with routeRequest and forward.
var routerDef = filterDef{
	kind:  filterRouter,
	types: []string{"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
	compile: func(a *anypb.Any) (filterImpl, error) {
		_, err := unpackAny(a, &routerv3.Router{})
		return nil, err
	},
}

// retryState is the router's account of one request's retries, as
// Envoy's RetryStateImpl keeps it: what the policy retries on, how many
// tries are left, the backoff, and the cluster's retry slot a retry holds
// from its backoff until its try ends.
type retryState struct {
	on                       retryOn
	retries                  uint32
	perTry, base, maxBackoff time.Duration
	cl                       *cluster
	prio                     Priority
	holding                  bool
}

func newRetryState(d *Decision, cl *cluster) *retryState {
	rs := &retryState{cl: cl, prio: d.Priority}
	if rp := d.Retry; rp != nil {
		var codes []uint32
		if rt := d.MatchedRoute(); rt != nil && rt.action.retry != nil {
			codes = rt.action.retry.GetRetriableStatusCodes()
		}
		rs.on = parseRetryOn(rp.RetryOn, codes)
		rs.retries, rs.perTry, rs.base, rs.maxBackoff = rp.NumRetries, rp.PerTryTimeout, rp.BackoffBase, rp.BackoffMax
	}
	return rs
}

// reserve takes a retry slot from the cluster's circuit breaker; false
// when the breaker (max_retries or the retry budget) refuses.
func (rs *retryState) reserve() bool {
	rs.holding = rs.cl.retryAllowed(rs.prio)
	return rs.holding
}

// endTry gives back the slot of a retry whose try has ended.
func (rs *retryState) endTry() {
	if rs.holding {
		rs.cl.res.used[rs.prio].retries.Add(-1)
		rs.holding = false
	}
}

// backoff is the wait before retry n (from 0): fully jittered exponential
// backoff, uniform in [0, base*(2^(n+1) - 1)], capped at the maximum.
func (rs *retryState) backoff(n uint32) time.Duration {
	bound := rs.base * time.Duration((uint64(1)<<min(n+1, 30))-1)
	if bound > rs.maxBackoff || bound <= 0 {
		bound = rs.maxBackoff
	}
	if bound <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(bound)))
}

// pooledBody is an upstream answer's body that gives its connection back
// to the pool when closed: for reuse if the answer was read to its end.
type pooledBody struct {
	rc      io.ReadCloser
	eof     bool
	release func(reusable bool)
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	err := b.rc.Close()
	b.release(b.eof)
	return err
}

// forward is the router filter's upstream half: it sends the request to
// the cluster with the route's retry policy, each try under the cluster's
// circuit breakers, all under the route timeout that covers every try.
func (dp *DataPlane) forward(w http.ResponseWriter, r *http.Request, hc *hcmConfig, cl *cluster, d *Decision, up Headers, body *requestBody, respAdd Headers, ex *Exchange) {
	// The route timeout covers every try and, as in Envoy, runs from
	// the end of the request body.
	ctx, cancelRoute := timeoutAfterBody(r.Context(), body, d.Timeout)
	defer cancelRoute()
	if d.Timeout > 0 {
		up.Set("x-envoy-expected-rq-timeout-ms", strconv.FormatInt(d.Timeout.Milliseconds(), 10))
	}
	noteHealth(cl, ex)
	if len(cl.endpoints) == 0 {
		sendLocal(w, ex, &localReply{status: 503, body: "no healthy upstream", by: "router", flag: "UH"}, respAdd)
		return
	}
	rs := newRetryState(d, cl)
	defer rs.endTry()
	var hash uint64
	var hashed bool
	if rt := d.MatchedRoute(); rt != nil {
		hash, hashed = hashRequest(rt.action.hashPolicy, up)
	}
	timedOut := func() {
		if errors.Is(context.Cause(r.Context()), errStreamIdle) {
			sendLocal(w, ex, &localReply{status: http.StatusRequestTimeout, body: "stream timeout", by: "http_connection_manager", flag: "SI"}, respAdd)
			return
		}
		cl.stats.rqTimeout.Add(1)
		sendLocal(w, ex, &localReply{status: 504, body: "upstream request timeout", by: "router", flag: "UT"}, respAdd)
	}
	last := -1
	for attempt := uint32(0); ; attempt++ {
		i := cl.pick(hash, hashed, last)
		if i < 0 {
			// Every host is unhealthy and the panic threshold is 0.
			sendLocal(w, ex, &localReply{status: 503, body: "no healthy upstream", by: "router", flag: "UH"}, respAdd)
			return
		}
		last = i
		ep := cl.endpoints[i]
		ex.Endpoint = ep.addr
		tctx, cancel := timeoutAfterBody(ctx, body, rs.perTry)
		if attempt > 0 {
			up.Set("x-envoy-attempt-count", strconv.Itoa(int(attempt)+1))
		}
		if attempt > 0 && body.overflowed() {
			// The body outgrew the buffer after the retry was decided,
			// during the backoff: Envoy can no longer send it again.
			cancel()
			ex.Notes = append(ex.Notes, fmt.Sprintf("request body exceeded the %d byte retry buffer limit while retrying", body.limit))
			sendLocal(w, ex, &localReply{status: 507, body: "exceeded request buffer limit while retrying upstream", by: "router"}, respAdd)
			return
		}
		start := time.Now()
		conn, err := dp.acquire(tctx, cl, d.Priority, ep)
		var of *overflowError
		if errors.As(err, &of) {
			// An overflow is never retried.
			cancel()
			ex.Attempts = append(ex.Attempts, Attempt{Endpoint: ep.addr, Error: err.Error(), Duration: time.Since(start)})
			ex.Notes = append(ex.Notes, fmt.Sprintf("cluster %q: the %s circuit breaker (%s priority) is open", cl.name, of.what, d.Priority))
			sendLocal(w, ex, overflowReply(), respAdd)
			return
		}
		var resp *http.Response
		if err == nil {
			var reqBody io.Reader
			length := int64(0)
			var try *tryBody
			if body != nil {
				try = body.nextTry()
				reqBody, length = try, body.length
			}
			req, rerr := upstreamRequest(tctx, cl.scheme(), ep.addr, up, reqBody, length)
			if rerr != nil {
				conn.release(true)
				cancel()
				sendLocal(w, ex, &localReply{status: 500, body: rerr.Error(), by: "router"}, respAdd)
				return
			}
			if try != nil {
				gen := try.gen
				req.GetBody = func() (io.ReadCloser, error) { return body.replay(gen) }
			}
			ep.active.Add(1)
			resp, err = conn.tr.RoundTrip(req)
			ep.active.Add(-1)
			if err != nil {
				conn.release(false)
			} else {
				resp.Body = &pooledBody{rc: resp.Body, release: conn.release}
			}
			if cl.health != nil {
				// A client that went away says nothing about the
				// host; a per-try or route timeout counts as a 504
				// from it.
				switch {
				case err == nil:
					cl.health.observe(ep.host, resp.StatusCode, nil, false)
				case r.Context().Err() != nil:
				case tctx.Err() != nil:
					cl.health.observe(ep.host, 0, err, true)
				default:
					cl.health.observe(ep.host, 0, err, false)
				}
			}
		}
		rs.endTry()
		at := Attempt{Endpoint: ep.addr, Duration: time.Since(start)}
		var retry bool
		if err != nil {
			at.Error = err.Error()
			tryTimedOut := tctx.Err() != nil
			if ctx.Err() != nil {
				cancel()
				ex.Attempts = append(ex.Attempts, at)
				timedOut()
				return
			}
			retry = rs.on.failure(err, tryTimedOut)
			if retry && attempt < rs.retries && body.overflowed() {
				ex.Notes = append(ex.Notes, fmt.Sprintf("request body exceeded the %d byte retry buffer limit: no retry", body.limit))
				retry = false
			}
			if retry && attempt < rs.retries && !rs.reserve() {
				ex.Notes = append(ex.Notes, "retry budget exhausted: no retry")
				ex.Flags = addFlag(ex.Flags, "UO")
				retry = false
			}
			if !retry || attempt >= rs.retries {
				cancel()
				ex.Attempts = append(ex.Attempts, at)
				if retry {
					ex.Flags = addFlag(ex.Flags, "URX")
				}
				if tryTimedOut {
					timedOut()
					return
				}
				flag := "UR"
				if connectFailure(err) {
					flag = "UF"
				}
				sendLocal(w, ex, &localReply{status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: " + resetReason(err), by: "router", flag: flag}, respAdd)
				return
			}
		} else {
			at.Status = resp.StatusCode
			retry = rs.on.status(resp.StatusCode)
			if retry && attempt >= rs.retries {
				ex.Flags = addFlag(ex.Flags, "URX")
				retry = false
			}
			if retry && body.overflowed() {
				// Envoy stops buffering once the body passes the limit
				// and gives up on retrying (retry_or_shadow_abandoned):
				// the try that is running is the only one.
				ex.Notes = append(ex.Notes, fmt.Sprintf("request body exceeded the %d byte retry buffer limit: no retry", body.limit))
				retry = false
			}
			if retry && !rs.reserve() {
				// The answer that asked for the retry goes back, marked
				// as an overflow.
				ex.Notes = append(ex.Notes, "retry budget exhausted: no retry")
				ex.Flags = addFlag(ex.Flags, "UO")
				retry = false
			}
			if !retry {
				ex.Attempts = append(ex.Attempts, at)
				dp.relay(w, hc, d, resp, respAdd, ex)
				cancel()
				return
			}
			// A little is read so the connection can be reused; a
			// streaming answer is cut off.
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
			resp.Body.Close()
		}
		cancel()
		at.Backoff = rs.backoff(attempt)
		ex.Attempts = append(ex.Attempts, at)
		timer := time.NewTimer(at.Backoff)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			timedOut()
			return
		}
	}
}

// noteHealth records the cluster's host health on the exchange, for
// clusters whose hosts are checked, ejected or marked by EDS.
func noteHealth(cl *cluster, ex *Exchange) {
	if cl.health == nil && !cl.edsHealth {
		return
	}
	_, panicking := cl.candidates()
	if cl.health != nil {
		cl.health.traffic.Store(true)
		ex.Health = &ClusterHealth{Hosts: cl.health.snapshot(), Panic: panicking}
		for _, h := range ex.Health.Hosts {
			if !h.Healthy {
				ex.Notes = append(ex.Notes, fmt.Sprintf("host %s is unhealthy: %s", h.Address, h.Reason))
			}
		}
	}
	for _, ep := range cl.endpoints {
		if ep.edsStatus != "" {
			ex.Notes = append(ex.Notes, fmt.Sprintf("host %s is %s in the cluster's load assignment", ep.addr, ep.edsStatus))
		}
	}
	if panicking {
		ex.Notes = append(ex.Notes, fmt.Sprintf("cluster %q is in panic: fewer than %g%% of its hosts are healthy, so all hosts are balanced over", cl.name, cl.panicThreshold))
	}
}

// overflowReply is the router's answer when a circuit breaker refuses a
// try: Envoy marks it x-envoy-overloaded.
func overflowReply() *localReply {
	return &localReply{status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: overflow", by: "router", flag: "UO",
		headers: Headers{{"x-envoy-overloaded", "true"}}}
}

// retryOn is a parsed retry_on list.
type retryOn struct {
	fiveXX, gatewayErr, reset, connectFailure, retriable4xx, refused bool
	codes                                                            map[int]bool
}

func parseRetryOn(s string, codes []uint32) retryOn {
	var ro retryOn
	for _, c := range strings.Split(s, ",") {
		switch strings.TrimSpace(c) {
		case "5xx":
			ro.fiveXX = true
		case "gateway-error":
			ro.gatewayErr = true
		case "reset", "reset-before-request":
			ro.reset = true
		case "connect-failure":
			ro.connectFailure = true
		case "retriable-4xx":
			ro.retriable4xx = true
		case "refused-stream":
			ro.refused = true
		case "retriable-status-codes":
			ro.codes = map[int]bool{}
			for _, code := range codes {
				ro.codes[int(code)] = true
			}
		}
	}
	return ro
}

func (ro retryOn) status(code int) bool {
	return (ro.fiveXX && code >= 500) || (ro.gatewayErr && code >= 502 && code <= 504) ||
		(ro.retriable4xx && code == 409) || ro.codes[code]
}

// failure classifies a transport error for retry_on.
func (ro retryOn) failure(err error, timedOut bool) bool {
	if timedOut {
		// A per-try timeout counts as a 504.
		return ro.fiveXX || ro.gatewayErr
	}
	if connectFailure(err) {
		return ro.connectFailure || ro.fiveXX || ro.gatewayErr
	}
	return ro.reset || ro.fiveXX || ro.gatewayErr
}

// connectFailure reports whether err means no connection was made: the
// TCP connect or, for a TLS cluster, the handshake failed.
func connectFailure(err error) bool {
	var op *net.OpError
	var hs *tlsHandshakeError
	return errors.As(err, &hs) || (errors.As(err, &op) && op.Op == "dial")
}

func resetReason(err error) string {
	var hs *tlsHandshakeError
	if errors.As(err, &hs) {
		return "connection failure, transport failure reason: " + hs.Error()
	}
	if connectFailure(err) {
		return "connection failure"
	}
	return "remote reset"
}

// relay copies the upstream answer back with the route's response header
// mutations and the filters' headers.
func (dp *DataPlane) relay(w http.ResponseWriter, hc *hcmConfig, d *Decision, resp *http.Response, respAdd Headers, ex *Exchange) {
	defer resp.Body.Close()
	h := make(Headers, 0, len(resp.Header)+1)
	h = append(h, Header{":status", strconv.Itoa(resp.StatusCode)})
	for name, vals := range resp.Header {
		ln := strings.ToLower(name)
		if hopHeaders[ln] {
			continue
		}
		for _, v := range vals {
			h = append(h, Header{ln, v})
		}
	}
	h = hc.router.FinalizeResponse(d, h)
	h = append(h, respAdd...)
	out := w.Header()
	status := resp.StatusCode
	for _, e := range h {
		if e.Name == ":status" {
			if n, err := strconv.Atoi(e.Value); err == nil {
				status = n
			}
			continue
		}
		out.Add(e.Name, e.Value)
	}
	out.Set("server", "envoy")
	ex.Status = status
	w.WriteHeader(status)
	// The body is streamed: every chunk is flushed as it arrives, so
	// server-streaming gRPC, SSE and long polls reach the client as the
	// upstream sends them, as through Envoy.
	rc := http.NewResponseController(w)
	if resp.ContentLength != 0 {
		// The headers go out now, before the first body byte (a
		// bidi stream may answer before the client sent anything).
		// An answer known to be empty, such as a trailers-only gRPC
		// error, is left to end with its headers: flushed first, it
		// would be headers then an empty end of stream, and gRPC
		// clients read grpc-status only from the final header block.
		_ = rc.Flush()
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				// The client went away; the deferred close resets the
				// upstream stream.
				return
			}
			_ = rc.Flush()
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The upstream reset mid-answer: Envoy resets the
			// downstream stream (HTTP/2) or closes the connection
			// (HTTP/1.1) rather than end the body cleanly.
			ex.Notes = append(ex.Notes, "upstream reset while sending the response body: "+err.Error())
			panic(http.ErrAbortHandler)
		}
	}
	// gRPC answers in trailers (grpc-status, grpc-message); they are
	// known only once the body has ended, so they go out under
	// http.TrailerPrefix: HTTP/2 trailers for an h2 client, a chunked
	// trailer for HTTP/1.1.
	for name, vals := range resp.Trailer {
		for _, v := range vals {
			out.Add(http.TrailerPrefix+name, v)
		}
	}
}
