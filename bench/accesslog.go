package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/accesslog/alsload"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/bench/adsbench"
)

// The access log runs measure ingestion on one core, as the target says,
// with nothing else in the way: the server (the ADS server's access log
// service and the request log store, as routedeck serve wires them) is a
// child process of this program with GOMAXPROCS=1, pinned to CPU 0 when
// taskset is there; the proxies' side is another child (package alsload:
// four streams, messages of 100 entries), pinned to CPU 1. The server
// reports its own CPU time and resident memory.

// alsServer is the server child as the harness drives it.
type alsServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	addr  string
}

// alsStats is what the server child reports.
type alsStats struct {
	Stored     uint64  `json:"stored"`
	CPUSeconds float64 `json:"cpuSeconds"`
	RSSMiB     float64 `json:"rssMiB"`
}

// pinned wraps a command line in taskset to run on cpu, when the machine
// has a second core to keep the other side on and taskset is installed.
func pinned(cpu int, args ...string) ([]string, bool) {
	if runtime.NumCPU() < 2 {
		return args, false
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return args, false
	}
	return append([]string{ts, "-c", strconv.Itoa(cpu)}, args...), true
}

func startALSServer(ctx context.Context, maxEntries int) (*alsServer, bool, error) {
	args, pin := pinned(0, os.Args[0], "-role=als-server", "-n="+strconv.Itoa(maxEntries))
	// -cpuprofile profiles the server measured: here, this child.
	if f := flag.Lookup("cpuprofile"); f != nil && f.Value.String() != "" {
		args = append(args, "-cpuprofile="+f.Value.String()+".als-server")
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, false, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false, err
	}
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("start the access log server: %w", err)
	}
	s := &alsServer{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if !s.out.Scan() {
		s.close()
		return nil, false, errors.New("the access log server exited before listening")
	}
	addr, ok := strings.CutPrefix(s.out.Text(), "listening ")
	if !ok {
		s.close()
		return nil, false, fmt.Errorf("access log server: %q", s.out.Text())
	}
	s.addr = addr
	return s, pin, nil
}

// stats has the server write what it was sent to the store, then report.
func (s *alsServer) stats() (alsStats, error) {
	if _, err := io.WriteString(s.stdin, "flush\n"); err != nil {
		return alsStats{}, err
	}
	if !s.out.Scan() {
		return alsStats{}, errors.New("the access log server exited")
	}
	var st alsStats
	err := json.Unmarshal(s.out.Bytes(), &st)
	return st, err
}

func (s *alsServer) close() {
	s.stdin.Close()
	_ = s.cmd.Wait()
}

