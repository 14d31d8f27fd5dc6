package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/xds"
)

// logsEnv is newEnv with a request log behind the API; report writes
// entries to it as a proxy's access log stream would.
func logsEnv(t *testing.T) (*env, func(entries ...*accesslogdata.HTTPAccessLogEntry)) {
	t.Helper()
	for _, k := range []string{EnvServer, EnvToken, EnvDataDir} {
		t.Setenv(k, "")
	}
	e := &env{dataDir: t.TempDir()}
	st, err := app.OpenStore(context.Background(), e.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	al, err := accesslog.Open(context.Background(), filepath.Join(e.dataDir, app.AccessLogFile), accesslog.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	srv := httptest.NewServer(api.NewHandler(api.Deps{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Fingerprinter: st.Keys(), AccessLog: al}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	out, errOut, code := e.run(t, "", "token", "create", "--name", "ci", "--role", "viewer")
	if code != 0 {
		t.Fatalf("token create: %s", errOut)
	}
	e.token = strings.TrimSpace(out)
	if _, errOut, code := e.run(t, "", "apply", "-f", "testdata/shop.yaml", "--server", e.url, "--token", editorToken(t, e)); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	return e, func(entries ...*accesslogdata.HTTPAccessLogEntry) {
		t.Helper()
		if !al.Offer(xds.AccessLogBatch{Gateway: "edge", Node: "edge-1", Version: "4", Received: time.Now(), Entries: entries}) {
			t.Fatal("dropped")
		}
		if err := al.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func editorToken(t *testing.T, e *env) string {
	t.Helper()
	out, errOut, code := e.run(t, "", "token", "create", "--name", "ed", "--role", "editor")
	if code != 0 {
		t.Fatalf("token create: %s", errOut)
	}
	return strings.TrimSpace(out)
}

func reqEntry(at time.Time, route string, status int, path string) *accesslogdata.HTTPAccessLogEntry {
	return &accesslogdata.HTTPAccessLogEntry{
		CommonProperties: &accesslogdata.AccessLogCommon{StartTime: timestamppb.New(at), Duration: durationpb.New(12 * time.Millisecond),
			RouteName: route, UpstreamCluster: "shop"},
		Request:  &accesslogdata.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Authority: "shop.example.com", Path: path},
		Response: &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(uint32(status))},
	}
}

func TestLogsCommand(t *testing.T) {
	e, report := logsEnv(t)
	now := time.Now()
	report(reqEntry(now.Add(-3*time.Second), "rule/shop-home/0", 200, "/a"),
		reqEntry(now.Add(-2*time.Second), "rule/shop-canary/0", 503, "/b\x1b[31m"),
		reqEntry(now.Add(-1*time.Second), "", 404, "/c"))

	out, errOut, code := e.client(t, "logs", "--gateway", "edge")
	if code != 0 {
		t.Fatalf("logs: %s", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[1], "/a") ||
		!strings.Contains(lines[1], "shop-home") || !strings.Contains(lines[1], " 4 ") || !strings.Contains(lines[3], "/c") {
		t.Fatalf("table, oldest first:\n%s", out)
	}
	// A control sequence a client put in its path never reaches the terminal.
	if strings.Contains(out, "\x1b") || !strings.Contains(lines[2], "/b\uFFFD[31m") {
		t.Errorf("control characters printed:\n%q", lines[2])
	}

	out, _, code = e.client(t, "logs", "--gateway", "edge", "--status", "5xx", "-o", "json")
	var got accesslog.Entry
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.Rule != "shop-canary" || got.Status != 503 || got.Version != "4" {
		t.Fatalf("-o json --status 5xx: %q", out)
	}
	out, _, _ = e.client(t, "logs", "--gateway", "edge", "--limit", "2", "-o", "json")
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, `"path":"/c"`) || strings.Contains(out, `"path":"/a"`) {
		t.Fatalf("--limit 2: the two newest:\n%s", out)
	}
	out, _, _ = e.client(t, "logs", "--gateway", "edge", "--rule", "shop-home", "--since", "1m", "-o", "json")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"path":"/a"`) {
		t.Fatalf("--rule: %s", out)
	}

	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no gateway":      {[]string{"logs"}, "--gateway is required"},
		"unknown gateway": {[]string{"logs", "--gateway", "nope"}, "not found"},
		"bad status":      {[]string{"logs", "--gateway", "edge", "--status", "9xx"}, "status"},
		"bad output":      {[]string{"logs", "--gateway", "edge", "-o", "yaml"}, "use table or json"},
	} {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := e.client(t, tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", code, errOut, tc.want)
			}
		})
	}
}

// syncBuffer is a buffer the command writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestLogsFollow(t *testing.T) {
	e, report := logsEnv(t)
	report(reqEntry(time.Now(), "rule/shop-home/0", 200, "/before"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"logs", "--gateway", "edge", "-f", "-o", "json", "--server", e.url, "--token", e.token,
			"--data-dir", e.dataDir}, strings.NewReader(""), &out, &errOut)
	}()
	waitOutput := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in output:\n%s\nstderr: %s", want, out.String(), errOut.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOutput(`"path":"/before"`)
	// Whether or not the stream is open yet, an entry stored after the
	// ones printed is printed.
	report(reqEntry(time.Now(), "rule/shop-home/0", 200, "/during"))
	waitOutput(`"path":"/during"`)
	report(reqEntry(time.Now(), "rule/shop-canary/0", 503, "/after"))
	waitOutput(`"path":"/after"`)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not stop when interrupted")
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Fatalf("printed %d entries, want 3:\n%s", n, out.String())
	}
}
