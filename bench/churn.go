package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/release"
	"github.com/routedeck/routedeck/bench/adsbench"
	"github.com/routedeck/routedeck/bench/workload"
)

// churnRate is the route changes per second of the churn run.
const churnRate = 50

// churnInFlight bounds the changes under way at once. A server that falls
// this far behind has missed the target by far; the ticks it cannot take
// are counted, not queued, so the run stays bounded.
const churnInFlight = 100

// churnChange is one change of the churn run: a route written through the
// API and the gateway published, until every proxy runs a version that
// holds it.
type churnChange struct {
	start   time.Time
	version int64 // the live version once the publish answered
}

// benchChurn measures the server under a steady stream of route changes:
// the server routedeck serve builds with a published sc.routes-route
// gateway and sc.memClients ADS clients (in a child process), and
// churnRate changes per second for d, each an editor's read and write of
// one route through the API followed by a publish, as a script or a CI
// job would. Changes overlap when publishes take longer than the interval;
// the server merges the publishes asked for while one runs into its next
// round, and answers each with the version that carried its change
// (versionsPublished counts the versions the answers named). What it
// reports:
//
//   - change -> ACK: from the route's write until every connected proxy
//     ACKed a route configuration at the change's version or later, p99;
//   - CPU: the server process's CPU time (all threads; the harness's own
//     HTTP client and polling included) over the run, in cores;
//   - RSS: the growth of resident memory from a quarter into the run to
//     its largest in the last quarter, in percent: flat is within 10%.
func benchChurn(ctx context.Context, sc sizes, d time.Duration, memProfile string) ([]Figure, error) {
	a, err := startAPIServer(ctx, sc.routes, sc.hosts, sc.upstreams)
	if err != nil {
		return nil, err
	}
	defer a.stop()
	v, _, _, err := a.publish(ctx)
	if err != nil {
		return nil, err
	}
	ads := a.svc.ADS()
	stopClients, err := adsbench.StartClients(ctx, a.svc.ADSAddr().String(), sc.memClients)
	if err != nil {
		return nil, err
	}
	defer stopClients()
	if err := waitAcked(ctx, ads, resource.RouteType, sc.memClients, ads.TypeVersion(workload.Gateway, resource.RouteType)); err != nil {
		return nil, err
	}
	if got := ads.TypeVersion(workload.Gateway, resource.RouteType); got != release.VersionLabel(v) {
		return nil, fmt.Errorf("routes served at version %q, want %d", got, v)
	}

	var (
		mu      sync.Mutex
		pending []churnChange // published, not yet ACKed by every proxy
		ackMs   []float64
		errs    []error
	)
	// The watcher finds, every millisecond, the oldest route version any
	// connected proxy has ACKed; every change at or below it is done.
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
			}
			oldest, ok := oldestAcked(ads.AckedVersions(workload.Gateway, resource.RouteType), sc.memClients)
			if !ok {
				continue
			}
			now := time.Now()
			mu.Lock()
			pending = slices.DeleteFunc(pending, func(c churnChange) bool {
				if c.version > oldest {
					return false
				}
				ackMs = append(ackMs, ms(now.Sub(c.start)))
				return true
			})
			mu.Unlock()
		}
	}()

	routes := churnRoutes(sc.routes)
	slots := make(chan struct{}, churnInFlight)
	var wg sync.WaitGroup
	var changes, skipped int
	var publishMs []float64
	versions := map[int64]bool{} // the versions publishes answered with
	rssStart, _ := adsbench.ProcStatus("VmRSS")
	rss := []float64{rssStart}
	cpu0, wall0 := cpuTime(), time.Now()
	tick := time.NewTicker(time.Second / churnRate)
	second := time.NewTicker(time.Second)
	end := time.After(d)
