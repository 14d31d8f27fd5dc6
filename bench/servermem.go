package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/memlimit"
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
// system first. Its detail splits the figure (memBreakdown); -memprofile
// writes the heap profile of the moment measured.
func benchServerMemory(ctx context.Context, sc sizes, memProfile string) ([]Figure, error) {
	if memProfile != "" {
		// Every 4 KiB rather than every 512 KiB: the profile explains a
		// few MiB, not the largest allocations alone.
		runtime.MemProfileRate = 4096
		defer func() { runtime.MemProfileRate = 512 << 10 }()
	}
	runtime.GC()
	debug.FreeOSMemory()
	before, _ := adsbench.ProcStatus("VmRSS")
	dir, err := os.MkdirTemp("", "routedeck-bench-servermem-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The soft memory limit routedeck serve sets: its default, or the
	// setting given as serve would read it from the environment.
	limit := memlimit.Auto
	if v := os.Getenv("ROUTEDECK_MEMORY_LIMIT"); v != "" {
		if limit, err = memlimit.Parse(v); err != nil {
			return nil, err
		}
	}
	defer memlimit.Start(limit, memlimit.Env{}, slog.New(slog.DiscardHandler))()
	svc := app.New(app.Config{DataDir: dir, Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0", ADSInsecurePlaintext: true,
		NoDemo: true, Notices: io.Discard, Logger: slog.New(slog.DiscardHandler)})
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	defer svc.Stop()
	if _, err := svc.Store().Apply(ctx, "bench", workload.Workspace(sc.memRoutes, sc.memRoutes/10, sc.memRoutes/10)); err != nil {
		return nil, err
	}
	res, err := svc.Release().Publish(ctx, "bench", workload.Gateway, release.Overrides{})
	if err != nil {
		return nil, err
	}
	stop, err := adsbench.StartClients(ctx, svc.ADSAddr().String(), sc.memClients)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := waitAcked(ctx, svc.ADS(), resource.RouteType, sc.memClients, release.VersionLabel(res.Version)); err != nil {
		return nil, err
	}
	runtime.GC()
	rss, _ := adsbench.ProcStatus("VmRSS")
	breakdown := memBreakdown()
	if memProfile != "" {
		if err := writeHeapProfile(memProfile); err != nil {
			return nil, err
		}
	}
	// What the runtime's scavenger gives back to the system over the
	// next minutes anyway (the heap freed after loading and translating),
	// returned at once: the resident memory of the steady state.
	debug.FreeOSMemory()
	steady, _ := adsbench.ProcStatus("VmRSS")
	breakdown["rssAfterFreeOSMemory"] = round(steady, 1)
	return []Figure{{
		Name: "memory.server.rss",
		Description: fmt.Sprintf("resident memory of the whole server (store, API, lint, release service, ADS) with a published %d-route gateway served to %d ACKing clients (clients in a child process)",
			sc.memRoutes, sc.memClients),
		Value: round(rss, 1), Unit: "MiB", Target: 150,
		Detail: map[string]any{"rssBeforeStartMiB": round(before, 1), "breakdownMiB": breakdown},
	}}, nil
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

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
