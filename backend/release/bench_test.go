package release_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/release"
	"github.com/routedeck/routedeck/bench/workload"
)

// BenchmarkEditPublish10k is a one-route edit of a 10,000-route gateway
// and its publish through the release service, up to the snapshot set on
// the ADS server (no proxy connected): what a publish after an edit costs
// the server apart from the pushes, which should follow the edit, not the
// gateway.
func BenchmarkEditPublish10k(b *testing.B) {
	f := newFixtureOf(b, workload.Workspace(10000, 1000, 1000))
	if _, err := f.svc.Publish(b.Context(), "bench", workload.Gateway, release.Overrides{}); err != nil {
		b.Fatal(err)
	}
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		i++
		f.editRoute(b, "route-00007", fmt.Sprintf("/edited/%d", i))
		res, err := f.svc.Publish(b.Context(), "bench", workload.Gateway, release.Overrides{})
		if err != nil || res.Unchanged {
			b.Fatal(err, res)
		}
	}
	// CPU time says more than wall time on a busy machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's CPU time so far, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
