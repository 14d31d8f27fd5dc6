package sim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// send sends a request with a body to the listener "http" and returns the
// response with its body unread. length is the Content-Length, -1 to send
// the body chunked.
func (h *harness) send(ctx context.Context, t *testing.T, method, path string, body io.Reader, length int64, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+h.dp.Status().Listeners["http"]+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func TestRetryBufferLimit(t *testing.T) {
	tests := map[string]struct {
		listener *listenerv3.Listener
		vhost    *routev3.VirtualHost
		route    *routev3.Route
		want     int64
	}{
		"Envoy's default, the listener's 1 MiB": {want: 1 << 20},
		"listener per_connection_buffer_limit_bytes": {
			listener: &listenerv3.Listener{PerConnectionBufferLimitBytes: u32(64 << 10)}, want: 64 << 10},
		"listener limit 0 means none": {
			listener: &listenerv3.Listener{PerConnectionBufferLimitBytes: u32(0)}, want: 1<<32 - 1},
		"route per_request_buffer_limit_bytes lowers it": {
			route: &routev3.Route{PerRequestBufferLimitBytes: u32(16 << 10)}, want: 16 << 10},
		"per_request_buffer_limit_bytes cannot raise it": {
			route: &routev3.Route{PerRequestBufferLimitBytes: u32(4 << 20)}, want: 1 << 20},
		"request_body_buffer_limit replaces it": {
			route: &routev3.Route{RequestBodyBufferLimit: wrapperspb.UInt64(4 << 20)}, want: 4 << 20},
		"virtual host when the route says nothing": {
			vhost: &routev3.VirtualHost{PerRequestBufferLimitBytes: u32(1000)}, route: &routev3.Route{}, want: 1000},
		"the route over its virtual host": {
			vhost: &routev3.VirtualHost{PerRequestBufferLimitBytes: u32(1000)}, route: &routev3.Route{PerRequestBufferLimitBytes: u32(2000)}, want: 2000},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := retryBufferLimit(tc.listener, tc.vhost, tc.route); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// patterned is n letters that differ along the body, so a lost or
// reordered chunk changes the digest; letters, because the mock upstream
// echoes the body as a JSON string.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (i*7+i/4096)%26)
	}
	return b
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestDataPlaneStreamsBodies checks that request and response bodies flow
// through the sim as they are produced, over HTTP/1.1 on both sides.
func TestDataPlaneStreamsBodies(t *testing.T) {
	// upload reads the body, says when its first bytes arrived, and
	// answers with the size and digest of what it got.
	started := make(chan struct{})
	upload := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash := sha256.New()
		buf := make([]byte, 32<<10)
		n, err := r.Body.Read(buf)
		hash.Write(buf[:n])
		close(started)
		if err == nil {
			var m int64
			m, err = io.Copy(hash, r.Body)
			n += int(m)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "%d %x", n, hash.Sum(nil))
	}))
	t.Cleanup(upload.Close)
	// events is a server-sent event stream that sends its second event
	// only once the client has the first.
	release := make(chan struct{})
	events := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: two\n\n")
	}))
	t.Cleanup(events.Close)
	// duplex echoes each line of the request body at once, while the
	// body is still coming.
	duplex := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			fmt.Fprintln(w, "echo "+sc.Text())
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(duplex.Close)
	echo := mock(t, "echo", upstream.Profile{})

	h := newHarness(t)
	h.set(t, "1", listener(t),
		routeConfig(prefixRoute("rule/upload/0", "/upload", "upload"), prefixRoute("rule/events/0", "/events", "events"),
			prefixRoute("rule/duplex/0", "/duplex", "duplex"), prefixRoute("rule/echo/0", "/echo", "echo")),
		edsCluster("upload", clusterv3.Cluster_ROUND_ROBIN), loadAssignmentOf("upload", upload.Listener.Addr().String()),
		edsCluster("events", clusterv3.Cluster_ROUND_ROBIN), loadAssignmentOf("events", events.Listener.Addr().String()),
		edsCluster("duplex", clusterv3.Cluster_ROUND_ROBIN), loadAssignmentOf("duplex", duplex.Listener.Addr().String()),
		edsCluster("echo", clusterv3.Cluster_ROUND_ROBIN), loadAssignment("echo", echo))
	deadline := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("10 MiB upload reaches the upstream before it ends", func(t *testing.T) {
		ctx := deadline(t)
		data := patterned(10 << 20)
		pr, pw := io.Pipe()
		go func() {
			// The first MiB, then nothing more until the upstream has
			// started reading: a sim that waited for the whole body
			// would never forward it.
			if _, err := pw.Write(data[:1<<20]); err != nil {
				return
			}
			select {
			case <-started:
			case <-ctx.Done():
				pw.CloseWithError(errors.New("the upstream got nothing while the upload was under way"))
				return
			}
			_, _ = pw.Write(data[1<<20:])
			_ = pw.Close()
		}()
		resp := h.send(ctx, t, "POST", "/upload", pr, int64(len(data)))
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d %s", len(data), digest(data)); resp.StatusCode != 200 || string(got) != want {
			t.Errorf("upstream answered %d %q, want %q", resp.StatusCode, got, want)
		}
	})

	t.Run("large body to the mock upstream", func(t *testing.T) {
		data := patterned(10 << 20)
		resp := h.send(deadline(t), t, "PUT", "/echo", bytes.NewReader(data), -1)
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		e := echoOf(t, string(b))
		if len(e.Received.Body) != len(data) || digest([]byte(e.Received.Body)) != digest(data) {
			t.Errorf("the mock got %d bytes, want the %d sent", len(e.Received.Body), len(data))
		}
	})

	t.Run("TE keeps only trailers", func(t *testing.T) {
		tests := map[string]struct {
			te   string
			want []string
		}{
			"trailers":             {te: "trailers", want: []string{"trailers"}},
			"trailers among codes": {te: "gzip, trailers;q=1", want: []string{"trailers"}},
			"codings only":         {te: "gzip, deflate"},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				_, body := h.do(t, "GET", "http://x/echo", "TE", tc.te)
				if got := echoOf(t, body).Received.Headers["te"]; strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Errorf("upstream got te %q, want %q", got, tc.want)
				}
			})
		}
	})

	t.Run("server-sent events arrive one by one", func(t *testing.T) {
		resp := h.send(deadline(t), t, "GET", "/events", nil, 0)
		br := bufio.NewReader(resp.Body)
		var first strings.Builder
		for !strings.HasSuffix(first.String(), "\n\n") {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("first event: %v (got %q)", err, first.String())
			}
			first.WriteString(line)
		}
		if first.String() != "data: one\n\n" {
			t.Errorf("first event %q", first.String())
		}
		close(release)
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "data: two\n\n" {
			t.Errorf("second event %q, %v", rest, err)
		}
	})

	t.Run("HTTP/1.1 full duplex", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		resp := h.send(deadline(t), t, "POST", "/duplex", pr, -1)
		br := bufio.NewReader(resp.Body)
		for _, line := range []string{"a", "b", "c"} {
			// Each line is answered before the next is written.
			if _, err := fmt.Fprintln(pw, line); err != nil {
				t.Fatal(err)
			}
			got, err := br.ReadString('\n')
			if err != nil || got != "echo "+line+"\n" {
				t.Fatalf("line %q answered %q, %v", line, got, err)
			}
		}
	})
}

