// Package parallel spreads a loop over the processors: the translator,
// the xDS snapshot and the version store each have one loop (rules,
// virtual hosts, objects) whose items are independent and cost tens of
// microseconds, in a publish that nothing else waits on a core for.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Chunks calls f on consecutive ranges covering 0 to n-1, on as many
// processors as there are perWorker items for each (at least one call,
// in the caller's goroutine, when there are fewer). Each call must touch
// only what belongs to its range. A panic in one is raised again in the
// caller's goroutine, where it can be recovered as from a loop.
func Chunks(n, perWorker int, f func(start, end int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(perWorker, 1))
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	var panicked atomic.Pointer[any]
	chunk := (n + workers - 1) / workers
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					panicked.CompareAndSwap(nil, &v)
				}
			}()
			f(start, end)
		})
	}
	wg.Wait()
	if v := panicked.Load(); v != nil {
		panic(*v)
	}
}

// For calls f(0) to f(n-1) as Chunks spreads them.
func For(n, perWorker int, f func(i int)) {
	Chunks(n, perWorker, func(start, end int) {
		for i := start; i < end; i++ {
			f(i)
		}
	})
}
