// Package adsbench measures the ADS server: how long a publish takes to be
// ACKed by every connected proxy, and how much memory the server holds with
// a large gateway and many proxies. Everything runs on loopback and stops by
// itself. bench/ads prints these measures alone; the bench harness
// (go run ./bench) includes them in its report.
package adsbench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"

	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/backend/xds/xdsload"
)

// FanOut is the publish-to-all-ACKed latency for one fleet size.
type FanOut struct {
	Server    string  `json:"server"`
	Clients   int     `json:"clients"`
	Routes    int     `json:"routes"`
	Publishes int     `json:"publishes"`
	ConnectMs float64 `json:"connectMs"` // all clients connected and ACKed the first snapshot
	P50Ms     float64 `json:"p50Ms"`
	MaxMs     float64 `json:"maxMs"`
	MeanMs    float64 `json:"meanMs"`
}

// Memory is the server's resident memory with a large gateway.
type Memory struct {
	Routes     int     `json:"routes"`
	Clients    int     `json:"clients"`
	AllAckedMs float64 `json:"allAckedMs"` // second publish, every client ACKed
	RSSMiB     float64 `json:"rssMiB"`
	PeakRSSMiB float64 `json:"peakRssMiB"`
	HeapMiB    float64 `json:"heapMiB"`
	// BaselineRSSMiB is the RSS with the snapshot set and no clients.
	BaselineRSSMiB float64 `json:"baselineRssMiB"`
}

// RaiseFileLimit lifts the soft descriptor limit to the hard one: every
// client is a connection, and both of its ends may be in this process.
func RaiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// publisher sets a gateway's snapshot on some ADS server implementation.
type publisher interface {
	publish(ctx context.Context, routes, generation int) (version string, err error)
}

// Server is an ADS server implementation a fan-out run can measure. start
// returns how to publish, the address, the clients' TLS configuration (nil
// for plaintext) and how to stop.
type Server struct {
	name  string
	start func(ctx context.Context) (publisher, string, *tls.Config, func(), error)
}

// Name is the server's name in results.
func (s Server) Name() string { return s.name }

// Routedeck is this project's ADS server (backend/xds).
var Routedeck = Server{name: "routedeck", start: func(ctx context.Context) (publisher, string, *tls.Config, func(), error) {
	s := xds.New(xds.Options{Logger: slog.New(slog.DiscardHandler)})
	addr, stop, err := serve(ctx, s.Serve)
	return routedeckPublisher{s}, addr, nil, stop, err
}}

// RoutedeckMTLS is this project's ADS server as `serve` runs it: mutual
// TLS with a CA of its own (key sealed) and the per-stream identity check.
// The clients share one certificate of the benchmark's gateway.
var RoutedeckMTLS = Server{name: "routedeck-mtls", start: func(ctx context.Context) (publisher, string, *tls.Config, func(), error) {
	dir, err := os.MkdirTemp("", "routedeck-bench-pki-")
	if err != nil {
		return nil, "", nil, nil, err
	}
	keys, err := seal.Generate()
	if err != nil {
		return nil, "", nil, nil, err
	}
	ca, err := pki.Open(dir, keys, pki.Options{})
	if err != nil {
		return nil, "", nil, nil, err
	}
	guard := pki.NewGuard(ca, nil, pki.ServerNames("127.0.0.1", nil))
	s := xds.New(xds.Options{Logger: slog.New(slog.DiscardHandler), TLS: guard.TLSConfig(), Authorize: guard.Authorize})
	is, err := ca.IssueGateway("bench", 0)
	if err != nil {
		return nil, "", nil, nil, err
	}
	cert, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		return nil, "", nil, nil, err
	}
	addr, stop, err := serve(ctx, s.Serve)
	return routedeckPublisher{s}, addr, ca.ClientTLS(cert), func() { stop(); os.RemoveAll(dir) }, err
}}

type routedeckPublisher struct{ s *xds.Server }

func (p routedeckPublisher) publish(ctx context.Context, routes, gen int) (string, error) {
	res, err := xdsload.Gateway(routes, gen)
	if err != nil {
		return "", err
	}
	v := strconv.Itoa(gen)
	return v, p.s.SetGateway(ctx, "bench", res, v)
}

// GoControlPlane is go-control-plane's own SnapshotCache, for comparison:
// it marshals every resource again for every proxy it responds to.
var GoControlPlane = Server{name: "go-control-plane", start: func(ctx context.Context) (publisher, string, *tls.Config, func(), error) {
	c := cache.NewSnapshotCache(true, clusterHash{}, nil)
	srv := serverv3.NewServer(ctx, c, nil)
	addr, stop, err := serve(ctx, func(ctx context.Context, lis net.Listener) error {
		g := grpc.NewServer(xds.GRPCServerOptions()...)
		discovery.RegisterAggregatedDiscoveryServiceServer(g, srv)
		go func() { <-ctx.Done(); g.Stop() }()
		return g.Serve(lis)
	})
	return controlPlanePublisher{c}, addr, nil, stop, err
}}

