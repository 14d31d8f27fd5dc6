package main

import (
	"fmt"
	"runtime"
	"time"

	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/bench/workload"
)

// benchTranslate times cold translations (a fresh Translator each run, as
// a first publish or a restart pays) and the snapshot version after them.
func benchTranslate(sc sizes) ([]Figure, error) {
	ws := workload.Workspace(sc.routes, sc.hosts, sc.upstreams)
	var wall, cpu, version []float64
	var allocs uint64
	var res *translate.Resources
	for range sc.fullRuns {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c0, t0 := cpuTime(), time.Now()
		r, err := translate.Gateway(ws, workload.Gateway, translate.Options{})
		if err != nil {
			return nil, err
		}
		wall = append(wall, ms(time.Since(t0)))
		cpu = append(cpu, ms(cpuTime()-c0))
		runtime.ReadMemStats(&after)
		allocs = after.Mallocs - before.Mallocs
		t1 := time.Now()
		_ = r.Version()
		version = append(version, ms(time.Since(t1)))
		res = r
	}
	routes := 0
	for _, rc := range res.Routes {
		for _, vh := range rc.VirtualHosts {
			routes += len(vh.Routes)
		}
	}
	return []Figure{{
		Name: "translate.full",
		Description: fmt.Sprintf("cold translation of %d routes over %d hosts and %d upstreams (median of %d)",
			sc.routes, sc.hosts, sc.upstreams, sc.fullRuns),
		Value: median(wall), Unit: "ms", Target: 100,
		Detail: map[string]any{"cpuMs": median(cpu), "allocs": allocs, "versionMs": median(version),
			"envoyRoutes": routes, "clusters": len(res.Clusters)},
	}}, nil
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
	var wall, withVersion []float64
	for i := range sc.edits {
		edited.When.All[1].Value = paths[i%2]
		t0 := time.Now()
		res, err := tr.Translate(ws, workload.Gateway, translate.Options{})
		if err != nil {
			return nil, err
		}
		wall = append(wall, ms(time.Since(t0)))
		_ = res.Version()
		withVersion = append(withVersion, ms(time.Since(t0)))
	}
	return []Figure{{
		Name: "translate.oneRouteChange",
		Description: fmt.Sprintf("one route edited, warm incremental Translator, %d routes (median of %d edits)",
			sc.routes, sc.edits),
		Value: median(wall), Unit: "ms", Target: 5,
		Detail: map[string]any{"withVersionMs": median(withVersion), "maxMs": slicesMax(wall)},
	}}, nil
}

func slicesMax(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