run:
	for {
		select {
		case <-ctx.Done():
			break run
		case <-end:
			break run
		case <-second.C:
			r, _ := adsbench.ProcStatus("VmRSS")
			rss = append(rss, r)
		case <-tick.C:
			select {
			case slots <- struct{}{}:
			default:
				skipped++
				continue
			}
			i := changes
			changes++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				start, err := a.editRoute(ctx, routes[i%len(routes)], fmt.Sprintf("/churn/%d", i))
				var v int64
				var took time.Duration
				if err == nil {
					v, _, took, err = a.publish(ctx)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("change %d: %w", i, err))
					return
				}
				publishMs = append(publishMs, ms(took))
				versions[v] = true
				pending = append(pending, churnChange{start: start, version: v})
			}()
		}
	}
	tick.Stop()
	second.Stop()
	// What the server holds at the end of the run, while it is at its
	// largest: the breakdown says heap or not, the profile what.
	breakdown := memBreakdown()
	var profileErr error
	if memProfile != "" {
		profileErr = writeHeapProfile(memProfile + ".churn")
	}
	wg.Wait()
	wall, cpu := time.Since(wall0), cpuTime()-cpu0
	// Every change made must reach every proxy, in a bounded time.
	drain := time.Now()
	for {
		mu.Lock()
		left := len(pending)
		mu.Unlock()
		if left == 0 || time.Since(drain) > 30*time.Second || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopWatch()
	<-watched
	if profileErr != nil {
		return nil, profileErr
	}
	mu.Lock()
	defer mu.Unlock()
	// A change the server refused or dropped is a finding of the run, not
	// a reason to throw its other figures away.
	failed := Figure{Name: "churn.failed", Description: "changes of the churn run that failed (the write or the publish refused, or the connection dropped)",
		Value: float64(len(errs)), Unit: "changes", Target: 0, Detail: map[string]any{"changes": changes}}
	if len(errs) > 0 {
		failed.Detail["first"] = errs[0].Error()
	}
	if len(errs) == changes {
		return nil, fmt.Errorf("all %d changes failed, first: %w", changes, errs[0])
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("%d of %d changes not ACKed by every proxy 30 s after the run", len(pending), changes)
	}
	if len(ackMs) == 0 {
		return nil, fmt.Errorf("no change was made in %s", d)
	}
	growth, quarter, lastMax := rssGrowth(rss)
	return []Figure{
		{
			Name: "churn.acked",
			Description: fmt.Sprintf("%d route changes/s for %s through the API (write a route, publish) on a %d-route gateway with %d ADS clients: change until every client ACKed it, p99 of %d",
				churnRate, d, sc.routes, sc.memClients, len(ackMs)),
			Value: percentile(ackMs, 0.99), Unit: "ms", Target: 1000,
			Detail: map[string]any{"medianMs": median(ackMs), "maxMs": percentile(ackMs, 1), "changes": changes,
				"ticksSkipped": skipped, "publishMedianMs": median(publishMs), "publishP99Ms": percentile(publishMs, 0.99),
				"versionsPublished": len(versions), "clientsInChildProcess": true},
		},
		{
			Name:        "churn.cpu",
			Description: fmt.Sprintf("CPU of the server process during the churn run (all threads, the harness's HTTP client included; clients in a child process), over %s", wall.Round(time.Second)),
			Value:       round(cpu.Seconds()/wall.Seconds(), 2), Unit: "cores", Target: 1,
		},
		{
			Name:        "churn.rss.growth",
			Description: "resident memory of the server process during the churn run: largest in its last quarter over the value a quarter in, growth in percent (flat: within 10%)",
			Value:       round(growth, 1), Unit: "%", Target: 10,
			Detail: map[string]any{"quarterMiB": round(quarter, 1), "lastQuarterMaxMiB": round(lastMax, 1), "startMiB": round(rss[0], 1), "atEnd": breakdown},
		},
		failed,
	}, nil
}

// churnRoutes are the routes the churn run edits: the workload's host and
// path routes, visited in a stride that spreads consecutive changes over
// hosts and upstreams.
func churnRoutes(n int) []string {
	var out []string
	for k := range n {
		i := k * 7919 % n // 7919 is prime, so coprime with n unless n is a multiple of it
		if i%1000 == 999 {
			continue // a path-only route (workload.Workspace)
		}
		out = append(out, fmt.Sprintf("route-%05d", i))
	}
	return out
}

// oldestAcked is the oldest route version the connected proxies ACKed, by
// the count of proxies per version; false until n proxies are counted.
// Versions are the published version numbers, maybe with a suffix after a
// dot (xds tells apart content under one label that way).
func oldestAcked(byVersion map[string]int, n int) (int64, bool) {
	oldest, total := int64(-1), 0
	for label, count := range byVersion {
		num, _, _ := strings.Cut(label, ".")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, false // a proxy with nothing ACKed yet
		}
		if oldest < 0 || v < oldest {
			oldest = v
		}
		total += count
	}
	return oldest, total >= n
}

// rssGrowth compares the samples' value a quarter in with the largest of
// the last quarter.
func rssGrowth(samples []float64) (percent, quarter, lastMax float64) {
	quarter = samples[len(samples)/4]
	lastMax = slices.Max(samples[len(samples)*3/4:])
	return 100 * (lastMax - quarter) / quarter, quarter, lastMax
}