// TestDataPlaneRetryBufferLimit checks that a request is retried only while
// its body fits the retry buffer, as Envoy gives up on retrying (and
// streams on) once the body outgrows it, and that a shadow gets the whole
// body whatever its size.
func TestDataPlaneRetryBufferLimit(t *testing.T) {
	shadowGot := make(chan string, 4)
	shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			shadowGot <- "error: " + err.Error()
			return
		}
		shadowGot <- strconv.Itoa(len(b)) + " " + digest(b)
	}))
	t.Cleanup(shadow.Close)

	type limitCase struct {
		limit    *wrapperspb.UInt64Value // the route's request_body_buffer_limit; nil for Envoy's default
		size     int
		retried  bool
		wantCode int
	}
	tests := map[string]limitCase{
		"under the route's limit":         {limit: wrapperspb.UInt64(4096), size: 1000, retried: true, wantCode: 200},
		"over the route's limit":          {limit: wrapperspb.UInt64(4096), size: 8192, wantCode: 503},
		"under Envoy's default of 1 MiB":  {size: 512 << 10, retried: true, wantCode: 200},
		"over Envoy's default of 1 MiB":   {size: 2 << 20, wantCode: 503},
		"no body":                         {size: 0, retried: true, wantCode: 200},
		"exactly the limit is still kept": {limit: wrapperspb.UInt64(4096), size: 4096, retried: true, wantCode: 200},
	}
	// Each case has its own route and cluster whose round robin starts at
	// the failing endpoint, so the first try always fails.
	h := newHarness(t)
	var res []types.Resource
	var routes []*routev3.Route
	i := 0
	names := map[string]string{}
	for name, tc := range tests {
		cl := "c" + strconv.Itoa(i)
		names[name] = cl
		i++
		bad := mock(t, "bad", upstream.Profile{ErrorPercent: 100, ErrorStatus: 503})
		good := mock(t, "good", upstream.Profile{})
		rt := prefixRoute("rule/"+cl+"/0", "/"+cl, cl)
		rt.GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: u32(1),
			RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(time.Millisecond)}}
		rt.RequestBodyBufferLimit = tc.limit
		routes = append(routes, rt)
		res = append(res, edsCluster(cl, clusterv3.Cluster_ROUND_ROBIN), loadAssignment(cl, bad, good))
	}
	mirrored := prefixRoute("rule/mirror/0", "/mirror", "c0")
	mirrored.GetRoute().RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: "shadow"}}
	routes = append([]*routev3.Route{mirrored}, routes...)
	res = append(res, listener(t), routeConfig(routes...), edsCluster("shadow", clusterv3.Cluster_ROUND_ROBIN), loadAssignmentOf("shadow", shadow.Listener.Addr().String()))
	h.set(t, "1", res...)

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			data := patterned(tc.size)
			id, wait := h.dp.Capture()
			var body io.Reader
			if tc.size > 0 {
				body = bytes.NewReader(data)
			}
			resp := h.send(ctx, t, "POST", "/"+names[name], body, int64(tc.size), HeaderCapture, id)
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			ex, err := wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			attempts := 1
			if tc.retried {
				attempts = 2
			}
			if resp.StatusCode != tc.wantCode || len(ex.Attempts) != attempts {
				t.Fatalf("status %d after %d tries, want %d after %d (notes %v)", resp.StatusCode, len(ex.Attempts), tc.wantCode, attempts, ex.Notes)
			}
			// Whichever try answered got the whole body.
			if e := echoOf(t, string(b)); digest([]byte(e.Received.Body)) != digest(data) {
				t.Errorf("the answering upstream got %d bytes, want %d", len(e.Received.Body), len(data))
			}
			abandoned := strings.Contains(strings.Join(ex.Notes, ";"), "retry buffer limit")
			if abandoned == tc.retried {
				t.Errorf("notes %v: abandoned retry %v, want %v", ex.Notes, abandoned, !tc.retried)
			}
		})
	}

	t.Run("a shadow gets a body over the limit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		data := patterned(3 << 20)
		resp := h.send(ctx, t, "POST", "/mirror", bytes.NewReader(data), int64(len(data)))
		_, _ = io.Copy(io.Discard, resp.Body)
		select {
		case got := <-shadowGot:
			if want := strconv.Itoa(len(data)) + " " + digest(data); got != want {
				t.Errorf("shadow got %q, want %q", got, want)
			}
		case <-ctx.Done():
			t.Fatal("the shadow got nothing")
		}
	})
}

