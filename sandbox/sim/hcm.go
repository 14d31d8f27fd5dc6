package sim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// The HTTP connection manager: one request's way through a listener, top
// to bottom as in Envoy. ServeHTTP routes the request, refuses an upgrade
// the route and connection manager do not allow, runs the decoder filters
// in the order of the HCM's http_filters (each may answer by itself), and
// ends with the router filter (routeRequest), which answers from the
// route or sends the request upstream (forward, tunnel). Every answer the
// data plane makes itself goes through sendLocal, and every request ends
// in streamDone.

// stream is one request in flight: its exchange and what is counted while
// it is served.
type stream struct {
	ex        *Exchange
	captureID string
	start     time.Time
	w         *meteredWriter
	received  atomic.Int64
	// active is when bytes last moved either way (unix nanoseconds),
	// for the stream idle timeout.
	active atomic.Int64
}

// errStreamIdle ends a stream that saw no bytes either way for its idle
// timeout.
var errStreamIdle = errors.New("stream idle timeout")

// watchIdle ends the request's context with errStreamIdle once no bytes
// have moved either way for idle, as Envoy's stream idle timeout (the
// route's idle_timeout, else the HCM's stream_idle_timeout) does.
func (st *stream) watchIdle(r *http.Request, idle time.Duration) (*http.Request, func()) {
	ctx, cancel := context.WithCancelCause(r.Context())
	done := make(chan struct{})
	go func() {
		t := time.NewTimer(idle)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			left := idle - time.Since(time.Unix(0, st.active.Load()))
			if left <= 0 {
				cancel(errStreamIdle)
				return
			}
			t.Reset(left)
		}
	}()
	return r.WithContext(ctx), func() {
		close(done)
		cancel(nil)
	}
}

// meteredWriter counts the body bytes written; Unwrap keeps the
// ResponseController's flushing, hijacking and full duplex working.
type meteredWriter struct {
	http.ResponseWriter
	n      *atomic.Int64
	active *atomic.Int64
}

func (c *meteredWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	c.active.Store(time.Now().UnixNano())
	return n, err
}

func (c *meteredWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush and Hijack serve writers that wrap this one and ask for them
// directly.
func (c *meteredWriter) Flush() { _ = http.NewResponseController(c.ResponseWriter).Flush() }

func (c *meteredWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(c.ResponseWriter).Hijack()
}

// meteredBody counts the request body bytes read.
type meteredBody struct {
	io.ReadCloser
	n      *atomic.Int64
	active *atomic.Int64
}

func (c *meteredBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		c.active.Store(time.Now().UnixNano())
	}
	return n, err
}

func (dp *DataPlane) newStream(listener string, w http.ResponseWriter, r *http.Request) *stream {
	st := &stream{ex: &Exchange{Listener: listener}, captureID: r.Header.Get(HeaderCapture), start: time.Now()}
	r.Header.Del(HeaderCapture)
	st.active.Store(st.start.UnixNano())
	st.w = &meteredWriter{ResponseWriter: w, n: new(atomic.Int64), active: &st.active}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &meteredBody{ReadCloser: r.Body, n: &st.received, active: &st.active}
	}
	return st
}

// streamDone is where every request ends, once its answer (or tunnel) is
// over: the exchange is complete here (route, status, flags, duration,
// bytes) and goes to whoever captured it.
func (dp *DataPlane) streamDone(st *stream) {
	ex := st.ex
	ex.Duration = time.Since(st.start)
	ex.BytesReceived += st.received.Load()
	ex.BytesSent += st.w.n.Load()
	if st.captureID == "" {
		return
	}
	if ch, ok := dp.captures.Load(st.captureID); ok {
		select {
		case ch.(chan *Exchange) <- ex:
		default:
		}
	}
}

