package accesslog_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/accesslog/querybench"
)

// queryEntries is the size of the request log the query benchmark reads:
// the retention default.
const queryEntries = 1_000_000

// BenchmarkQuery measures the request log's queries as the API runs them
// (a page of 100, newest first; a follower's next batch) against a store
// of a million entries over the last 24 hours, every filter shape in
// turn (package querybench). It reports the p99 and the median of one
// query (target: p99 ≤ 100 ms) and each shape's slowest.
func BenchmarkQuery(b *testing.B) {
	ctx := context.Background()
	store, err := accesslog.Open(ctx, filepath.Join(b.TempDir(), "accesslog.db"),
		accesslog.Options{Logger: slog.New(slog.DiscardHandler), MaxEntries: queryEntries, MaxAge: 25 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	if err := querybench.Fill(ctx, store, queryEntries, now); err != nil {
		b.Fatal(err)
	}
	shapes, err := querybench.Shapes(ctx, store, now)
	if err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	slowest := make([]time.Duration, len(shapes))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := shapes[i%len(shapes)].Run(ctx, store); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		took = append(took, d)
		slowest[i%len(shapes)] = max(slowest[i%len(shapes)], d)
	}
	b.StopTimer()
	// Which shape is slow, for whoever makes it faster.
	for i, d := range slowest {
		b.Logf("%-36s max %7.2f ms", shapes[i].Name, float64(d.Microseconds())/1000)
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
}
