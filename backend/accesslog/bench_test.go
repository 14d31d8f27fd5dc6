package accesslog_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/accesslog/alsload"
	"github.com/routedeck/routedeck/backend/xds"
)

// BenchmarkIngest measures access log ingestion on the path proxies use:
// StreamAccessLogs over loopback gRPC (alsload: four streams, messages of
// 100 entries) into the ADS server's access log service and on to the
// store, committed. entries/s counts what was stored; dropped, what the
// bounded queue refused because the writer was behind (zero when
// ingestion keeps up).
func BenchmarkIngest(b *testing.B) {
	discard := slog.New(slog.DiscardHandler)
	ads := xds.New(xds.Options{Logger: discard})
	store, err := accesslog.Open(context.Background(), filepath.Join(b.TempDir(), "accesslog.db"), accesslog.Options{Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ads.SetAccessLogSink(store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ads.Serve(ctx, lis) }()
	defer func() { cancel(); <-served }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	b.ResetTimer()
	cpuBefore := cpuTime()
	start := time.Now()
	sent, err := alsload.Send(ctx, conn, alsload.Options{Gateway: "public", Entries: b.N})
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpuBefore
	b.StopTimer()
	tr, err := store.Traffic(context.Background(), "public", time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	var stored uint64
	for _, r := range tr {
		stored += r.Requests
	}
	b.ReportMetric(float64(stored)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(uint64(sent)-stored), "dropped")
	// On a shared machine the wall clock says more about the neighbours
	// than about ingestion; CPU time (both ends: the sender runs in this
	// process too) does not.
	b.ReportMetric(float64(stored)/cpu.Seconds(), "entries/cpu-s")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStoreWrite measures the store alone: batches of 100 entries
// (alsload's) offered as the access log service would, written and
// committed, without gRPC in front.
func BenchmarkStoreWrite(b *testing.B) {
	discard := slog.New(slog.DiscardHandler)
	store, err := accesslog.Open(context.Background(), filepath.Join(b.TempDir(), "accesslog.db"), accesslog.Options{Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	batch := alsload.Entries(100, 20)
	b.ResetTimer()
	cpuBefore := cpuTime()
	offered := 0
	for offered < b.N {
		if store.Offer(xds.AccessLogBatch{Gateway: "public", Node: "n", Received: time.Now(), Entries: batch, Bytes: 20000}) {
			offered += len(batch)
			continue
		}
		// The queue is full: wait for the writer rather than count drops.
		if err := store.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	if err := store.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(offered)/(cpuTime()-cpuBefore).Seconds(), "entries/cpu-s")
}
