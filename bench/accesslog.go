package main

import (
	"context"
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
)

// benchAccessLog sends access log entries as an Envoy with four workers
// does (package alsload) over loopback gRPC to the ADS server's access
// log service, which hands them to the request log store; the figure is
// what was stored and committed per second, the clock stopping once the
// last entry is written.
func benchAccessLog(ctx context.Context, sc sizes) ([]Figure, error) {
	dir, err := os.MkdirTemp("", "routedeck-bench-accesslog-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	discard := slog.New(slog.DiscardHandler)
	ads := xds.New(xds.Options{Logger: discard})
	store, err := accesslog.Open(ctx, filepath.Join(dir, "accesslog.db"), accesslog.Options{Logger: discard})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	ads.SetAccessLogSink(store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- ads.Serve(sctx, lis) }()
	defer func() { cancel(); <-served }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	cpuBefore := cpuTime()
	start := time.Now()
	sent, err := alsload.Send(ctx, conn, alsload.Options{Gateway: "public", Entries: sc.alsEntries})
	if err != nil {
		return nil, err
	}
	if err := store.Flush(ctx); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpuBefore
	tr, err := store.Traffic(ctx, "public", time.Time{})
	if err != nil {
		return nil, err
	}
	var stored uint64
	for _, r := range tr {
		stored += r.Requests
	}
	return []Figure{{
		Name:        "accesslog.ingest",
		Description: "access log entries stored per second, sent over 4 loopback gRPC streams in messages of 100",
		Value:       round(float64(stored)/elapsed.Seconds(), 0), Unit: "entries/s", Target: 50000, AtLeast: true,
		// CPU time says what a busy machine's wall clock hides; it
		// includes the sending side, which runs in this process too.
		Detail: map[string]any{"sent": sent, "stored": stored, "dropped": uint64(sent) - stored, "seconds": round(elapsed.Seconds(), 2),
			"cpuSeconds": round(cpu.Seconds(), 2), "entriesPerCPUSecond": round(float64(stored)/cpu.Seconds(), 0)},
	}}, nil
}
