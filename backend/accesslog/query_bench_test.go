package accesslog_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/accesslog/alsload"
	"github.com/routedeck/routedeck/backend/xds"
)

// queryEntries is the size of the request log the query benchmark reads:
// the retention default.
const queryEntries = 1_000_000

// BenchmarkQuery measures the request log's queries as the dashboard and
// `routedeck logs` send them (a page of 100, newest first) against a store
// of a million entries over the last 24 hours: 20 rules, 50 hosts, one in
// ten answered 404 and one in fifty 503. It reports the p99 and the
// median of one query (target: p99 ≤ 100 ms).
func BenchmarkQuery(b *testing.B) {
	ctx := context.Background()
	store, err := accesslog.Open(ctx, filepath.Join(b.TempDir(), "accesslog.db"),
		accesslog.Options{Logger: slog.New(slog.DiscardHandler), MaxEntries: queryEntries, MaxAge: 25 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	batch := alsload.Entries(100, 20)
	for sent := 0; sent < queryEntries; {
		for i, e := range batch {
			n := sent + i
			// Spread over the last day, oldest first, as a log fills.
			e.CommonProperties.StartTime = timestamppb.New(now.Add(-24 * time.Hour * time.Duration(queryEntries-n) / queryEntries))
			e.Request.Authority = "host" + strconv.Itoa(n%50) + ".example.com"
			status := uint32(200)
			switch {
			case n%10 == 0:
				status = 404
			case n%50 == 1:
				status = 503
			}
			e.Response.ResponseCode = wrapperspb.UInt32(status)
		}
		if store.Offer(xds.AccessLogBatch{Gateway: "public", Node: "n", Received: now, Entries: batch, Bytes: 20000}) {
			sent += len(batch)
			// The store keeps the batch's entries after Offer returns:
			// the next batch is a new one.
			batch = alsload.Entries(100, 20)
			continue
		}
		if err := store.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := store.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	queries := []accesslog.Query{
		{Gateway: "public"},
		{Gateway: "public", Rule: "r7"},
		{Gateway: "public", StatusMin: 500, StatusMax: 599},
		{Gateway: "public", StatusMin: 404, StatusMax: 404, Host: "host3.example.com"},
		{Gateway: "public", PathPrefix: "/products/12"},
		{Gateway: "public", Since: now.Add(-13 * time.Hour), Until: now.Add(-12 * time.Hour)},
		{Gateway: "public", Rule: "r3", Since: now.Add(-30 * time.Minute)},
	}
	var took []time.Duration
	slowest := make([]time.Duration, len(queries))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := queries[i%len(queries)]
		q.Limit = 100
		start := time.Now()
		if _, _, err := store.Entries(ctx, q); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		took = append(took, d)
		slowest[i%len(queries)] = max(slowest[i%len(queries)], d)
	}
	// Which query shape is slow, for whoever makes it faster.
	for i, d := range slowest {
		b.ReportMetric(float64(d.Microseconds())/1000, "q"+strconv.Itoa(i)+"-max-ms")
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
}
