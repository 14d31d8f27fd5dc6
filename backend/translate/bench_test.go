package translate

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/bench/workload"
)

// benchWorkspace is the harness's workload (bench/workload), so the Go
// benchmarks and `go run ./bench` time the same gateway.
func benchWorkspace(routes, hosts, upstreams int) model.Workspace {
	return workload.Workspace(routes, hosts, upstreams)
}

// reportCPU adds the process CPU time per operation (user + system, all
// threads, GC included) next to the wall-clock ns/op, which on a shared
// machine also counts time spent waiting for a core.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTranslateFull is a cold translation of 10,000 routes over 1,000
// hosts and 1,000 upstreams.
func BenchmarkTranslateFull(b *testing.B) {
	ws := benchWorkspace(10000, 1000, 1000)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := Gateway(ws, "bench", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTranslateCorpus is a cold translation of the comparison corpus
// (workload.Corpus: N routes over N/10 hosts and N/10 upstreams, prefix,
// exact and header matches, every tenth a 90/10 split), the input other
// translators are timed on.
func BenchmarkTranslateCorpus(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			ws := workload.Corpus(n)
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := Gateway(ws, workload.Gateway, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTranslateOneRouteChange edits one rule between translations on a
// warm Translator, as the ADS server does after a route edit.
func BenchmarkTranslateOneRouteChange(b *testing.B) {
	ws := benchWorkspace(10000, 1000, 1000)
	tr := NewTranslator()
	if _, err := tr.Translate(ws, "bench", Options{}); err != nil {
		b.Fatal(err)
	}
	edited := &ws.Routes[4242]
	paths := []string{"/edited/a", "/edited/b"}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		edited.When.All[1].Value = paths[i%2]
		i++
		if _, err := tr.Translate(ws, "bench", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVersion hashes the full output from scratch.
func BenchmarkVersion(b *testing.B) {
	res, err := Gateway(benchWorkspace(10000, 1000, 1000), "bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		cold := *res
		cold.digests = newDigestCache()
		_ = cold.Version()
	}
}

// BenchmarkOneRouteChangeWithVersion is a one-rule edit followed by the
// snapshot version, what the ADS server pays per route edit.
func BenchmarkOneRouteChangeWithVersion(b *testing.B) {
	ws := benchWorkspace(10000, 1000, 1000)
	tr := NewTranslator()
	res, err := tr.Translate(ws, "bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	_ = res.Version()
	edited := &ws.Routes[4242]
	paths := []string{"/edited/a", "/edited/b"}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		edited.When.All[1].Value = paths[i%2]
		i++
		res, err := tr.Translate(ws, "bench", Options{})
		if err != nil {
			b.Fatal(err)
		}
		_ = res.Version()
	}
}
