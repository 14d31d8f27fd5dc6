package testservers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// URLEcho starts an HTTP server on loopback that refuses every request
// with a status line repeating the URI it was sent to ("503 no route for
// /path?query"), as careless receivers do: for tests that what a client
// reports of a failure (its errors, its logs) leaves out the secret parts
// of a URL. It stops when the test ends.
func URLEcho(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 503 no route for %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r.URL.RequestURI())
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv
}
