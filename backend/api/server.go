package api

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Timeouts bound how long one connection can hold the server. A client that
// sends its request or reads its answer slowly, or keeps an idle
// connection, is cut off; endpoints that legitimately run long (publish,
// deploy, simulations, test runs) extend their own write deadline per
// request instead of loosening the server's.
type Timeouts struct {
	// ReadHeader bounds the request line and headers.
	ReadHeader time.Duration
	// Body bounds reading the request body, counted from when the handler
	// starts. It is a deadline, not a rate: a body dribbled one byte at a
	// time is cut off at the same moment as a stalled one.
	Body time.Duration
	// Write bounds the answer, counted from the end of the headers.
	Write time.Duration
	// Idle bounds a keep-alive connection between requests.
	Idle time.Duration
	// Long is the write deadline of the endpoints that run long.
	Long time.Duration
}

// DefaultTimeouts are generous for an operator on a slow link (a 4 MiB
// apply at 150 KB/s fits in Body) and short enough that a few hundred
// stalled connections are gone within a minute.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		ReadHeader: 10 * time.Second,
		Body:       30 * time.Second,
		Write:      60 * time.Second,
		Idle:       2 * time.Minute,
		// A simulation may send for 60 s; a publish runs the route tests
		// through the sandbox; a deploy waits for a cluster.
		Long: 5 * time.Minute,
	}
}

// orDefault fills the zero fields of t from DefaultTimeouts.
func (t Timeouts) orDefault() Timeouts {
	d := DefaultTimeouts()
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.ReadHeader, &d.ReadHeader}, {&t.Body, &d.Body}, {&t.Write, &d.Write}, {&t.Idle, &d.Idle}, {&t.Long, &d.Long},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// NewServer returns an HTTP server for h (the handler NewHandler built with
// the same timeouts) with t's limits; zero fields take DefaultTimeouts.
//
// There is deliberately no ReadTimeout: net/http counts it from the start
// of the request and, when it expires while a long handler runs, cancels
// the request's context. The body deadline is set per request by the
// handler instead (see bodyDeadline), and lifted once the body is read.
func NewServer(h http.Handler, t Timeouts, log *slog.Logger) *http.Server {
	t = t.orDefault()
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		// Requests carry their data in bodies; 64 KiB of headers is
		// plenty for cookies and tokens.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// bodyDeadline gives the request body Timeouts.Body to arrive. Once the
// body has been read to its end the deadline is lifted, so that a handler
// that then runs long is not mistaken for a stalled client. Servers whose
// connections have no deadlines (the desktop window's) are left as they are.
func (s *server) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(s.Timeouts.Body)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline when the body is exhausted.
type deadlineBody struct {
	io.ReadCloser
	once sync.Once
	lift func()
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.lift)
	}
	return n, err
}

// runsLong extends the write deadline of an endpoint whose answer may take
// longer than Timeouts.Write to compute. Where the connection has no
// deadlines to extend, nothing changes.
func (s *server) runsLong(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.Timeouts.Long))
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy is what the dashboard needs and nothing more: its
// scripts are files from this origin (no inline script, no eval); the
// component library and the code editor set inline styles and insert
// <style> elements, hence 'unsafe-inline' for styles only; icons and
// backgrounds may be data: URIs. No page may frame the console
// (clickjacking), and forms and <base> cannot point elsewhere.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders go on every answer, API and dashboard alike: an API
// answer opened in a tab is a document too. HSTS is sent only over TLS,
// where a browser honours it.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
