package release

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/routedeck/routedeck/backend/store"
)

// Publishes of one gateway run one at a time, and the publishes asked for
// while one runs are merged into the next round: it publishes the draft as
// it is when the round starts, which holds every change its callers made
// before they asked, so each caller is answered with the version that
// carried its change (or, when the draft equals the live version already,
// that version with Unchanged). A burst of edits each followed by a
// publish, as scripts and CI jobs send them, costs one publish per round
// instead of one per edit, and no version is recorded and pushed only to
// be replaced a moment later.
//
// A round runs for all its callers: one of them going away does not stop
// it. A publish with an override is one admin's choice and merges with no
// other.

// queue is one gateway's publishes: whether a round runs, and the rounds
// waiting, in the order first asked for.
type queue struct {
	running bool
	next    []*round
}

// round is one publish for the callers merged into it.
type round struct {
	o       Overrides
	actors  []string // distinct, in the order they asked
	callers int
	// ctx is the first caller's context without its cancellation.
	ctx  context.Context
	done chan struct{}
	res  Result
	err  error
}

// Publish publishes the gateway's draft (see publishNow) in the next
// round of the gateway's publishes, merged with the publishes asked for
// meanwhile.
func (s *Service) Publish(ctx context.Context, actor, gateway string, o Overrides) (Result, error) {
	s.mu.Lock()
	q := s.queues[gateway]
	if q == nil {
		q = &queue{}
		s.queues[gateway] = q
	}
	var rd *round
	if o == (Overrides{}) {
		for _, w := range q.next {
			if w.o == o {
				rd = w
				break
			}
		}
	}
	if rd == nil {
		rd = &round{o: o, ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
		q.next = append(q.next, rd)
	}
	rd.callers++
	if !slices.Contains(rd.actors, actor) {
		rd.actors = append(rd.actors, actor)
	}
	if !q.running {
		q.running = true
		go s.drain(gateway, q)
	}
	s.mu.Unlock()
	select {
	case <-rd.done:
		return rd.res, rd.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// drain runs the gateway's rounds until none waits.
func (s *Service) drain(gateway string, q *queue) {
	for {
		s.mu.Lock()
		if len(q.next) == 0 {
			q.running = false
			s.mu.Unlock()
			return
		}
		rd := q.next[0]
		q.next = q.next[1:]
		s.mu.Unlock()
		rd.res, rd.err = s.runRound(gateway, rd)
		close(rd.done)
	}
}

// runRound publishes for rd's callers: the first is the version's actor,
// the others are named in its note and each get an audit entry of their
// own, so the audit log says who asked for every version.
func (s *Service) runRound(gateway string, rd *round) (res Result, err error) {
	defer func() {
		// A panic would otherwise end the process from this goroutine,
		// where a publish on the request's goroutine was one failed
		// request.
		if p := recover(); p != nil {
			s.log.Error("publish panicked", "gateway", gateway, "panic", p)
			res, err = Result{}, fmt.Errorf("publish %q: internal error", gateway)
		}
	}()
	note := ""
	others := rd.actors[1:]
	if len(others) > 0 {
		note = "also published for " + strings.Join(others, ", ")
	}
	res, err = s.publishNow(rd.ctx, rd.actors[0], gateway, note, rd.o)
	if err != nil || res.Unchanged {
		return res, err
	}
	for _, actor := range others {
		if err := s.opts.Store.Audit(rd.ctx, store.AuditEntry{Actor: actor, Action: "gateway.publish", Target: gateway,
			Detail: fmt.Sprintf("version %d, published together with the publish of %s", res.Version, rd.actors[0])}); err != nil {
			s.log.Error("audit a merged publish", "gateway", gateway, "actor", actor, "err", err)
		}
	}
	return res, nil
}
