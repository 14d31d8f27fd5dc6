package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/accesslog/alsload"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/bench/adsbench"
)

// alsRig is an ADS server's access log service on loopback with a request
// log store behind it, as `routedeck serve` wires them, and a client
// connection to it.
type alsRig struct {
	store *accesslog.Store
	conn  *grpc.ClientConn
	close func()
}

func startALS(ctx context.Context, opts accesslog.Options) (*alsRig, error) {
	dir, err := os.MkdirTemp("", "routedeck-bench-accesslog-")
	if err != nil {
		return nil, err
	}
	discard := slog.New(slog.DiscardHandler)
	ads := xds.New(xds.Options{Logger: discard})
	opts.Logger = discard
	store, err := accesslog.Open(ctx, filepath.Join(dir, "accesslog.db"), opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ads.SetAccessLogSink(store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- ads.Serve(sctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		<-served
		store.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &alsRig{store: store, conn: conn, close: func() {
		conn.Close()
		cancel()
		<-served
		store.Close()
		os.RemoveAll(dir)
	}}, nil
}

// stored is how many entries of gateway the store has counted in its
// rollups.
func (r *alsRig) stored(ctx context.Context, gateway string) (uint64, error) {
	tr, err := r.store.Traffic(ctx, gateway, time.Time{})
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, t := range tr {
		n += t.Requests
	}
	return n, nil
}

// benchAccessLog sends access log entries as an Envoy with four workers
// does (package alsload) over loopback gRPC to the ADS server's access
// log service, which hands them to the request log store; the figure is
// what was stored and committed per second, the clock stopping once the
// last entry is written. A second, long run checks the process's memory
// stays flat while the store trims each gateway to its bound.
func benchAccessLog(ctx context.Context, sc sizes) ([]Figure, error) {
	rig, err := startALS(ctx, accesslog.Options{})
	if err != nil {
		return nil, err
	}
	defer rig.close()
	cpuBefore := cpuTime()
	start := time.Now()
	sent, err := alsload.Send(ctx, rig.conn, alsload.Options{Gateway: "public", Entries: sc.alsEntries})
	if err != nil {
		return nil, err
	}
	if err := rig.store.Flush(ctx); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpuBefore
	stored, err := rig.stored(ctx, "public")
	if err != nil {
		return nil, err
	}
	figs := []Figure{{
		Name:        "accesslog.ingest",
		Description: "access log entries stored per second, sent over 4 loopback gRPC streams in messages of 100",
		Value:       round(float64(stored)/elapsed.Seconds(), 0), Unit: "entries/s", Target: 50000, AtLeast: true,
		// CPU time says what a busy machine's wall clock hides; it
		// includes the sending side, which runs in this process too.
		Detail: map[string]any{"sent": sent, "stored": stored, "dropped": uint64(sent) - stored, "seconds": round(elapsed.Seconds(), 2),
			"cpuSeconds": round(cpu.Seconds(), 2), "entriesPerCPUSecond": round(float64(stored)/cpu.Seconds(), 0)},
	}}
	mem, err := benchAccessLogMemory(ctx, sc)
	if err != nil {
		return nil, err
	}
	return append(figs, mem), nil
}

// benchAccessLogMemory sends sc.alsMemEntries entries in ten rounds to a
// store that keeps a tenth of them (the server's default bound, 1,000,000
// entries per gateway, in the full run) and reads the process's RSS after
// each round. The store is full after the first round; from then on
// memory must not grow with the entries: the figure is the growth from
// the end of the third round to the largest reading after it.
func benchAccessLogMemory(ctx context.Context, sc sizes) (Figure, error) {
	const rounds = 10
	bound := sc.alsMemEntries / rounds
	rig, err := startALS(ctx, accesslog.Options{MaxEntries: bound})
	if err != nil {
		return Figure{}, err
	}
	defer rig.close()
	var rss []float64
	var sent int
	start := time.Now()
	for range rounds {
		n, err := alsload.Send(ctx, rig.conn, alsload.Options{Gateway: "public", Entries: sc.alsMemEntries / rounds})
		if err != nil {
			return Figure{}, err
		}
		sent += n
		if err := rig.store.Flush(ctx); err != nil {
			return Figure{}, err
		}
		r, err := adsbench.ProcStatus("VmRSS")
		if err != nil {
			return Figure{}, err
		}
		rss = append(rss, round(r, 1))
	}
	growth := 0.0
	for _, r := range rss[3:] {
		growth = max(growth, r-rss[2])
	}
	stored, err := rig.stored(ctx, "public")
	if err != nil {
		return Figure{}, err
	}
	return Figure{
		Name:        "accesslog.rss_growth",
		Description: fmt.Sprintf("RSS growth over the last 7 of 10 rounds sending %d access log entries in all, the store bounded to %d", sent, bound),
		Value:       round(growth, 1), Unit: "MiB", Target: 16,
		Detail: map[string]any{"rssMiBAfterEachRound": rss, "sent": sent, "storedInRollups": stored,
			"seconds": round(time.Since(start).Seconds(), 1)},
	}, nil
}
