package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/release"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/bench/adsbench"
	"github.com/routedeck/routedeck/bench/workload"
)

// benchServerMemory is the resident memory of the whole server routedeck
// serve runs (store with its decoded draft, API, lint, release service and
// its translators, ADS) holding a published sc.memRoutes-route gateway
// served to sc.memClients ADS clients, the clients in a child process. Run
// it alone (-only servermem) for a figure no other section's leftovers
// weigh on; in a full run the memory freed before it is returned to the
// system first.
func benchServerMemory(ctx context.Context, sc sizes) ([]Figure, error) {
	runtime.GC()
	debug.FreeOSMemory()
	before, _ := adsbench.ProcStatus("VmRSS")
	dir, err := os.MkdirTemp("", "routedeck-bench-servermem-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	svc := app.New(app.Config{DataDir: dir, Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0", ADSInsecurePlaintext: true,
		NoDemo: true, Notices: io.Discard, Logger: slog.New(slog.DiscardHandler)})
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	defer svc.Stop()
	if _, err := svc.Store().Apply(ctx, "bench", workload.Workspace(sc.memRoutes, sc.memRoutes/10, sc.memRoutes/10)); err != nil {
		return nil, err
	}
	res, err := svc.Release().Publish(ctx, "bench", workload.Gateway, false)
	if err != nil {
		return nil, err
	}
	stop, err := startClients(ctx, svc.ADSAddr().String(), sc.memClients)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := waitAcked(ctx, svc.ADS(), resource.RouteType, sc.memClients, release.VersionLabel(res.Version)); err != nil {
		return nil, err
	}
	runtime.GC()
	rss, _ := adsbench.ProcStatus("VmRSS")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// What the runtime's scavenger gives back to the system over the
	// next minutes anyway (the heap freed after loading and translating),
	// returned at once: the resident memory of the steady state.
	debug.FreeOSMemory()
	steady, _ := adsbench.ProcStatus("VmRSS")
	return []Figure{{
		Name: "memory.server.rss",
		Description: fmt.Sprintf("resident memory of the whole server (store, API, lint, release service, ADS) with a published %d-route gateway served to %d ACKing clients (clients in a child process)",
			sc.memRoutes, sc.memClients),
		Value: round(rss, 1), Unit: "MiB", Target: 150,
		Detail: map[string]any{"heapMiB": round(float64(ms.HeapInuse)/(1<<20), 1), "rssBeforeStartMiB": round(before, 1),
			"rssAfterFreeOSMemoryMiB": round(steady, 1)},
	}}, nil
}

// startClients runs n ADS clients of the bench gateway in a child process
// (this program again, as "-role=clients"), so they take no memory and no
// scheduling from the server measured here; stop ends them.
func startClients(ctx context.Context, addr string, n int) (stop func(), err error) {
	child := exec.CommandContext(ctx, os.Args[0], "-role=clients", "-addr="+addr, "-n="+strconv.Itoa(n),
		"-timeout="+time.Until(deadlineOf(ctx)).Round(time.Second).String())
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
	stop = func() { stdin.Close(); _ = child.Wait() }
	if err := adsbench.WaitLine(stdout, "connected"); err != nil {
		stop()
		return nil, fmt.Errorf("client process: %w", err)
	}
	return stop, nil
}

// waitAcked waits until n connected proxies of the bench gateway ACKed
// version of typeURL, as the server tracks their ACKs.
func waitAcked(ctx context.Context, ads *xds.Server, typeURL string, n int, version string) error {
	for {
		// Acked rather than Proxies: copying every proxy's status each
		// poll would hold the tracker's lock against the very ACKs timed.
		acked := ads.Acked(workload.Gateway, typeURL, version)
		if acked >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d clients acked %s %s: %w", acked, n, typeURL, version, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Minute)
}
