// Command bench is routedeck's benchmark harness. It measures what the
// design promises at scale and prints one JSON document: the machine, then
// every figure with its target and whether it met it.
//
//	go run ./bench [-only translate,incremental,load,fanout,publish,eds,churn,memory,servermem,sim,evaluate,accesslog,logquery,replay,replicas] [-quick] [-timeout 15m] [-strict] [-churn 60s] [-cpuprofile FILE] [-memprofile FILE]
//
// Figures:
//   - translate: a cold translation of 10,000 routes over 1,000 hosts and
//     1,000 upstreams (bench/workload), and of the comparison corpus
//     (workload.Corpus) at 1,000 and 10,000 routes;
//   - incremental: one route edited, then translated again by the warm
//     translate.Translator the ADS server keeps per gateway;
//   - load: 10,000 routes of the shared corpus (bench/workload
//     CorpusYAML, CorpusGatewayAPI) read from routedeck's YAML and
//     imported from Gateway API YAML;
//   - fanout: a publish until every ADS client ACKed it, for 100, 500 and
//     2,000 clients (package adsbench over backend/xds/xdsload), and for
//     2,000 clients over mutual TLS, held to 1.5x the plaintext figure;
//     and one-route edits of the 10,000-route gateway until 1,000 clients
//     ACKed, state-of-the-world clients and delta clients with VHDS;
//   - publish: publishes through the API of the server routedeck serve
//     builds, 10,000 routes: the first (cold), after a one-route edit,
//     and with 1,000 ADS clients until all ACKed (bench/publish.go);
//   - eds: one upstream's endpoint change until 1,000 ADS clients ACKed
//     the new EDS, and how many rules it translated (none);
//   - churn: 50 route changes per second through the API (write, publish)
//     with 1,000 ADS clients: change until all ACKed, CPU and RSS
//     (bench/churn.go);
//   - memory: the ADS server's resident memory with 10,000 routes and 1,000
//     clients, the clients in a child process (adsbench.RunMemory);
//   - servermem: the whole server's resident memory (store, API, lint,
//     release service, ADS) with 10,000 routes published to 1,000
//     clients in a child process (bench/servermem.go);
//   - sim: route selection by the simulated Envoy over 10,000 routes (first,
//     last, miss, regex), ns/op and allocs/op from testing.Benchmark;
//   - evaluate: POST /evaluate over loopback against the server routedeck
//     serve builds, 50 concurrent clients, 1,000 routes and 3 routes in
//     alternating rounds;
//   - accesslog: access log entries over loopback gRPC into the ADS
//     server's access log service and the request log store, committed;
//     then RSS over ten rounds of a tenth of alsMemEntries each, into a
//     store bounded to one round.
//   - logquery: request log queries of every filter shape the API offers
//     on 1,000,000 stored entries (bench/logquery.go);
//   - replay: 100,000 captured requests of a 1,000-route gateway replayed
//     against its edited draft, through the evaluator alone and through
//     the evaluator and the simulated Envoy (bench/replay.go);
//   - replicas: a publish to Consul KV until 1,000 ADS clients spread
//     over two xDS replicas ACKed it (bench/replicas.go).
//
// Everything runs on loopback, is bounded in count, and stops at -timeout.
// -quick shrinks every workload (and says so in the output) for a smoke run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/routedeck/routedeck/bench/adsbench"
)

// Machine describes where the figures were taken.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GoMaxProcs int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel,omitempty"`
}

// Figure is one measured value against its target.
type Figure struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Value       float64 `json:"value"`
	Unit        string  `json:"unit"`
	// Target is the bound the value must meet: at most Target, or at least
	// when AtLeast is set.
	Target  float64        `json:"target"`
	AtLeast bool           `json:"atLeast,omitempty"`
	Pass    bool           `json:"pass"`
	Detail  map[string]any `json:"detail,omitempty"`
}

