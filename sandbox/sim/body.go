package sim

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// defaultConnectionBufferLimit is a listener's per_connection_buffer_limit_bytes
// when it sets none (1 MiB, listener.proto). Envoy's HTTP connection
// manager gives it to every stream as its buffer limit, and the router
// keeps at most that much request body for retries and shadows.
const defaultConnectionBufferLimit = 1 << 20

// retryBufferLimit is how much request body Envoy's router keeps so that it
// can send the request again (its retry_shadow_buffer_limit). It starts as
// the stream's buffer limit, the listener's per_connection_buffer_limit_bytes
// (0 meaning none), and the matched route, or failing that its virtual host,
// changes it: request_body_buffer_limit replaces it, the deprecated
// per_request_buffer_limit_bytes can only lower it (route_components.proto).
func retryBufferLimit(l *listenerv3.Listener, vh *routev3.VirtualHost, rt *routev3.Route) int64 {
	conn := int64(defaultConnectionBufferLimit)
	if v := l.GetPerConnectionBufferLimitBytes(); v != nil {
		conn = int64(v.GetValue())
		if conn == 0 {
			conn = math.MaxUint32
		}
	}
	//nolint:staticcheck // Envoy still honours the deprecated per_request_buffer_limit_bytes.
	if n, ok := bufferLimitOf(rt.GetRequestBodyBufferLimit(), rt.GetPerRequestBufferLimitBytes(), conn); ok {
		return n
	}
	//nolint:staticcheck // as above.
	if n, ok := bufferLimitOf(vh.GetRequestBodyBufferLimit(), vh.GetPerRequestBufferLimitBytes(), conn); ok {
		return n
	}
	return conn
}

// bufferLimitOf is one level's (route's or virtual host's) say on the
// buffer limit; false when it sets neither field.
func bufferLimitOf(body *wrapperspb.UInt64Value, perRequest *wrapperspb.UInt32Value, conn int64) (int64, bool) {
	switch {
	case body != nil:
		return int64(min(body.GetValue(), math.MaxInt64)), true
	case perRequest != nil:
		return min(int64(perRequest.GetValue()), conn), true
	}
	return 0, false
}

// errBodyOverflow is the read error of a try that would need request body
// bytes the buffer no longer holds.
var errBodyOverflow = errors.New("request body exceeded the retry buffer limit")

// errTryOver is the read error of a try's body once the data plane has
// moved on from that try.
var errTryOver = errors.New("upstream try is over")

// requestBody streams the downstream request body to the upstream tries
// and the shadows while keeping a copy, up to limit bytes, so a retry can
// send it again. That is Envoy's router: it forwards body data as it
// arrives, buffers it only while a retry could still need it, and once
// the body outgrows retry_shadow_buffer_limit it gives up on retrying
// (retry_or_shadow_abandoned) and just streams the rest.
//
// Shadows are fed as the body is read, the way Envoy streams request
// mirrors: a shadow is not bound by the buffer limit, and a slow shadow
// holds back the request like a slow upstream does.
type requestBody struct {
	src    io.Reader
	length int64 // the downstream Content-Length, -1 when unknown
	limit  int64
	// gen is the current try; readers of an earlier try fail, so a
	// transport still writing an abandoned try's body stops reading the
	// downstream body. finish sets it to -1.
	gen atomic.Int64

	// mu serialises reads of src (held across them, so tries take turns)
	// and guards the rest.
	mu       sync.Mutex
	buf      []byte
	read     int64 // bytes read from src so far
	overflow bool
	err      error // src's final error, io.EOF when it ended cleanly
	shadows  []*io.PipeWriter
	// ended is closed when err is set.
	ended chan struct{}
}

// newRequestBody wraps a downstream request body; nil when the request has
// none, so the upstream gets none either.
func newRequestBody(r *http.Request, limit int64) *requestBody {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	return &requestBody{src: r.Body, length: r.ContentLength, limit: limit, ended: make(chan struct{})}
}

