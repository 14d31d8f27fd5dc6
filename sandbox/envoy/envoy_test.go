package envoy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/xds"
)

// The test binary doubles as a stand-in Envoy: run with envFake set, it
// reads the bootstrap like Envoy (-c), serves the admin interface on the
// address the bootstrap gives, writes that address to
// --admin-address-path, answers /ready and /config_dump, and exits on
// SIGTERM. envFakeMode makes it misbehave.
const (
	envFake     = "ROUTEDECK_TEST_FAKE_ENVOY"
	envFakeMode = "ROUTEDECK_TEST_FAKE_ENVOY_MODE" // crash, ignore-term, never-ready
)

func TestMain(m *testing.M) {
	if os.Getenv(envFake) != "" {
		os.Exit(fakeEnvoy(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeEnvoy(args []string) int {
	opts := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		opts[args[i]] = args[i+1]
	}
	mode := os.Getenv(envFakeMode)
	fmt.Fprintf(os.Stderr, "[warning] fake envoy starting, base id %s, log level %s\n", opts["--base-id"], opts["--log-level"])
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, "[critical] error initializing configuration: bad bootstrap")
		return 1
	}
	data, err := os.ReadFile(opts["-c"])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	boot, err := xds.ParseBootstrapYAML(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sa := boot.GetAdmin().GetAddress().GetSocketAddress()
	lis, err := net.Listen("tcp", net.JoinHostPort(sa.GetAddress(), fmt.Sprint(sa.GetPortValue())))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(opts["--admin-address-path"], []byte(lis.Addr().String()), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bootJSON, _ := protojson.Marshal(boot)
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if mode == "never-ready" {
			http.Error(w, "PRE_INITIALIZING", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "LIVE")
	})
	mux.HandleFunc("/config_dump", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", "bootstrap": %s}]}`, bootJSON)
	})
	go http.Serve(lis, mux)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	for range sig {
		if mode != "ignore-term" {
			fmt.Fprintln(os.Stderr, "[warning] caught SIGTERM, shutting down")
			return 0
		}
	}
	return 0
}

func fakeConfig(t *testing.T, mode string) Config {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Binary: self, Gateway: "public", ADSAddr: "127.0.0.1:18000", Dir: t.TempDir(),
		Env:          []string{envFake + "=1", envFakeMode + "=" + mode},
		ReadyTimeout: 5 * time.Second, StopGrace: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestArgs(t *testing.T) {
	c := Config{Dir: "/var/lib/routedeck/envoy-public", BaseID: 42}
	want := []string{
		"-c", "/var/lib/routedeck/envoy-public/bootstrap.yaml",
		"--base-id", "42",
		"--log-level", "warn",
		"--admin-address-path", "/var/lib/routedeck/envoy-public/admin-address.txt",
		"--drain-time-s", "1",
	}
	if diff := cmp.Diff(want, c.Args()); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	c.BaseID, c.LogLevel = 0, "debug"
	a, b := c.Args(), c.Args()
	if a[3] == "0" || a[3] == b[3] || a[5] != "debug" {
		t.Errorf("picked base ids %s and %s (want distinct, non-zero), log level %s", a[3], b[3], a[5])
	}
}

func TestBootstrap(t *testing.T) {
	data, err := BootstrapYAML("public", NodeID("public", 7), "127.0.0.1:18000", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := xds.ParseBootstrapYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.GetNode().GetCluster(); got != "sandbox/public" {
		t.Errorf("node cluster %q", got)
	}
	if id := b.GetNode().GetId(); !strings.HasPrefix(id, "sandbox-public-") || !strings.HasSuffix(id, "-7") || id == NodeID("public", 8) {
		t.Errorf("node id %q", b.GetNode().GetId())
	}
	admin := b.GetAdmin().GetAddress().GetSocketAddress()
	if admin.GetAddress() != "127.0.0.1" || admin.GetPortValue() != 0 {
		t.Errorf("admin on %s:%d, want loopback with a port Envoy picks", admin.GetAddress(), admin.GetPortValue())
	}
	ads := b.GetStaticResources().GetClusters()[0].GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if ads.GetAddress() != "127.0.0.1" || ads.GetPortValue() != 18000 {
		t.Errorf("ADS at %s:%d", ads.GetAddress(), ads.GetPortValue())
	}
	if b.GetDynamicResources().GetAdsConfig() == nil || b.GetDynamicResources().GetLdsConfig().GetAds() == nil {
		t.Error("listeners do not come over ADS")
	}
	if _, err := BootstrapYAML("public", "n", "no-port", nil); err == nil {
		t.Error("a bad ADS address passed")
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	e, err := Start(ctx, fakeConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if host, _, _ := net.SplitHostPort(e.AdminAddr()); host != "127.0.0.1" {
		t.Errorf("admin on %q", e.AdminAddr())
	}
	dump, err := e.ConfigDump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var cd struct {
		Configs []struct {
			Bootstrap struct {
				Node struct{ Cluster string } `json:"node"`
			} `json:"bootstrap"`
		} `json:"configs"`
	}
	if err := json.Unmarshal(dump, &cd); err != nil || len(cd.Configs) == 0 || cd.Configs[0].Bootstrap.Node.Cluster != "sandbox/public" {
		t.Errorf("config_dump %s (%v)", dump, err)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Done():
	default:
		t.Fatal("Stop returned before the process exited")
	}
	if logs := e.Logs(); !strings.Contains(logs, "log level warn") || !strings.Contains(logs, "caught SIGTERM") {
		t.Errorf("logs:\n%s", logs)
	}
	if err := e.Stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	e, err := Start(context.Background(), fakeConfig(t, "ignore-term"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("stop took %v with a 300ms grace", took)
	}
	if err := syscall.Kill(e.Pid(), 0); err == nil {
		t.Error("process still exists")
	}
}

func TestStartFailures(t *testing.T) {
	tests := map[string]struct {
		mode string
		want string
	}{
		"crash":       {"crash", "error initializing configuration"},
		"never ready": {"never-ready", "context deadline exceeded"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := fakeConfig(t, tc.mode)
			cfg.ReadyTimeout = time.Second
			_, err := Start(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := Start(context.Background(), Config{}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("empty config: %v", err)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "envoy")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		configured, env, path string
		want                  string
		code                  string
	}{
		"configured wins":  {configured: bin, env: "/nowhere/envoy", want: bin},
		"environment":      {env: bin, want: bin},
		"path":             {path: dir, want: bin},
		"none":             {path: t.TempDir(), code: model.ENOTFOUND},
		"configured wrong": {configured: filepath.Join(dir, "missing"), path: dir, code: model.ENOTFOUND},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv(EnvBinary, tc.env)
			t.Setenv("PATH", tc.path)
			got, err := Find(tc.configured)
			if model.ErrorCode(err) != tc.code || got != tc.want {
				t.Errorf("Find(%q) = %q, %v", tc.configured, got, err)
			}
		})
	}
}

func TestParseStats(t *testing.T) {
	got := ParseStats([]byte("cluster.api.upstream_rq_pending_overflow: 14\ncluster.api.circuit_breakers.default.rq_open: 1\n" +
		"cluster.api.upstream_rq_time: P0(nan,1) P25(nan,2)\nbroken line\nserver.uptime: 7\n"))
	want := map[string]uint64{"cluster.api.upstream_rq_pending_overflow": 14, "cluster.api.circuit_breakers.default.rq_open": 1, "server.uptime": 7}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
}