type clusterHash struct{}

func (clusterHash) ID(n *corev3.Node) string { return n.GetCluster() }

type controlPlanePublisher struct{ c cache.SnapshotCache }

func (p controlPlanePublisher) publish(ctx context.Context, routes, gen int) (string, error) {
	res, err := xdsload.Gateway(routes, gen)
	if err != nil {
		return "", err
	}
	v := strconv.Itoa(gen)
	snap, err := cache.NewSnapshot(v, map[resource.Type][]types.Resource(xds.ByType(res)))
	if err != nil {
		return "", err
	}
	if err := snap.Consistent(); err != nil {
		return "", err
	}
	return v, p.c.SetSnapshot(ctx, "bench", snap)
}

// serve runs fn on a loopback listener until the returned stop is called.
func serve(ctx context.Context, fn func(context.Context, net.Listener) error) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = fn(ctx, lis); close(done) }()
	return lis.Addr().String(), func() { cancel(); <-done }, nil
}

// RunFanOut starts kind's server with a synthetic gateway of routes routes
// (xdsload.Gateway), connects clients ADS clients (xdsload.Fleet) and
// measures publishes publishes, each until every client ACKed its routes.
func RunFanOut(ctx context.Context, kind Server, clients, routes, publishes int) (FanOut, error) {
	r := FanOut{Server: kind.name, Clients: clients, Routes: routes, Publishes: publishes}
	pub, addr, clientTLS, stop, err := kind.start(ctx)
	if err != nil {
		return r, err
	}
	defer stop()
	gen := 1
	v, err := pub.publish(ctx, routes, gen)
	if err != nil {
		return r, err
	}
	start := time.Now()
	fleet, err := xdsload.StartTLS(ctx, addr, "bench", "envoy", clients, clientTLS)
	if err != nil {
		return r, err
	}
	defer fleet.Stop()
	if err := fleet.WaitAll(ctx, v); err != nil {
		return r, fmt.Errorf("%s, %d clients, connect: %w", kind.name, clients, err)
	}
	r.ConnectMs = ms(time.Since(start))
	var took []float64
	for range publishes {
		gen++
		start := time.Now()
		v, err := pub.publish(ctx, routes, gen)
		if err != nil {
			return r, err
		}
		if err := fleet.Wait(ctx, resource.RouteType, v); err != nil {
			return r, fmt.Errorf("%s, %d clients, publish %d: %w", kind.name, clients, gen, err)
		}
		took = append(took, ms(time.Since(start)))
	}
	slices.Sort(took)
	r.P50Ms = took[len(took)/2]
	r.MaxMs = took[len(took)-1]
	for _, t := range took {
		r.MeanMs += t / float64(len(took))
	}
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// RunMemory serves a large gateway to clients run in a child process, so
// the RSS read here is the server's alone. The child is this program run
// again as "-role=clients -addr=ADDR -n=N -timeout=D": a main that calls
// RunMemory must answer that command line with RunClients.
func RunMemory(ctx context.Context, routes, clients int, profile string) (*Memory, error) {
	m := &Memory{Routes: routes, Clients: clients}
	s := xds.New(xds.Options{Logger: slog.New(slog.DiscardHandler)})
	addr, stop, err := serve(ctx, s.Serve)
	if err != nil {
		return nil, err
	}
	defer stop()
	pub := routedeckPublisher{s}
	v, err := pub.publish(ctx, routes, 1)
	if err != nil {
		return nil, err
	}
	runtime.GC()
	m.BaselineRSSMiB, _ = ProcStatus("VmRSS")

	stopClients, err := StartClients(ctx, addr, clients)
	if err != nil {
		return nil, err
	}
	defer stopClients()
	if err := waitAcked(ctx, s, clients, v); err != nil {
		return nil, err
	}
	start := time.Now()
	v, err = pub.publish(ctx, routes, 2)
	if err != nil {
		return nil, err
	}
	if err := waitAcked(ctx, s, clients, v); err != nil {
		return nil, err
	}
	m.AllAckedMs = ms(time.Since(start))
	runtime.GC()
	m.RSSMiB, _ = ProcStatus("VmRSS")
	m.PeakRSSMiB, _ = ProcStatus("VmHWM")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.HeapMiB = float64(ms.HeapInuse) / (1 << 20)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Minute)
	}
	return d
}