func (s *listenerServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	dp := s.dp
	cfg := dp.cfg.Load()
	hc := cfg.listeners[s.name]
	st := dp.newStream(s.name, rw, r)
	// The access log takes the exchange once it is complete.
	w, logged := dp.accessLog(st.w, r, hc, st.ex)
	defer logged()
	defer dp.streamDone(st)
	ex := st.ex
	if hc == nil || hc.router == nil {
		sendLocal(w, ex, &localReply{status: 503, body: "no route configuration yet", by: "router", flag: "NR"}, nil)
		return
	}
	req := toSimRequest(r, hc)
	random := rand.Uint64()
	d := hc.router.RouteWith(req, random, RouteOptions{NoTrace: st.captureID == ""})
	ex.Decision = d
	var extras *routeExtras
	if rt := d.MatchedRoute(); rt != nil {
		extras = hc.extras[rt]
	}
	upgrade := upgradeType(r)
	if upgrade != "" && !hc.upgradeAllowed(upgrade, extras) {
		// The connection manager refuses the upgrade while building
		// the filter chain, before any filter or the router runs.
		ex.Notes = append(ex.Notes, "upgrade to "+upgrade+" is not allowed by the route or the connection manager (upgrade_configs)")
		sendLocal(w, ex, &localReply{status: http.StatusForbidden, by: "http_connection_manager"}, nil)
		return
	}
	if upgrade == "" {
		// A tunnel keeps its own idle timer (see tunnel).
		idle := d.IdleTimeout
		if idle <= 0 {
			idle = dp.streamIdle(s.name)
		}
		if idle > 0 {
			var stop func()
			r, stop = st.watchIdle(r, idle)
			defer stop()
		}
	}
	var respAdd, reqAdd Headers
	notes := []string{}
	fc := &filterCtx{req: req, d: d, random: random, respAdd: &respAdd, reqAdd: &reqAdd, dp: dp, notes: &notes, ctx: r.Context()}
	defer func() {
		ex.Notes = append(notes, ex.Notes...)
		switch {
		case fc.flags == "":
		case ex.Flags == "":
			ex.Flags = fc.flags
		default:
			ex.Flags = fc.flags + "," + ex.Flags
		}
	}()
	if lr := hc.decodeHeaders(fc, extras); lr != nil {
		sendLocal(w, ex, lr, respAdd)
		return
	}
	// The router, the chain's terminal filter.
	dp.routeRequest(w, r, cfg, hc, d, extras, fc, upgrade, ex)
}

// upgradeType is the protocol an HTTP/1.1 request asks to upgrade to,
// lower case; "" when it is not an upgrade. Like Envoy, a request is an
// upgrade only with both an Upgrade header and "upgrade" in Connection.
func upgradeType(r *http.Request) string {
	up := r.Header.Get("Upgrade")
	if up == "" || r.ProtoMajor != 1 {
		return ""
	}
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return strings.ToLower(up)
			}
		}
	}
	return ""
}

// upgradeAllowed is Envoy's choice of an upgrade filter chain: the route's
// upgrade_configs decide for the types they name, the connection
// manager's for the rest, and a type neither names is refused.
func (hc *hcmConfig) upgradeAllowed(upgrade string, extras *routeExtras) bool {
	if extras != nil {
		if on, ok := extras.upgrades[upgrade]; ok {
			return on
		}
	}
	return hc.upgrades[upgrade]
}

// decodeHeaders runs the HCM's decoder filters in configuration order up
// to the router, each with the route's per-filter config in place of its
// own when the route has one; the first local reply ends the chain.
func (hc *hcmConfig) decodeHeaders(fc *filterCtx, extras *routeExtras) *localReply {
	for _, f := range hc.filters {
		if f.kind == filterRouter {
			return nil
		}
		var per filterImpl
		if extras != nil {
			per = extras.filters[f.name]
		}
		if _, off := per.(filterDisabled); off {
			continue
		}
		if f.disabled && per == nil {
			continue
		}
		var lr *localReply
		switch f.kind {
		case filterJWT:
			if jr, ok := per.(*jwtRoute); ok && !jr.disabled {
				lr = f.global.(*jwtFilter).check(fc, jr.requirement)
			}
		default:
			impl := per
			if impl == nil {
				impl = f.global
			}
			if impl != nil {
				lr = impl.decode(fc)
			}
		}
		if lr != nil {
			return lr
		}
	}
	return nil
}