// Report is the JSON document the harness prints.
type Report struct {
	At       time.Time `json:"at"`
	Quick    bool      `json:"quick"`
	Sections []string  `json:"sections"`
	Machine  Machine   `json:"machine"`
	Figures  []Figure  `json:"figures"`
	Passed   int       `json:"passed"`
	Failed   int       `json:"failed"`
	Seconds  float64   `json:"seconds"`
}

// sections in the order they run; memory first, in a process that has held
// nothing else, so its RSS is the ADS server's.
var sections = []string{"memory", "servermem", "translate", "incremental", "load", "fanout", "publish", "eds", "churn", "sim", "evaluate", "accesslog", "logquery", "replay", "replicas"}

func main() {
	testing.Init() // testing.Benchmark reads -test.benchtime
	only := flag.String("only", strings.Join(sections, ","), "sections to run, comma-separated: "+strings.Join(sections, ", "))
	quick := flag.Bool("quick", false, "small workloads and short runs, for a smoke test")
	timeout := flag.Duration("timeout", 15*time.Minute, "stop everything after this long")
	strict := flag.Bool("strict", false, "exit 1 when a figure misses its target")
	// The memory run's client fleet is this program again (adsbench.RunMemory).
	role := flag.String("role", "harness", "harness, or clients (internal: the memory run's fleet), als-server or als-client (internal: the access log run's)")
	addr := flag.String("addr", "", "ADS address (clients role)")
	n := flag.Int("n", 0, "clients to run (clients role)")
	clients := flag.Int("clients", 0, "ADS clients of the memory, servermem, publish, eds and churn runs instead of 1,000 (100 with -quick), for iteration: the targets are for 1,000")
	churn := flag.Duration("churn", 0, "how long the churn run lasts (default 60s, 10s with -quick)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the harness process (the server measured, not the client fleet) to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile of the server the servermem run measures, at the moment measured, to this file (and the churn run's, at its end, to FILE.churn)")
	timedProfile := flag.String("timedprofile", "", "eds: write CPU profiles of the timed changes only, the harness's to FILE and the client fleet's to FILE.clients")
	flag.Parse()

	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	adsbench.RaiseFileLimit()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if *role == "clients" {
		if err := adsbench.RunClients(ctx, *addr, *n, *cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "clients:", err)
			os.Exit(1)
		}
		return
	}
	// The access log runs' server and client (bench/accesslog.go).
	if *role == "als-server" || *role == "als-client" {
		run := func() error { return runALSServer(ctx, *n, *cpuProfile) }
		if *role == "als-client" {
			run = func() error { return runALSClient(ctx, *addr, *n) }
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, *role+":", err)
			os.Exit(1)
		}
		return
	}

	chosen := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(sections, s) {
			fail(fmt.Errorf("-only: unknown section %q (want %s)", s, strings.Join(sections, ", ")))
		}
		chosen[s] = true
	}
	if *quick {
		_ = flag.Set("test.benchtime", "100ms")
	} else {
		_ = flag.Set("test.benchtime", "1s")
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer f.Close()
	}
	start := time.Now()
	rep := Report{At: start.UTC().Truncate(time.Second), Quick: *quick, Machine: machine()}
	sc := scale(*quick)
	if *churn > 0 {
		sc.churn = *churn
	}
	if *clients > 0 {
		sc.memClients = *clients
	}
	sc.timedProfile = *timedProfile
	for _, s := range sections {
		if !chosen[s] {
			continue
		}
		rep.Sections = append(rep.Sections, s)
		fmt.Fprintf(os.Stderr, "bench: %s...\n", s)
		var figs []Figure
		var err error
		switch s {
		case "memory":
			figs, err = benchMemory(ctx, sc)
		case "servermem":
			figs, err = benchServerMemory(ctx, sc, *memProfile)
		case "translate":
			figs, err = benchTranslate(sc)
		case "incremental":
			figs, err = benchIncremental(sc)
		case "load":
			figs, err = benchLoad(sc)
		case "fanout":
			figs, err = benchFanOut(ctx, sc)
		case "publish":
			figs, err = benchPublish(ctx, sc)
		case "eds":
			figs, err = benchEDS(ctx, sc)
		case "churn":
			figs, err = benchChurn(ctx, sc, sc.churn, *memProfile)
		case "sim":
			figs, err = benchSim(sc)
		case "evaluate":
			figs, err = benchEvaluate(ctx, sc)
		case "accesslog":
			figs, err = benchAccessLog(ctx, sc)
		case "logquery":
			figs, err = benchLogQuery(ctx, sc)
		case "replay":
			figs, err = benchReplay(ctx, sc)
		case "replicas":
			figs, err = benchReplicas(ctx, sc)
		}
		if err != nil {
			fail(fmt.Errorf("%s: %w", s, err))
		}
		rep.Figures = append(rep.Figures, figs...)
	}
	pprof.StopCPUProfile() // a no-op without -cpuprofile
	for i := range rep.Figures {
		f := &rep.Figures[i]
		f.Pass = f.Value <= f.Target
		if f.AtLeast {
			f.Pass = f.Value >= f.Target
		}
		if f.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
	}
	rep.Seconds = round(time.Since(start).Seconds(), 1)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fail(err)
	}
	if *strict && rep.Failed > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// sizes are the workloads; quick mode shrinks them (targets stay, so a