// waitAcked polls the server's count of ACKs until every client ACKed
// version of the routes.
func waitAcked(ctx context.Context, s *xds.Server, clients int, version string) error {
	for {
		n := s.Acked("bench", resource.RouteType, version)
		if n == clients {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d clients acked version %s: %w", n, clients, version, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// WaitLine reads r until a line says want (a child process announcing it
// is ready).
func WaitLine(r io.Reader, want string) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == want {
			return nil
		}
	}
	return fmt.Errorf("exited before saying %q", want)
}

// ProcStatus reads a "kB" field of /proc/self/status in MiB.
func ProcStatus(field string) (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// RunClients is the child process of the memory run: it connects the
// fleet, says so, and runs until its parent closes stdin or ctx ends.
func RunClients(ctx context.Context, addr string, n int, profile string) error {
	fleet, err := xdsload.Start(ctx, addr, "bench", "envoy", n)
	if err != nil {
		return err
	}
	defer fleet.Stop()
	if profile != "" {
		stop, err := profileOnSignal(profile)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Println("connected")
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	// A client whose stream fails must fail the run, not leave it
	// waiting for an ACK that never comes.
	failed := make(chan error, 1)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { failed <- fleet.Failed(fctx) }()
	select {
	case <-done:
	case <-ctx.Done():
	case err := <-failed:
		return err
	}
	return nil
}

// StartClients runs n ADS clients of the bench gateway at addr in a child
// process (this program again, as "-role=clients"), so they take no memory
// and no scheduling from the server measured, and returns once they are
// connected; stop ends them.
func StartClients(ctx context.Context, addr string, n int) (stop func(), err error) {
	c, err := StartClientProcess(ctx, addr, n)
	if err != nil {
		return nil, err
	}
	return c.Stop, nil
}

// ClientProcess is the child process running a fleet (StartClientProcess).
type ClientProcess struct {
	cmd    *exec.Cmd
	stdin  io.Closer
	exited chan struct{} // closed once the process has ended
}

// StartClientProcess is StartClients, returning the process so that its
// CPU time can be read.
func StartClientProcess(ctx context.Context, addr string, n int) (*ClientProcess, error) {
	return StartClientProcessProfiled(ctx, addr, n, "")
}

// StartClientProcessProfiled is StartClientProcess with a CPU profile of
// the fleet written to profile between StartProfile and StopProfile
// ("" for none).
func StartClientProcessProfiled(ctx context.Context, addr string, n int, profile string) (*ClientProcess, error) {
	child := exec.CommandContext(ctx, os.Args[0], "-role=clients", "-addr="+addr, "-n="+strconv.Itoa(n),
		"-timeout="+time.Until(deadline(ctx)).Round(time.Second).String(), "-cpuprofile="+profile)
	child.Stderr = os.Stderr
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := child.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := child.Start(); err != nil {
		return nil, fmt.Errorf("start client process: %w", err)
	}
	c := &ClientProcess{cmd: child, stdin: stdin, exited: make(chan struct{})}
	go func() { _ = child.Wait(); close(c.exited) }()
	if err := WaitLine(stdout, "connected"); err != nil {
		c.Stop()
		return nil, fmt.Errorf("client process: %w", err)
	}
	return c, nil
}

// Stop ends the fleet and waits for the process.
func (c *ClientProcess) Stop() { c.stdin.Close(); <-c.exited }

// Exited is closed once the process has ended, as it does when a client
// fails: whoever waits for the fleet's ACKs should stop waiting.
func (c *ClientProcess) Exited() <-chan struct{} { return c.exited }

// StartProfile starts the fleet's CPU profile (StartClientProcessProfiled).
func (c *ClientProcess) StartProfile() error { return c.cmd.Process.Signal(syscall.SIGUSR1) }

// StopProfile stops and writes the fleet's CPU profile.
func (c *ClientProcess) StopProfile() error { return c.cmd.Process.Signal(syscall.SIGUSR2) }

// profileOnSignal writes a CPU profile to path from SIGUSR1 to SIGUSR2
// (or the returned stop).
func profileOnSignal(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sig:
				if s == syscall.SIGUSR1 {
					_ = pprof.StartCPUProfile(f)
				} else {
					pprof.StopCPUProfile()
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(sig); close(done); pprof.StopCPUProfile(); f.Close() }, nil
}

// CPUSeconds is the CPU time (user and system) the process has used.
func (c *ClientProcess) CPUSeconds() (float64, error) {
	return procCPU(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
}

// CPUSeconds is the CPU time (user and system) this process has used.
func CPUSeconds() (float64, error) { return procCPU("/proc/self/stat") }

// procCPU reads utime and stime from a /proc stat file. Clock ticks are
// 100 a second on every Linux platform Go supports.
func procCPU(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis (state is field 3, utime 14).
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	var ticks float64
	for _, s := range f[11:13] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		ticks += v
	}
	return ticks / 100, nil
}
