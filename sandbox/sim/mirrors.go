package sim

import (
	"context"
	"sync"
)

// MirrorStats counts the requests the data plane has mirrored: Sent when
// a route decided to mirror one, Done when that mirror ended (answered,
// failed, or dropped for want of an endpoint).
type MirrorStats struct {
	Sent, Done uint64
}

// mirrorCounter tracks mirrors in flight. A mirror is fire-and-forget, so
// nothing else tells a caller when the shadow cluster has it; waiters are
// woken by each completion instead of sampling a backend's counters.
type mirrorCounter struct {
	mu    sync.Mutex
	stats MirrorStats
	// done is closed and replaced whenever a mirror ends.
	done chan struct{}
}

// start counts a mirror. It runs before the mirror's goroutine, on the
// request's path, so a client holding the response sees it in Sent.
func (m *mirrorCounter) start() {
	m.mu.Lock()
	m.stats.Sent++
	m.mu.Unlock()
}

func (m *mirrorCounter) finish() {
	m.mu.Lock()
	m.stats.Done++
	if m.done != nil {
		close(m.done)
		m.done = nil
	}
	m.mu.Unlock()
}

func (m *mirrorCounter) snapshot() (MirrorStats, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		m.done = make(chan struct{})
	}
	return m.stats, m.done
}

// Mirrors returns how many requests were mirrored and how many of those
// mirrors have ended.
func (dp *DataPlane) Mirrors() MirrorStats {
	s, _ := dp.mirrors.snapshot()
	return s
}

// WaitMirrors blocks until n mirrors have ended (Mirrors().Done >= n) or
// ctx ends. With n = Mirrors().Sent read after the requests' responses, it
// returns once every mirror of those requests is answered or abandoned.
func (dp *DataPlane) WaitMirrors(ctx context.Context, n uint64) error {
	for {
		s, changed := dp.mirrors.snapshot()
		if s.Done >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
