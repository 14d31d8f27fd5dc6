package events

import (
	"context"
	"sync"
)

// MaxQueue bounds the events waiting for one subscriber. Past it the
// oldest are dropped and the subscriber is told it lost some, so memory
// stays bounded however slow a subscriber is; every handler can rebuild
// its state from the store when that happens.
const MaxQueue = 4096

// Topic delivers events of one type to its subscribers. The zero value is
// a topic without subscribers; it is safe for concurrent use.
type Topic[T any] struct {
	mu   sync.Mutex
	subs []*Subscription[T]
}

// Subscribe returns a subscription that receives every event published
// from now on, until Close.
func (t *Topic[T]) Subscribe() *Subscription[T] {
	s := &Subscription[T]{topic: t, ready: make(chan struct{}, 1), done: make(chan struct{})}
	t.mu.Lock()
	t.subs = append(t.subs, s)
	t.mu.Unlock()
	return s
}

// Publish queues e for every subscriber and returns at once.
func (t *Topic[T]) Publish(e T) {
	t.mu.Lock()
	subs := t.subs
	t.mu.Unlock()
	for _, s := range subs {
		s.push(e)
	}
}

// Subscribers is how many subscriptions are open.
func (t *Topic[T]) Subscribers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}

func (t *Topic[T]) remove(s *Subscription[T]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.subs {
		if x == s {
			// A new slice: Publish may be ranging over the old one.
			t.subs = append(t.subs[:i:i], t.subs[i+1:]...)
			return
		}
	}
}

// Subscription is one subscriber's queue of a topic's events.
type Subscription[T any] struct {
	topic *Topic[T]
	ready chan struct{} // has a value while queue is non-empty or lost
	done  chan struct{}

	mu     sync.Mutex
	queue  []T
	lost   int
	closed bool
}

func (s *Subscription[T]) push(e T) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= MaxQueue {
		s.queue = append(s.queue[:0], s.queue[1:]...)
		s.lost++
	}
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Next waits until events are queued and takes all of them, in the order
// they were published, with the number dropped before them for lack of
// room. ok is false once ctx is done or the subscription is closed.
func (s *Subscription[T]) Next(ctx context.Context) (batch []T, lost int, ok bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 || s.lost > 0 {
			batch, lost = s.queue, s.lost
			s.queue, s.lost = nil, 0
			s.mu.Unlock()
			return batch, lost, true
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, 0, false
		case <-s.done:
			return nil, 0, false
		case <-s.ready:
		}
	}
}

// Close stops the subscription: nothing more is queued and Next returns.
func (s *Subscription[T]) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.queue = nil
	s.mu.Unlock()
	s.topic.remove(s)
	close(s.done)
}
