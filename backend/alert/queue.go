package alert

import (
	"context"
	"fmt"
	"time"
)

// queueSize bounds the notifications waiting for one notifier: a
// receiver that is down is tried for a bounded time per notification,
// and what piles up behind it past this is dropped and recorded as
// failed rather than held in memory.
const queueSize = 64

// queue delivers one notifier's notifications in order, so a receiver
// never hears that an incident resolved before it heard that it fired.
type queue struct {
	ch chan *notice
	// stop ends the queue of a notifier that was deleted.
	stop chan struct{}
}

// notify queues n for each of its rule's notifiers.
func (e *Evaluator) notify(n *notice) {
	for _, name := range n.rule.Notifiers {
		e.mu.Lock()
		to, ok := e.notifiers[name]
		q := e.queues[name]
		if ok && q == nil && e.ctx.Err() == nil {
			q = &queue{ch: make(chan *notice, queueSize), stop: make(chan struct{})}
			e.queues[name] = q
			e.wg.Add(1)
			go e.drain(name, q)
		}
		e.mu.Unlock()
		switch {
		case !ok:
			e.record(n, Delivery{Notifier: name, Event: n.event, At: e.opts.Now(), Error: "no such notifier"})
			continue
		case n.event == EventResolved && to.SkipResolved:
			continue
		case q == nil:
			continue // stopping
		}
		select {
		case q.ch <- n:
		default:
			e.metrics.delivered(to.Type, false)
			e.record(n, Delivery{Notifier: name, Event: n.event, At: e.opts.Now(),
				Error: fmt.Sprintf("dropped: %d notifications were already waiting for this notifier", queueSize)})
		}
	}
}

// drain delivers q's notifications until the evaluator stops. Each is
// sent with the notifier's settings as they are when its turn comes.
func (e *Evaluator) drain(name string, q *queue) {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-q.stop:
			return
		case n := <-q.ch:
			e.mu.Lock()
			to, ok := e.notifiers[name]
			e.mu.Unlock()
			var d Delivery
			if ok {
				d = e.send.deliver(e.ctx, &to, n)
				e.metrics.delivered(to.Type, d.OK)
			} else {
				d = Delivery{Notifier: name, Event: n.event, At: e.opts.Now(), Error: "the notifier was deleted"}
			}
			if !d.OK {
				e.log.Warn("alerts: notification failed", "notifier", name, "alert_rule", n.rule.Name, "event", n.event,
					"attempts", d.Attempts, "err", d.Error)
			}
			e.record(n, d)
		}
	}
}

// dropQueues ends the queues of notifiers that no longer exist, so
// notifiers created and deleted over time leave no goroutine behind.
// Called with e.mu held.
func (e *Evaluator) dropQueues() {
	for name, q := range e.queues {
		if _, ok := e.notifiers[name]; !ok {
			close(q.stop)
			delete(e.queues, name)
		}
	}
}

// record keeps a delivery's outcome with its incident.
func (e *Evaluator) record(n *notice, d Delivery) {
	if n.incident.ID == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.opts.Store.RecordDelivery(ctx, n.incident.ID, d); err != nil {
		e.log.Error("alerts: recording a delivery failed", "notifier", d.Notifier, "incident", n.incident.ID, "err", err)
	}
}
