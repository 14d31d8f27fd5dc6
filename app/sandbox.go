package app

import (
	"context"
	"net/http"
	"strings"

	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/sandbox/session"
)

// sandboxTests runs route test requests through the sandbox's simulated
// Envoy, so tests check what Envoy does with the translated draft, not
// only what the rules mean.
type sandboxTests struct{ sandbox *session.Service }

var _ routetest.DataPlane = sandboxTests{}

// Name implements routetest.DataPlane.
func (sandboxTests) Name() string { return "sim" }

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
