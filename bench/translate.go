package main

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/bench/workload"
)

// benchTranslate times cold translations (a fresh Translator each run, as
// a first publish or a restart pays) and the snapshot version after them:
// of the harness's own workload, and of the comparison corpus
// (workload.Corpus) at 1,000 and 10,000 routes, the input other
// translators are timed on.
func benchTranslate(sc sizes) ([]Figure, error) {
	full, err := timeCold(workload.Workspace(sc.routes, sc.hosts, sc.upstreams), sc.fullRuns)
	if err != nil {
		return nil, err
	}
	figs := []Figure{full.figure("translate.full",
		fmt.Sprintf("cold translation of %d routes over %d hosts and %d upstreams, with timeouts, retries and header policies",
			sc.routes, sc.hosts, sc.upstreams), sc.fullRuns, 100)}
	// Quick runs shrink the workload to 1,000 routes, so only the small
	// corpus is timed.
	for _, n := range slices.Compact([]int{1000, sc.routes}) {
		c, err := timeCold(workload.Corpus(n), sc.fullRuns)
		if err != nil {
			return nil, err
		}
		// The target is for 10,000 routes; 1,000 are held to a tenth of it.
		target := 60.0 * float64(n) / 10000
		figs = append(figs, c.figure(fmt.Sprintf("translate.corpus.%d", n),
			fmt.Sprintf("cold translation of the comparison corpus: %d routes over %d hosts and %d upstreams, "+
				"prefix, exact and header matches, every tenth a 90/10 split", n, n/10, n/10), sc.fullRuns, target))
	}
	return figs, nil
}

// cold is what timeCold measured: medians of wall and CPU time (user and
// system of every thread, the garbage collector's included).
type cold struct {
	wall, cpu, version []float64
	allocs             uint64
	res                *translate.Resources
}

func timeCold(ws model.Workspace, runs int) (cold, error) {
	var c cold
	for range runs {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c0, t0 := cpuTime(), time.Now()
		r, err := translate.Gateway(ws, workload.Gateway, translate.Options{})
		if err != nil {
			return c, err
		}
		c.wall = append(c.wall, ms(time.Since(t0)))
		c.cpu = append(c.cpu, ms(cpuTime()-c0))
		runtime.ReadMemStats(&after)
		c.allocs = after.Mallocs - before.Mallocs
		t1 := time.Now()
		_ = r.Version()
		c.version = append(c.version, ms(time.Since(t1)))
		c.res = r
	}
	return c, nil
}

func (c cold) figure(name, what string, runs int, target float64) Figure {
	routes := 0
	for _, rc := range c.res.Routes {
		for _, vh := range rc.VirtualHosts {
			routes += len(vh.Routes)
		}
	}
	return Figure{
		Name:        name,
		Description: fmt.Sprintf("%s (median of %d)", what, runs),
		Value:       median(c.wall), Unit: "ms", Target: target,
		Detail: map[string]any{"cpuMs": median(c.cpu), "allocs": c.allocs, "versionMs": median(c.version),
			"envoyRoutes": routes, "clusters": len(c.res.Clusters)},
	}
}

// benchIncremental edits one rule between translations on a warm
// Translator, as the ADS server does after a route edit, and times the
// translation plus the snapshot version (what a route edit costs).
func benchIncremental(sc sizes) ([]Figure, error) {
	ws := workload.Workspace(sc.routes, sc.hosts, sc.upstreams)
	tr := translate.NewTranslator()
	res, err := tr.Translate(ws, workload.Gateway, translate.Options{})
	if err != nil {
		return nil, err
	}
	_ = res.Version()
	edited := &ws.Routes[len(ws.Routes)/2]
	if len(edited.When.All) < 2 {
		return nil, fmt.Errorf("workload route %s has no path condition to edit", edited.Name)
	}
	paths := []string{"/edited/a", "/edited/b"}
	var wall, cpu, withVersion []float64
	for i := range sc.edits {
		edited.When.All[1].Value = paths[i%2]
		c0, t0 := cpuTime(), time.Now()
		res, err := tr.Translate(ws, workload.Gateway, translate.Options{})
		if err != nil {
			return nil, err
		}
		wall = append(wall, ms(time.Since(t0)))
		cpu = append(cpu, ms(cpuTime()-c0))
		_ = res.Version()
		withVersion = append(withVersion, ms(time.Since(t0)))
	}
	return []Figure{{
		Name: "translate.oneRouteChange",
		Description: fmt.Sprintf("one route edited, warm incremental Translator, %d routes (median of %d edits)",
			sc.routes, sc.edits),
		Value: median(wall), Unit: "ms", Target: 5,
		// CPU time (all threads) beside the wall time, which on a busy
		// machine also counts the wait for a core.
		Detail: map[string]any{"withVersionMs": median(withVersion), "maxMs": slicesMax(wall), "cpuMs": median(cpu)},
	}}, nil
}

func slicesMax(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
