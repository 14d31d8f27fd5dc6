package main

import (
	"fmt"
	"runtime"
	"time"

	"github.com/routedeck/routedeck/backend/convert"
	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/bench/workload"
)

// benchLoad times reading the shared corpus (N routes over N/10 hosts and
// N/10 upstreams) from routedeck's own YAML, as apply -f does, and from
// Gateway API YAML, as import gateway-api does: wall and CPU time, and the
// bytes allocated by one load.
func benchLoad(sc sizes) ([]Figure, error) {
	n := sc.routes
	cases := []struct {
		name, what    string
		data          []byte
		targetMs      float64
		load          func([]byte) (int, error)
		targetAllocMB float64
	}{
		{"load.manifest", "routedeck YAML", workload.CorpusYAML(n), 150, func(b []byte) (int, error) {
			f, err := manifest.Load("corpus.yaml", b)
			if err != nil {
				return 0, err
			}
			return len(f.Workspace.Routes), nil
		}, 60},
		{"load.gatewayapi", "Gateway API YAML (import)", workload.CorpusGatewayAPI(n), 200, func(b []byte) (int, error) {
			res, err := convert.GatewayAPI(b, workload.Gateway)
			if err != nil {
				return 0, err
			}
			return len(res.Workspace.Routes), nil
		}, 0},
	}
	var out []Figure
	for _, c := range cases {
		var wall, cpu []float64
		var alloc uint64
		for range sc.fullRuns {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c0, t0 := cpuTime(), time.Now()
			got, err := c.load(c.data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			if got != n {
				return nil, fmt.Errorf("%s: %d routes loaded, want %d", c.name, got, n)
			}
			wall = append(wall, ms(time.Since(t0)))
			cpu = append(cpu, ms(cpuTime()-c0))
			runtime.ReadMemStats(&after)
			alloc = after.TotalAlloc - before.TotalAlloc
		}
		mb := round(float64(alloc)/(1<<20), 1)
		out = append(out, Figure{
			Name:        c.name,
			Description: fmt.Sprintf("load %d routes (%d hosts, %d upstreams) from %s, %d KiB (median of %d)", n, n/10, n/10, c.what, len(c.data)/1024, sc.fullRuns),
			Value:       median(wall), Unit: "ms", Target: c.targetMs,
			Detail: map[string]any{"cpuMs": median(cpu), "allocatedMB": mb},
		})
		if c.targetAllocMB > 0 {
			out = append(out, Figure{
				Name:        c.name + ".allocated",
				Description: fmt.Sprintf("bytes allocated by one load of %d routes from %s", n, c.what),
				Value:       mb, Unit: "MB", Target: c.targetAllocMB,
			})
		}
	}
	return out, nil
}
