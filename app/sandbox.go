package app

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/sandbox/session"
)

// startSandboxRunner stops the sandbox (data plane, listeners) and the
// local gateway of every gateway the draft loses, as the store announces
// it, until Stop.
func (s *Service) startSandboxRunner() {
	ctx, cancel := context.WithCancel(context.Background())
	sub := s.store.Events().Draft.Subscribe()
	done := make(chan struct{})
	s.stopSandbox = func() { cancel(); <-done }
	go func() {
		defer close(done)
		defer sub.Close()
		events.Run(ctx, s.events, s.log, "sandbox", sub, func(ctx context.Context, batch []events.DraftChanged, lost int) {
			if lost == 0 && !slices.ContainsFunc(batch, deletesGateway) {
				return
			}
			if err := s.sandbox.Prune(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sandbox: stop deleted gateways' sandboxes", "err", err)
			}
			s.local.prune(ctx)
		})
	}()
}

func deletesGateway(e events.DraftChanged) bool {
	return slices.ContainsFunc(e.Deleted, func(obj model.Object) bool { return obj.Kind() == model.KindGateway })
}

// sandboxTests runs route test requests through the sandbox's data plane
// (the simulated Envoy, or a real one when the sandbox settings choose
// it), so tests check what Envoy does with the translated draft, not only
// what the rules mean.
type sandboxTests struct{ sandbox *session.Service }

var _ routetest.DataPlane = sandboxTests{}

// Name implements routetest.DataPlane: the engine the sandbox runs now.
func (p sandboxTests) Name() string { return p.sandbox.Engine(context.Background()) }

// Observe implements routetest.DataPlane.
func (p sandboxTests) Observe(ctx context.Context, gateway string, req rules.Request) (routetest.Outcome, error) {
	res, err := p.sandbox.Do(ctx, session.TestRequest{Gateway: gateway, Request: &req})
	if err != nil {
		return routetest.Outcome{}, err
	}
	return sandboxOutcome(res), nil
}

// sandboxOutcome reads a test outcome from a sandbox reply: the rule from
// the simulated Envoy's route, the rest from what the mock upstream
// received and what came back.
func sandboxOutcome(res *session.Result) routetest.Outcome {
	o := routetest.Outcome{Status: res.Response.Status, ResponseHeaders: http.Header{}}
	if res.Rule != nil {
		o.Rule = *res.Rule
	}
	for name, vals := range res.Response.Headers {
		o.ResponseHeaders[http.CanonicalHeaderKey(name)] = vals
	}
	if res.Response.Status >= 300 && res.Response.Status < 400 {
		o.Redirect = o.ResponseHeaders.Get("Location")
	}
	if res.Upstream != nil && res.Received != nil {
		o.Upstream, o.Path = *res.Upstream, res.Received.Path
		o.RequestHeaders = http.Header{}
		for name, vals := range res.Received.Headers {
			if strings.EqualFold(name, "host") && len(vals) > 0 {
				o.Host = vals[0]
			}
			o.RequestHeaders[http.CanonicalHeaderKey(name)] = vals
		}
	}
	return o
}

// publishedVersions gives the sandbox the published versions a test
// request may target.
type publishedVersions struct{ store *store.Store }

var _ session.Versions = publishedVersions{}

// PublishedWorkspace implements session.Versions.
func (v publishedVersions) PublishedWorkspace(ctx context.Context, gateway string, version int64) (int64, model.Workspace, error) {
	p, err := v.store.GetPublished(ctx, gateway, version)
	return p.Version, p.Workspace, err
}
