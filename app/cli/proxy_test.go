package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProxyFromBootstrap runs `routedeck proxy` as the binary does, from
// the files `certs issue` and `bootstrap --out` write: it joins the
// running server's gateway over mutual TLS, serves the gateway's listener
// on its configured port, answers /ready LIVE once configured, and /stats
// counts what went through it.
func TestProxyFromBootstrap(t *testing.T) {
	ctx := context.Background()
	svc, e, admin := startServer(t, ctx)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	manifest := writeFile(t, t.TempDir(), "edge.yaml", fmt.Sprintf(`kind: Gateway
name: edge
listeners:
  - {name: http, port: %d, protocol: HTTP}
---
kind: Upstream
name: gone
static: {endpoints: [{address: 127.0.0.1, port: 1}]}
---
kind: Route
name: hello
gateway: edge
priority: 20
when: path == "/hello"
then:
  respond: {status: 200, body: hello}
---
kind: Route
name: gone
gateway: edge
priority: 10
when: path.prefix("/")
then:
  forward: [{upstream: gone}]
`, port))
	if _, errOut, code := e.client(t, "apply", "-f", manifest); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	if _, errOut, code := e.client(t, "publish", "--gateway", "edge"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	certDir, confDir := filepath.Join(t.TempDir(), "tls"), filepath.Join(t.TempDir(), "envoy")
	for _, args := range [][]string{
		{"certs", "issue", "--gateway", "edge", "--out", certDir},
		{"bootstrap", "--gateway", "edge", "--node", "edge-proxy", "--ads", svc.ADSAddr().String(), "--cert-dir", certDir, "--out", confDir, "--admin-port", "0"},
	} {
		var out, errOut strings.Builder
		all := append(args, "--data-dir", e.dataDir, "--server", e.url, "--token", admin.token)
		if code := Run(ctx, all, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	adminFile := filepath.Join(t.TempDir(), "admin.txt")
	done := make(chan int, 1)
	var out, errOut lockedBuffer
	go func() {
		done <- Run(runCtx, []string{"proxy", "--bootstrap", filepath.Join(confDir, BootstrapFile), "--admin-address-path", adminFile, "--log-level", "warn"},
			strings.NewReader(""), &out, &errOut)
	}()
	get := func(url, host string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	adminAddr := ""
	for {
		if b, err := os.ReadFile(adminFile); err == nil && len(b) > 0 {
			adminAddr = string(b)
			if status, body := get("http://"+adminAddr+"/ready", ""); status == 200 && body == "LIVE\n" {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("proxy exited %d: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy never became LIVE (admin %q): %s", adminAddr, errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	connected := false
	for _, p := range svc.ADS().Proxies("edge") {
		connected = connected || (p.Node == "edge-proxy" && p.Connected)
	}
	if !connected {
		t.Error("the server does not list the proxy as connected")
	}
	gw := fmt.Sprintf("http://127.0.0.1:%d", port)
	if status, body := get(gw+"/hello", "shop.example.com"); status != 200 || body != "hello" {
		t.Errorf("/hello through the proxy: %d %q", status, body)
	}
	if status, _ := get(gw+"/other", "shop.example.com"); status != 503 {
		t.Errorf("/other through the proxy: %d, want 503 (the upstream is down)", status)
	}
	if status, body := get("http://"+adminAddr+"/stats", ""); status != 200 || !strings.Contains(body, "cluster.gone.upstream_rq_total: 1\n") {
		t.Errorf("/stats: %d\n%s", status, body)
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("proxy exited %d: %s", code, errOut.String())
		}
		if !strings.Contains(out.String(), "node edge-proxy of gateway edge") {
			t.Errorf("proxy printed %q", out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy did not stop")
	}
}

// lockedBuffer is an output a command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
