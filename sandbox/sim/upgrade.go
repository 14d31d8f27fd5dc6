package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// defaultStreamIdleTimeout is the HCM's stream_idle_timeout when unset.
const defaultStreamIdleTimeout = 5 * time.Minute

// tunnel serves an upgrade the route allows (websocket, say): the request
// goes to one endpoint as HTTP/1.1 and, once it answers 101, bytes flow
// both ways until either side closes. As in Envoy, the route timeout
// bounds the wait for the upstream's answer, and the route's idle_timeout
// (else the connection manager's stream_idle_timeout) ends a tunnel with
// no traffic either way; the data plane's Close ends every tunnel.
func (dp *DataPlane) tunnel(w http.ResponseWriter, r *http.Request, cl *cluster, d *Decision, up Headers, upgrade string, respAdd Headers, ex *Exchange) {
	noteHealth(cl, ex)
	i := -1
	if len(cl.endpoints) > 0 {
		i = cl.pick(0, false, -1)
	}
	if i < 0 {
		sendLocal(w, ex, &localReply{status: 503, body: "no healthy upstream", by: "router", flag: "UH"}, respAdd)
		return
	}
	ep := cl.endpoints[i]
	ex.Endpoint = ep.addr
	u, l := &cl.res.used[d.Priority], &cl.res.limits[d.Priority]
	if !take(&u.rq, l.maxRequests) {
		cl.stats.rqPendingOverflow.Add(1)
		ex.Notes = append(ex.Notes, fmt.Sprintf("cluster %q: the max_requests circuit breaker (%s priority) is open", cl.name, d.Priority))
		sendLocal(w, ex, overflowReply(), respAdd)
		return
	}
	defer u.rq.Add(-1)
	cl.stats.rqTotal.Add(1)
	idle := d.IdleTimeout
	if d.IdleTimeout == 0 {
		idle = dp.streamIdle(ex.Listener)
	}
	// The answer is awaited for the route timeout, or, with none, as long
	// as an idle tunnel would live.
	wait := d.Timeout
	if wait <= 0 {
		wait = idle
	}
	ctx := r.Context()
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	start := time.Now()
	var uc net.Conn
	var err error
	if cl.tls != nil {
		uc, err = cl.tls.dialHTTP1(ctx, ep.addr)
	} else {
		var dl net.Dialer
		dctx, cancel := context.WithTimeout(ctx, connectTimeout)
		uc, err = dl.DialContext(dctx, "tcp", ep.addr)
		cancel()
	}
	if err != nil {
		ex.Attempts = append(ex.Attempts, Attempt{Endpoint: ep.addr, Error: err.Error(), Duration: time.Since(start)})
		if ctx.Err() != nil && r.Context().Err() == nil {
			cl.stats.rqTimeout.Add(1)
			sendLocal(w, ex, &localReply{status: 504, body: "upstream request timeout", by: "router", flag: "UT"}, respAdd)
			return
		}
		sendLocal(w, ex, &localReply{status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: " + resetReason(err), by: "router", flag: "UF"}, respAdd)
		return
	}
	defer uc.Close()
	// The connection is cut when the wait ends; after the 101 the idle
	// timer takes over.
	stop := context.AfterFunc(ctx, func() { _ = uc.SetDeadline(time.Now()) })
	var b strings.Builder
	path, _ := up.Get(":path")
	method, _ := up.Get(":method")
	host, _ := up.Get(":authority")
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	for _, e := range up {
		if strings.HasPrefix(e.Name, ":") || e.Name == "host" || e.Name == "connection" || e.Name == "upgrade" {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", e.Name, e.Value)
	}
	fmt.Fprintf(&b, "Connection: Upgrade\r\nUpgrade: %s\r\n\r\n", r.Header.Get("Upgrade"))
	ubr := bufio.NewReader(uc)
	var resp *http.Response
	if _, err = io.WriteString(uc, b.String()); err == nil {
		resp, err = http.ReadResponse(ubr, r)
	}
	if !stop() || err != nil {
		at := Attempt{Endpoint: ep.addr, Duration: time.Since(start)}
		if err != nil {
			at.Error = err.Error()
		}
		ex.Attempts = append(ex.Attempts, at)
		if ctx.Err() != nil && r.Context().Err() == nil {
			cl.stats.rqTimeout.Add(1)
			sendLocal(w, ex, &localReply{status: 504, body: "upstream request timeout", by: "router", flag: "UT"}, respAdd)
			return
		}
		sendLocal(w, ex, &localReply{status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: remote reset", by: "router", flag: "UR"}, respAdd)
		return
	}
	_ = uc.SetDeadline(time.Time{})
	ex.Attempts = append(ex.Attempts, Attempt{Endpoint: ep.addr, Status: resp.StatusCode, Duration: time.Since(start)})
	ex.Status = resp.StatusCode
	out := w.Header()
	for k, v := range resp.Header {
		out[k] = v
	}
	for _, e := range respAdd {
		out.Add(e.Name, e.Value)
	}
	out.Set("server", "envoy")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// Refused upstream: its answer goes back as any other, read
		// under the idle timeout.
		defer resp.Body.Close()
		if idle > 0 {
			_ = uc.SetReadDeadline(time.Now().Add(idle))
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	dc, dbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		ex.Notes = append(ex.Notes, "cannot take over the downstream connection: "+err.Error())
		return
	}
	defer dc.Close()
	ex.Upgrade = upgrade
	var head strings.Builder
	fmt.Fprintf(&head, "HTTP/1.1 101 Switching Protocols\r\n")
	for k, vals := range out {
		for _, v := range vals {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(dc, head.String()); err != nil {
		return
	}
	untrack := dp.trackTunnel(dc, uc)
	defer untrack()
	// Bytes either side sent right behind the handshake were read into
	// the buffers; they belong to the tunnel.
	var down io.Reader = dc
	if n := dbuf.Reader.Buffered(); n > 0 {
		p, _ := dbuf.Reader.Peek(n)
		down = io.MultiReader(strings.NewReader(string(p)), dc)
	}
	var lastActive atomic.Int64
	lastActive.Store(time.Now().UnixNano())
	done := make(chan struct{}, 2)
	var sent, received int64
	go func() {
		received = pipe(uc, down, dc, idle, &lastActive)
		done <- struct{}{}
	}()
	go func() {
		sent = pipe(dc, ubr, uc, idle, &lastActive)
		done <- struct{}{}
	}()
	// Either side ending ends the tunnel: both connections close.
	<-done
	_ = dc.Close()
	_ = uc.Close()
	<-done
	ex.BytesReceived += received
	ex.BytesSent += sent
}

// pipe copies src to dst until either fails, keeping src's connection
// alive while the tunnel has had traffic either way within idle (0: no
// limit). It returns the bytes copied.
func pipe(dst io.Writer, src io.Reader, srcConn net.Conn, idle time.Duration, lastActive *atomic.Int64) int64 {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		if idle > 0 {
			_ = srcConn.SetReadDeadline(time.Unix(0, lastActive.Load()).Add(idle))
		}
		k, err := src.Read(buf)
		if k > 0 {
			lastActive.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n
			}
			n += int64(k)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && idle > 0 && time.Since(time.Unix(0, lastActive.Load())) < idle {
				// The other direction was busy: not idle yet.
				continue
			}
			return n
		}
	}
}

// tunnels are the upgraded connections being served, so Close can end
// them: a hijacked connection is no longer the HTTP server's.
type tunnels struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (dp *DataPlane) trackTunnel(conns ...net.Conn) func() {
	t := &dp.tunnels
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns == nil {
		t.conns = map[net.Conn]struct{}{}
	}
	for _, c := range conns {
		t.conns[c] = struct{}{}
	}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, c := range conns {
			delete(t.conns, c)
		}
	}
}

func (dp *DataPlane) closeTunnels() {
	t := &dp.tunnels
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		_ = c.Close()
	}
}

// streamIdle is the listener's stream_idle_timeout.
func (dp *DataPlane) streamIdle(listener string) time.Duration {
	if hc := dp.cfg.Load().listeners[listener]; hc != nil && hc.streamIdle != nil {
		return *hc.streamIdle
	}
	return defaultStreamIdleTimeout
}
