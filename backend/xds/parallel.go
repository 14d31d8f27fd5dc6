package xds

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelChunks calls f on consecutive ranges covering 0 to n-1, on every
// core when there are at least perWorker items for each: a first snapshot
// of 10,000 routes marshals and validates a thousand virtual hosts and as
// many clusters, and nothing else waits on a core meanwhile. Each call
// must touch only what belongs to its range.
func parallelChunks(n, perWorker int, f func(start, end int)) {
	workers := min(runtime.GOMAXPROCS(0), n/perWorker)
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	var panicked atomic.Value
	chunk := (n + workers - 1) / workers
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		wg.Go(func() {
			// Raised again in the caller's goroutine, where it can be
			// recovered as from a loop.
			defer func() {
				if v := recover(); v != nil {
					panicked.CompareAndSwap(nil, fmt.Sprint(v))
				}
			}()
			f(start, end)
		})
	}
	wg.Wait()
	if v := panicked.Load(); v != nil {
		panic(v)
	}
}

// parallelMin is the fewest resources (or virtual hosts) per goroutine:
// marshalling one costs tens of microseconds, starting a goroutine one.
const parallelMin = 4
