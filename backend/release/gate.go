package release

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/publishgate"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/store"
)

// Replayer replays the requests a gateway served over a window (its
// request log) against its live version and draft, a workspace about to
// be published, so what is judged is what would be recorded. The app
// provides it with the replay engine, which this package cannot import.
type Replayer interface {
	ReplayDraft(ctx context.Context, gateway string, draft model.Workspace, window time.Duration) (replay.Report, error)
}

// SetReplayer sets what replays requests for the publish gate (it is
// built after this service).
func (s *Service) SetReplayer(r Replayer) { s.opts.Replayer = r }

// Overrides are an admin's choices to publish despite what would refuse
// it; each is audited.
type Overrides struct {
	// Tests publishes although route tests fail (publish.force).
	Tests bool
	// Gate publishes although the publish gate blocks it
	// (publish.gate-override).
	Gate bool
}

// CheckGate replays the gateway's recent requests against its live
// version and its draft now and judges them with the gate that applies
// (none is fine: the replay is still reported). Nothing published: no
// replay, nothing to judge.
func (s *Service) CheckGate(ctx context.Context, gateway string) (publishgate.Check, error) {
	ws, err := s.opts.Store.GatewayDraft(ctx, gateway)
	if err != nil {
		return publishgate.Check{}, err
	}
	live, err := s.live(ctx, gateway)
	if err != nil {
		return publishgate.Check{}, err
	}
	return s.check(ctx, gateway, live, ws, true)
}

// live is the gateway's latest published version; nil when there is none.
func (s *Service) live(ctx context.Context, gateway string) (*store.Published, error) {
	// The version this server serves is the live one as a rule: reading
	// its number is cheap, decoding a whole published workspace is not
	// (most of a publish of 10,000 routes went there).
	latest, err := s.opts.Store.LatestVersion(ctx, gateway)
	if err != nil {
		return nil, err
	}
	if latest == 0 {
		return nil, nil
	}
	r := s.runner(gateway)
	r.mu.Lock()
	served := r.served
	r.mu.Unlock()
	if served != nil && served.Version == latest {
		return served, nil
	}
	p, err := s.opts.Store.GetPublished(ctx, gateway, latest)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// check replays and judges ws against live (nil: nothing published).
// Without always, a gateway without a gate is not replayed.
func (s *Service) check(ctx context.Context, gateway string, live *store.Published, ws model.Workspace, always bool) (publishgate.Check, error) {
	var liveGate *model.PublishGate
	if live != nil {
		liveGate = publishgate.GatewayGate(live.Workspace, gateway)
	}
	gate := publishgate.Effective(liveGate, publishgate.GatewayGate(ws, gateway))
	window := publishgate.Window(gate)
	c := publishgate.Check{Window: window.String(), Verdict: publishgate.Unjudged(gate)}
	if live == nil {
		c.Verdict.Notes = append(c.Verdict.Notes, "nothing is published yet: there is no live version to compare with")
		return c, nil
	}
	c.Live = live.Version
	if gate == nil && !always {
		return c, nil
	}
	if s.opts.Replayer == nil {
		return c, model.Errorf(model.EINVALID, "the publish gate of %q cannot run: this server has no replay engine", gateway)
	}
	rep, err := s.opts.Replayer.ReplayDraft(ctx, gateway, ws, window)
	if err != nil {
		return c, fmt.Errorf("replay the requests of the last %s: %w", window, err)
	}
	c.Report = &rep
	c.Verdict = publishgate.Judge(gate, publishgate.EditedRules(live.Workspace, ws, gateway), rep)
	return c, nil
}

// gate judges the publish of ws; a blocked publish is ECONFLICT with
// every reason, unless override, which is audited as
// publish.gate-override (before anything is published) with the reasons
// or the replay's failure.
func (s *Service) gate(ctx context.Context, actor, gateway string, ws model.Workspace, override bool) error {
	live, err := s.live(ctx, gateway)
	if err != nil {
		return err
	}
	c, err := s.check(ctx, gateway, live, ws, false)
	switch {
	case err != nil && !override:
		return err
	case err != nil:
		return s.opts.Store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "publish.gate-override", Target: gateway,
			Detail: "the publish gate could not judge: " + err.Error()})
	case !c.Verdict.Blocked:
		return nil
	case !override:
		return c.Verdict.Err(gateway)
	}
	return s.opts.Store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "publish.gate-override", Target: gateway,
		Detail: strings.Join(c.Verdict.Messages(), "; ")})
}
