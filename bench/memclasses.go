package main

import (
	"runtime/metrics"

	"github.com/routedeck/routedeck/bench/adsbench"
)

// memBreakdown splits the process's resident memory (MiB) into what the
// Go runtime holds and what it does not, so a figure over its target
// says where to look:
//
//   - heapObjects: heap objects, live ones and garbage the next cycle
//     frees (the bench collects just before);
//   - heapUnused: the unused tails of heap spans holding objects;
//   - heapFree: free heap pages the runtime keeps rather than returning
//     them to the system (its scavenger returns pages beyond what the heap
//     goal and the soft memory limit allow);
//   - stacks: goroutine stacks;
//   - runtimeMetadata: span structures, GC metadata, profiling buckets,
//     per-P caches and other runtime allocations;
//   - binaryAndFiles: file-backed pages, mostly the mapped executable
//     (code, read-only data);
//   - outsideGoRuntime: anonymous memory the runtime does not account for
//     (the C-like allocator of the SQLite port, thread stacks of the
//     system), as the rest of RssAnon.
//
// heapGoal is where the next collection starts and memoryLimit the soft
// limit the runtime works to (absent: none).
func memBreakdown() map[string]any {
	names := []string{
		"/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/free:bytes",
		"/memory/classes/heap/released:bytes",
		"/memory/classes/heap/stacks:bytes",
		"/memory/classes/os-stacks:bytes",
		"/memory/classes/total:bytes",
		"/gc/heap/goal:bytes",
		"/gc/gomemlimit:bytes",
		"/gc/heap/live:bytes",
		"/sched/goroutines:goroutines",
	}
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	metrics.Read(samples)
	v := func(i int) float64 { return float64(samples[i].Value.Uint64()) / (1 << 20) }
	objects, unused, free, released, stacks, osStacks, total, goal, limit, live := v(0), v(1), v(2), v(3), v(4), v(5), v(6), v(7), v(8), v(9)
	retained := total - released
	out := map[string]any{
		"heapObjects":     round(objects, 1),
		"heapLive":        round(live, 1),
		"heapUnused":      round(unused, 1),
		"heapFree":        round(free, 1),
		"stacks":          round(stacks+osStacks, 1),
		"runtimeMetadata": round(retained-objects-unused-free-stacks-osStacks, 1),
		"heapGoal":        round(goal, 1),
		"goroutines":      samples[10].Value.Uint64(),
	}
	// The runtime reports "no limit" as math.MaxInt64.
	if limit < 1<<40 {
		out["memoryLimit"] = round(limit, 1)
	}
	if file, err := adsbench.ProcStatus("RssFile"); err == nil {
		out["binaryAndFiles"] = round(file, 1)
	}
	if anon, err := adsbench.ProcStatus("RssAnon"); err == nil {
		out["outsideGoRuntime"] = round(max(anon-retained, 0), 1)
	}
	return out
}