// closedChan is the end of a body that was never there.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// complete is closed once the downstream body has been read to its end
// (or failed): Envoy's onRequestComplete, when its route and per-try
// timers start.
func (b *requestBody) complete() <-chan struct{} {
	if b == nil {
		return closedChan
	}
	return b.ended
}

// end records src's final error; b.mu is held.
func (b *requestBody) end(err error) {
	if b.err != nil {
		return
	}
	b.err = err
	b.closeShadows(err)
	close(b.ended)
}

// timeoutAfterBody is parent ending d after the request body is complete,
// as Envoy times a request from the end of the downstream request, not
// its start: a long upload, or a bidi stream the client keeps open, is
// not cut off by the route timeout while it is still sending. d <= 0
// means no timeout.
func timeoutAfterBody(parent context.Context, body *requestBody, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	if d <= 0 {
		return ctx, cancel
	}
	go func() {
		select {
		case <-body.complete():
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// overflowed reports whether the body outgrew the buffer, so it can no
// longer be sent again.
func (b *requestBody) overflowed() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overflow
}

// nextTry ends the previous try's reading and returns the body of the
// next one: the buffered bytes, then the rest of the downstream body.
func (b *requestBody) nextTry() *tryBody {
	return &tryBody{b: b, gen: b.gen.Add(1)}
}

// replay is a try's GetBody: the transport's own resend of the same try on
// a fresh connection.
func (b *requestBody) replay(gen int64) (io.ReadCloser, error) {
	if b.overflowed() {
		return nil, errBodyOverflow
	}
	return &tryBody{b: b, gen: gen}, nil
}

// shadow returns the body of a mirrored request, fed as the downstream
// body is read.
func (b *requestBody) shadow() io.Reader {
	pr, pw := io.Pipe()
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.read > 0:
		// Too late to stream: the shadow would miss the start.
		pw.CloseWithError(errTryOver)
	case b.err != nil:
		pw.CloseWithError(b.err)
	default:
		b.shadows = append(b.shadows, pw)
	}
	return pr
}

// finish ends every try and aborts shadows still waiting for body bytes
// nobody will read now. It does not wait for a read in progress, which
// ends with the downstream stream.
func (b *requestBody) finish() {
	if b == nil {
		return
	}
	b.gen.Store(-1)
	go func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.end(errTryOver)
	}()
}

func (b *requestBody) closeShadows(err error) {
	for _, pw := range b.shadows {
		if err == io.EOF {
			_ = pw.Close()
		} else {
			pw.CloseWithError(err)
		}
	}
	b.shadows = nil
}

// tee hands a chunk to every shadow; a shadow whose request failed stops
// getting them.
func (b *requestBody) tee(p []byte) {
	kept := b.shadows[:0]
	for _, pw := range b.shadows {
		if _, err := pw.Write(p); err == nil {
			kept = append(kept, pw)
		}
	}
	b.shadows = kept
}

// tryBody is the request body of one upstream try.
type tryBody struct {
	b      *requestBody
	gen    int64
	off    int64
	closed atomic.Bool
}

func (t *tryBody) Read(p []byte) (int, error) {
	b := t.b
	if t.closed.Load() || b.gen.Load() != t.gen {
		return 0, errTryOver
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.off < b.read {
		if b.overflow {
			return 0, errBodyOverflow
		}
		n := copy(p, b.buf[t.off:])
		t.off += int64(n)
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	// The lock was waited for: the try may have ended meanwhile.
	if t.closed.Load() || b.gen.Load() != t.gen {
		return 0, errTryOver
	}
	n, err := b.src.Read(p)
	if n > 0 {
		b.read += int64(n)
		t.off += int64(n)
		if !b.overflow {
			if int64(len(b.buf)+n) > b.limit {
				b.overflow, b.buf = true, nil
			} else {
				b.buf = append(b.buf, p[:n]...)
			}
		}
		b.tee(p[:n])
	}
	if err != nil {
		b.end(err)
	}
	return n, err
}

// Close ends this try's reading; the downstream body stays open for the
// next try.
func (t *tryBody) Close() error {
	t.closed.Store(true)
	return nil
}