// quick run is a smoke test, not a measurement).
type sizes struct {
	routes, hosts, upstreams int
	fullRuns, edits          int
	fanOutClients            []int
	fanOutRoutes, publishes  int
	memRoutes, memClients    int
	simRoutes                int
	evalRoutes, evalClients  int
	evalRounds               int
	evalDuration             time.Duration // per gateway size, over all rounds
	alsEntries               int
	churn                    time.Duration
	// replayRoutes and replayRequests size the replay run.
	replayRoutes, replayRequests int
	alsMemEntries                int
	// logQueryEntries and logQueryRounds size the request log query run.
	logQueryEntries, logQueryRounds int
	// timedProfile is where the eds run writes CPU profiles of its timed
	// part alone ("" for none): setup (a publish, a thousand clients
	// connecting) would otherwise drown what a change costs.
	timedProfile string
}

func scale(quick bool) sizes {
	if quick {
		return sizes{routes: 1000, hosts: 100, upstreams: 100, fullRuns: 2, edits: 5,
			fanOutClients: []int{100, 500}, fanOutRoutes: 100, publishes: 3,
			memRoutes: 1000, memClients: 100, simRoutes: 1000,
			evalRoutes: 1000, evalClients: 50, evalRounds: 2, evalDuration: 2 * time.Second, alsEntries: 20000,
			churn: 10 * time.Second, replayRoutes: 1000, replayRequests: 10000, alsMemEntries: 100000,
			logQueryEntries: 100000, logQueryRounds: 2}
	}
	return sizes{routes: 10000, hosts: 1000, upstreams: 1000, fullRuns: 5, edits: 30,
		fanOutClients: []int{100, 500, 2000}, fanOutRoutes: 100, publishes: 10,
		memRoutes: 10000, memClients: 1000, simRoutes: 10000,
		evalRoutes: 1000, evalClients: 50, evalRounds: 5, evalDuration: 15 * time.Second, alsEntries: 500000,
		churn: time.Minute, replayRoutes: 1000, replayRequests: 100000, alsMemEntries: 10000000,
		logQueryEntries: 1000000, logQueryRounds: 5}
}

// machine reads the CPU model from /proc/cpuinfo and the kernel release.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoMaxProcs: runtime.GOMAXPROCS(0), Go: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func ms(d time.Duration) float64 { return round(float64(d.Nanoseconds())/1e6, 3) }

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