// sendALS runs the proxies' side, a child process on CPU 1, sending
// entries to the server; it returns how many it sent.
func sendALS(ctx context.Context, addr string, entries int) (int, error) {
	args, _ := pinned(1, os.Args[0], "-role=als-client", "-addr="+addr, "-n="+strconv.Itoa(entries))
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("access log client: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(out), "sent ")))
}

// runALSServer is the server child: the ADS server's access log service
// on loopback and a request log store keeping maxEntries per gateway
// (the default when 0). It prints "listening ADDR", then answers every
// "flush" line on its input, once what it received is written, with its
// alsStats as one JSON line; it ends when its input does. With profile
// set it writes its CPU profile there.
func runALSServer(ctx context.Context, maxEntries int, profile string) error {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp("", "routedeck-bench-accesslog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	discard := slog.New(slog.DiscardHandler)
	ads := xds.New(xds.Options{Logger: discard})
	store, err := accesslog.Open(ctx, filepath.Join(dir, "accesslog.db"), accesslog.Options{Logger: discard, MaxEntries: maxEntries})
	if err != nil {
		return err
	}
	defer store.Close()
	ads.SetAccessLogSink(store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- ads.Serve(sctx, lis) }()
	defer func() { cancel(); <-served }()
	fmt.Printf("listening %s\n", lis.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "flush" {
			return fmt.Errorf("unknown command %q", in.Text())
		}
		if err := store.Flush(ctx); err != nil {
			return err
		}
		tr, err := store.Traffic(ctx, "public", time.Time{})
		if err != nil {
			return err
		}
		var st alsStats
		for _, r := range tr {
			st.Stored += r.Requests
		}
		st.CPUSeconds = cpuTime().Seconds()
		st.RSSMiB, _ = adsbench.ProcStatus("VmRSS")
		b, _ := json.Marshal(st)
		fmt.Printf("%s\n", b)
	}
	return in.Err()
}

// runALSClient is the client child: it sends entries to addr and prints
// "sent N".
func runALSClient(ctx context.Context, addr string, entries int) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	sent, err := alsload.Send(ctx, conn, alsload.Options{Gateway: "public", Entries: entries})
	if err != nil {
		return err
	}
	fmt.Printf("sent %d\n", sent)
	return nil
}

// benchAccessLog sends sc.alsEntries access log entries to the server
// child and measures what it stored per second, the clock stopping once
// the last entry is written, and per second of its CPU time; dropped is
// what its bounded queue refused because the writer was behind. A second,
// long run checks the server's memory stays flat while the store trims
// the gateway to its bound.
func benchAccessLog(ctx context.Context, sc sizes) ([]Figure, error) {
	srv, pin, err := startALSServer(ctx, 0)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			srv.close()
		}
	}()
	before, err := srv.stats()
	if err != nil {
		return nil, err
	}
	load := loadAverage()
	start := time.Now()
	sent, err := sendALS(ctx, srv.addr, sc.alsEntries)
	if err != nil {
		return nil, err
	}
	after, err := srv.stats()
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	stored := after.Stored - before.Stored
	cpu := after.CPUSeconds - before.CPUSeconds
	figs := []Figure{{
		Name: "accesslog.ingest",
		Description: "access log entries stored per second by a server on one core (GOMAXPROCS=1, pinned), " +
			"sent from another process over 4 loopback gRPC streams in messages of 100",
		Value: round(float64(stored)/elapsed.Seconds(), 0), Unit: "entries/s", Target: 50000, AtLeast: true,
		// On a shared machine the wall clock says more about the
		// neighbours than about ingestion; the server's CPU time does
		// not.
		Detail: map[string]any{"sent": sent, "stored": stored, "dropped": uint64(sent) - stored, "seconds": round(elapsed.Seconds(), 2),
			"serverCPUSeconds": round(cpu, 2), "entriesPerServerCPUSecond": round(float64(stored)/cpu, 0),
			"pinned": pin, "loadAverage": load},
	}}
	// The memory run has a server of its own.
	srv.close()
	closed = true
	mem, err := benchAccessLogMemory(ctx, sc)
	if err != nil {
		return nil, err
	}
	return append(figs, mem), nil
}

// benchAccessLogMemory sends sc.alsMemEntries entries in ten rounds to a
// server whose store keeps a tenth of them (the default bound, 1,000,000
// entries per gateway, in the full run) and reads the server's RSS after
// each round. The store is full after the first round; from then on
// memory must not grow with the entries: the figure is the growth from
// the end of the third round to the largest reading after it.
func benchAccessLogMemory(ctx context.Context, sc sizes) (Figure, error) {
	const rounds = 10
	bound := sc.alsMemEntries / rounds
	srv, _, err := startALSServer(ctx, bound)
	if err != nil {
		return Figure{}, err
	}
	defer srv.close()
	var rss []float64
	var sent int
	var st alsStats
	start := time.Now()
	for range rounds {
		n, err := sendALS(ctx, srv.addr, sc.alsMemEntries/rounds)
		if err != nil {
			return Figure{}, err
		}
		sent += n
		if st, err = srv.stats(); err != nil {
			return Figure{}, err
		}
		rss = append(rss, round(st.RSSMiB, 1))
	}
	growth := 0.0
	for _, r := range rss[3:] {
		growth = max(growth, r-rss[2])
	}
	return Figure{
		Name:        "accesslog.rss_growth",
		Description: fmt.Sprintf("access log server RSS growth over the last 7 of 10 rounds sending %d entries in all, the store bounded to %d", sent, bound),
		Value:       round(growth, 1), Unit: "MiB", Target: 16,
		Detail: map[string]any{"rssMiBAfterEachRound": rss, "sent": sent, "storedInRollups": st.Stored,
			"seconds": round(time.Since(start).Seconds(), 1), "serverCPUSeconds": round(st.CPUSeconds, 1)},
	}, nil
}