// TestDataPlaneTimeoutFromEndOfBody checks that the route timeout runs
// from the end of the request body, as in Envoy, so a slow upload is not
// cut off while the upstream is still answering in time.
func TestDataPlaneTimeoutFromEndOfBody(t *testing.T) {
	// The upstream reads the whole body, then waits the time asked for
	// in the query before it answers.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, n)
	}))
	t.Cleanup(up.Close)
	rt := prefixRoute("rule/slow/0", "/", "slow")
	rt.GetRoute().Timeout = durationpb.New(300 * time.Millisecond)
	h := newHarness(t)
	h.set(t, "1", listener(t), routeConfig(rt), edsCluster("slow", clusterv3.Cluster_ROUND_ROBIN), loadAssignmentOf("slow", up.Listener.Addr().String()))

	tests := map[string]struct {
		upload time.Duration // how long the client takes to send the body
		wait   time.Duration // how long the upstream takes after it
		want   int
	}{
		"an upload longer than the timeout":         {upload: 600 * time.Millisecond, want: 200},
		"an answer too slow after the body is done": {upload: 100 * time.Millisecond, wait: time.Second, want: 504},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			pr, pw := io.Pipe()
			go func() {
				for range 6 {
					if _, err := pw.Write(patterned(1000)); err != nil {
						return
					}
					time.Sleep(tc.upload / 6)
				}
				_ = pw.Close()
			}()
			resp := h.send(ctx, t, "POST", "/?wait="+tc.wait.String(), pr, -1)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d %q, want %d", resp.StatusCode, b, tc.want)
			}
			if tc.want == 200 && string(b) != "6000" {
				t.Errorf("upstream got %s bytes, want 6000", b)
			}
		})
	}
}