// median of a copy of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuTime is the process's CPU time (user and system, all threads), which
// on a shared machine says more than wall time about the work done.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchMemory(ctx context.Context, sc sizes) ([]Figure, error) {
	m, err := adsbench.RunMemory(ctx, sc.memRoutes, sc.memClients, "")
	if err != nil {
		return nil, err
	}
	return []Figure{{
		Name:        "memory.rss",
		Description: fmt.Sprintf("ADS server resident memory serving %d routes to %d ACKing clients (clients in a child process)", m.Routes, m.Clients),
		Value:       round(m.RSSMiB, 1), Unit: "MiB", Target: 200,
		Detail: map[string]any{"peakRssMiB": round(m.PeakRSSMiB, 1), "heapMiB": round(m.HeapMiB, 1),
			"baselineRssMiB": round(m.BaselineRSSMiB, 1), "republishAllAckedMs": m.AllAckedMs},
	}}, nil
}

func benchFanOut(ctx context.Context, sc sizes) ([]Figure, error) {
	// Targets: 500 proxies within 300 ms and 2,000 within a second; 100
	// proxies are held to the 500-proxy bound.
	targets := map[int]float64{100: 300, 500: 300, 2000: 1000}
	var out []Figure
	plain := map[int]adsbench.FanOut{}
	for _, c := range sc.fanOutClients {
		r, err := adsbench.RunFanOut(ctx, adsbench.Routedeck, c, sc.fanOutRoutes, sc.publishes)
		if err != nil {
			return nil, err
		}
		plain[c] = r
		out = append(out, Figure{
			Name:        fmt.Sprintf("fanout.%d", c),
			Description: fmt.Sprintf("publish until all %d ADS clients ACKed the routes (p50 of %d publishes, %d-route gateway)", c, r.Publishes, r.Routes),
			Value:       r.P50Ms, Unit: "ms", Target: targets[c],
			Detail: map[string]any{"maxMs": r.MaxMs, "meanMs": round(r.MeanMs, 3), "connectMs": r.ConnectMs},
		})
	}
	// The largest fleet again over mutual TLS, as `serve` runs ADS, held to
	// 1.5x the plaintext figure of this run. Timed once every client has
	// connected: the handshakes are in connectMs.
	c := sc.fanOutClients[len(sc.fanOutClients)-1]
	r, err := adsbench.RunFanOut(ctx, adsbench.RoutedeckMTLS, c, sc.fanOutRoutes, sc.publishes)
	if err != nil {
		return nil, err
	}
	out = append(out, Figure{
		Name: fmt.Sprintf("fanout.mtls.%d", c),
		Description: fmt.Sprintf("publish until all %d ADS clients connected over mutual TLS ACKed the routes (p50 of %d publishes, %d-route gateway); target 1.5x fanout.%d",
			c, r.Publishes, r.Routes, c),
		Value: r.P50Ms, Unit: "ms", Target: round(1.5*plain[c].P50Ms, 3),
		Detail: map[string]any{"maxMs": r.MaxMs, "meanMs": round(r.MeanMs, 3), "connectMs": r.ConnectMs,
			"ratioToPlaintext": round(r.P50Ms/plain[c].P50Ms, 3)},
	})
	// One-route edits of the large gateway to sc.memClients proxies:
	// state-of-the-world clients get the whole route configuration, delta
	// clients of a server with VHDS the one virtual host.
	for _, vhds := range []bool{false, true} {
		e, err := adsbench.RunEdit(ctx, vhds, sc.memClients, sc.routes, sc.hosts, sc.edits)
		if err != nil {
			return nil, err
		}
		out = append(out, Figure{
			Name: fmt.Sprintf("fanout.edit.%s.%d", e.Mode, e.Clients),
			Description: fmt.Sprintf("one-route edit of a %d-route, %d-host gateway, from the snapshot set until all %d ADS clients (%s) ACKed it (p99 of %d edits)",
				e.Routes, e.Hosts, e.Clients, map[bool]string{false: "state of the world", true: "delta with VHDS"}[vhds], e.Edits),
			Value: e.P99Ms, Unit: "ms", Target: 200,
			Detail: map[string]any{"p50Ms": e.P50Ms, "maxMs": e.MaxMs, "connectMs": e.ConnectMs, "setSnapshotP50Ms": e.SetP50Ms},
		})
	}
	return out, nil
}