// routeRequest is the router filter: it answers from the route
// (redirects, direct responses, no route, unknown cluster) or sends the
// request upstream, as a tunnel for an upgrade.
func (dp *DataPlane) routeRequest(w http.ResponseWriter, r *http.Request, cfg *config, hc *hcmConfig, d *Decision, extras *routeExtras, fc *filterCtx, upgrade string, ex *Exchange) {
	respAdd := *fc.respAdd
	if d.Response != nil {
		// Redirects, direct responses, no route, unknown cluster.
		lr := &localReply{status: d.Response.Status, body: d.Response.Body, by: "router"}
		for _, h := range d.Response.Headers {
			if h.Name != ":status" {
				lr.headers = append(lr.headers, h)
			}
		}
		switch {
		case d.Response.Status == 503 && d.Cluster != "" && !d.IsDirectResponseEntry():
			lr.body, lr.flag = "cluster not found", "NC"
		case d.IsRouteEntry() && d.Cluster == "":
			lr.flag = "NC"
		case d.Route == "" && !d.IsDirectResponseEntry():
			lr.flag = "NR"
		}
		sendLocal(w, ex, lr, respAdd)
		return
	}
	if !d.IsRouteEntry() {
		sendLocal(w, ex, &localReply{status: 404, by: "router", flag: "NR"}, respAdd)
		return
	}
	ex.Cluster = d.Cluster
	cl := cfg.clusters[d.Cluster]
	if cl == nil {
		if missing := cfg.clusterWarming[d.Cluster]; len(missing) > 0 {
			ex.Notes = append(ex.Notes, "cluster \""+d.Cluster+"\" is warming: waiting for secrets "+strings.Join(missing, ", "))
		}
		sendLocal(w, ex, &localReply{status: 503, body: "cluster not found", by: "router", flag: "NC"}, respAdd)
		return
	}
	up := d.RequestHeaders.Clone()
	for _, name := range fc.reqDel {
		up.Del(name)
	}
	up = append(up, *fc.reqAdd...)
	if upgrade != "" {
		dp.tunnel(w, r, cl, d, up, upgrade, respAdd, ex)
		return
	}
	limit := int64(defaultConnectionBufferLimit)
	if extras != nil {
		limit = extras.bufferLimit
	}
	body := newRequestBody(r, limit)
	defer body.finish()
	if extras != nil {
		for _, m := range extras.mirrors {
			if m.fraction == nil || EvaluateFraction(uint64(m.fraction.proto.GetNumerator()), denominator(m.fraction.proto.GetDenominator()), rand.Uint64()) {
				if mc := cfg.clusters[m.cluster]; mc != nil {
					var sb io.Reader
					if body != nil {
						sb = body.shadow()
					}
					dp.mirrors.start()
					go dp.mirror(mc, up.Clone(), sb, r.ContentLength)
					fc.note("mirrored to %s", m.cluster)
				}
			}
		}
	}
	if r.ProtoMajor == 1 {
		// Envoy is full duplex on HTTP/1.1 too: the upstream may answer,
		// and the answer be relayed, while the request body still flows.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	dp.forward(w, r, hc, cl, d, up, body, respAdd, ex)
}

// sendLocal is the one way the data plane answers by itself, as Envoy's
// sendLocalReply: the reply's headers, then the headers filters added for
// whatever answer goes back, content-type for a body, server: envoy. It
// records who answered, the status and the response flag.
func sendLocal(w http.ResponseWriter, ex *Exchange, lr *localReply, extra Headers) {
	ex.LocalReply, ex.Status = lr.by, lr.status
	if lr.flag != "" {
		ex.Flags = addFlag(ex.Flags, lr.flag)
	}
	h := w.Header()
	for _, e := range lr.headers {
		h.Add(e.Name, e.Value)
	}
	for _, e := range extra {
		h.Add(e.Name, e.Value)
	}
	if lr.body != "" && h.Get("content-type") == "" {
		h.Set("content-type", "text/plain")
	}
	h.Set("server", "envoy")
	w.WriteHeader(lr.status)
	_, _ = io.WriteString(w, lr.body)
}
