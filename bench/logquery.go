package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/accesslog/querybench"
)

// benchLogQuery fills a request log store with sc.logQueryEntries entries
// over the last 24 hours through the production store (Offer, the
// writer), then runs every query shape the API and the dashboard offer
// (package querybench: each filter alone and combined, time windows,
// pages deep into a listing, followers resuming far back) in rounds,
// through the store's own List and Since. The figure is the p99 of one
// query; the detail names the slowest shape, and gives the CPU time of
// each query, which a busy machine does not inflate.
func benchLogQuery(ctx context.Context, sc sizes) ([]Figure, error) {
	dir, err := os.MkdirTemp("", "routedeck-bench-logquery-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	store, err := accesslog.Open(ctx, filepath.Join(dir, "accesslog.db"), accesslog.Options{
		Logger: slog.New(slog.DiscardHandler), MaxEntries: sc.logQueryEntries, MaxAge: 25 * time.Hour})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	now := time.Now()
	fillStart := time.Now()
	if err := querybench.Fill(ctx, store, sc.logQueryEntries, now); err != nil {
		return nil, err
	}
	fill := time.Since(fillStart)
	shapes, err := querybench.Shapes(ctx, store, now)
	if err != nil {
		return nil, err
	}
	// One round unmeasured: the first reads of the file come from disk
	// into the page cache, which a serving store has warm.
	if _, err := querybench.Measure(ctx, store, shapes, 1); err != nil {
		return nil, err
	}
	load := loadAverage()
	cpuBefore := cpuTime()
	res, err := querybench.Measure(ctx, store, shapes, sc.logQueryRounds)
	if err != nil {
		return nil, err
	}
	cpu := cpuTime() - cpuBefore
	perShape := map[string][2]float64{}
	for name, d := range res.PerShape {
		perShape[name] = [2]float64{ms(d), ms(res.PerShapeCPU[name])}
	}
	return []Figure{{
		Name: "logquery.p99",
		Description: fmt.Sprintf("request log query p99 (a page of %d, or a follower's next batch) over %d query shapes x %d rounds, %d entries stored over 24 h",
			querybench.PageSize, len(shapes), sc.logQueryRounds, sc.logQueryEntries),
		Value: ms(res.P99), Unit: "ms", Target: 100,
		Detail: map[string]any{"p50Ms": ms(res.P50), "slowestShape": res.Slowest, "slowestMs": ms(res.Max),
			"maxMsAndCPUMsPerShape": perShape, "queries": res.Queries, "p50CPUMs": ms(res.P50CPU), "p99CPUMs": ms(res.P99CPU),
			"processCPUMsPerQuery": round(float64(cpu.Microseconds())/1000/float64(res.Queries), 2),
			"fillSeconds":          round(fill.Seconds(), 1), "loadAverage": load},
	}}, nil
}

// loadAverage is the machine's 1, 5 and 15 minute load averages, which
// say how far a wall-clock figure of a shared machine can be trusted.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
