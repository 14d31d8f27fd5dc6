package parallel

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestChunksCoverEveryIndexOnce(t *testing.T) {
	for _, tc := range []struct{ n, per int }{{0, 4}, {1, 4}, {3, 4}, {8, 4}, {1001, 4}, {1001, 0}, {10, 1}} {
		seen := make([]atomic.Int32, tc.n)
		For(tc.n, tc.per, func(i int) { seen[i].Add(1) })
		for i := range seen {
			if got := seen[i].Load(); got != 1 {
				t.Errorf("n=%d per=%d: index %d visited %d times", tc.n, tc.per, i, got)
			}
		}
	}
}

func TestChunksRaisesAPanicInTheCaller(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Log("one processor: the loop runs in the caller's goroutine")
	}
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want boom", v)
		}
	}()
	For(1000, 1, func(i int) {
		if i == 999 {
			panic("boom")
		}
	})
	t.Error("no panic")
}
