package discovery

import (
	"context"
	"time"
)

// Retry paces attempts against a backend that does not answer: Min after
// the first failure, doubling up to Max. Zero values mean 200ms and 5s.
// Sources use it so a dead API server is not hammered, yet a recovery is
// seen within Max.
type Retry struct {
	Min, Max time.Duration
	next     time.Duration
}

// Wait sleeps for the current interval, then doubles it. It returns false
// when ctx ends first.
func (r *Retry) Wait(ctx context.Context) bool {
	lo, hi := r.Min, r.Max
	if lo <= 0 {
		lo = 200 * time.Millisecond
	}
	if hi <= 0 {
		hi = 5 * time.Second
	}
	if r.next < lo {
		r.next = lo
	}
	d := min(r.next, hi)
	r.next = min(2*d, hi)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Reset starts the next series of failures at Min again.
func (r *Retry) Reset() { r.next = 0 }
