package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// recordingLocal is a LocalGateways that records what the handlers ask of
// it; the service itself is tested through the whole server in app.
type recordingLocal struct {
	actor, gateway string
	n              int
}

func (l *recordingLocal) Status(_ context.Context, gateway string) (LocalGateway, error) {
	if gateway != "public" {
		return LocalGateway{}, model.Errorf(model.ENOTFOUND, "gateway %q not found", gateway)
	}
	return LocalGateway{Gateway: gateway, State: LocalStopped}, nil
}

func (l *recordingLocal) Start(_ context.Context, actor, gateway string) (LocalGateway, error) {
	l.actor, l.gateway = actor, gateway
	return LocalGateway{Gateway: gateway, State: LocalWaiting, Message: "publish it"}, nil
}

func (l *recordingLocal) Stop(_ context.Context, actor, gateway string) (LocalGateway, error) {
	l.actor, l.gateway = actor, gateway
	return LocalGateway{Gateway: gateway, State: LocalStopped}, nil
}

func (l *recordingLocal) SendTraffic(_ context.Context, actor, gateway string, n int) (LocalTraffic, error) {
	l.actor, l.gateway, l.n = actor, gateway, n
	return LocalTraffic{Sent: n}, nil
}

// TestLocalGatewayEndpoints: the handlers pass the caller and the count
// on, default the count, refuse bad bodies before the service is asked,
// and answer lists as [] and acked as {} even when the service has none.
func TestLocalGatewayEndpoints(t *testing.T) {
	local := &recordingLocal{}
	a := newTestAPI(t, func(d *Deps) { d.LocalGateways = local })
	a.seed(t)

	got := a.do(t, "viewer", "GET", "/api/v1/gateways/public/local", nil).must(t, http.StatusOK)
	if b := string(got.body); !strings.Contains(b, `"listeners": []`) || !strings.Contains(b, `"samples": []`) ||
		!strings.Contains(b, `"acked": {}`) || !strings.Contains(b, `"version": null`) || !strings.Contains(b, `"nack": null`) {
		t.Errorf("status: %s", b)
	}
	a.do(t, "viewer", "GET", "/api/v1/gateways/nope/local", nil).must(t, http.StatusNotFound)

	if st := a.do(t, "editor", "PUT", "/api/v1/gateways/public/local", nil).must(t, http.StatusOK).json(t); st["state"] != "waiting" || local.actor != "token:editor-token" {
		t.Errorf("start: %v by %q", st, local.actor)
	}
	a.do(t, "editor", "DELETE", "/api/v1/gateways/public/local", nil).must(t, http.StatusOK)

	tests := map[string]struct {
		body   any
		status int
		n      int
	}{
		"no body":          {nil, 200, defaultLocalTraffic},
		"empty object":     {"{}", 200, defaultLocalTraffic},
		"one":              {`{"requests": 1}`, 200, 1},
		"the most":         {`{"requests": 1000}`, 200, 1000},
		"none":             {`{"requests": 0}`, 400, 0},
		"negative":         {`{"requests": -3}`, 400, 0},
		"too many":         {`{"requests": 1001}`, 400, 0},
		"fraction":         {`{"requests": 1.5}`, 400, 0},
		"unknown field":    {`{"requests": 2, "rate": 5}`, 400, 0},
		"not an object":    {`[1]`, 400, 0},
		"duplicate fields": {`{"requests": 2, "requests": 3}`, 400, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			local.n = 0
			r := a.do(t, "editor", "POST", "/api/v1/gateways/public/local/traffic", tc.body).must(t, tc.status)
			if local.n != tc.n {
				t.Errorf("the service was asked for %d requests, want %d", local.n, tc.n)
			}
			if tc.status == 200 && !strings.Contains(string(r.body), `"results": []`) {
				t.Errorf("answer: %s", r.body)
			}
		})
	}
}

// TestLocalGatewayNotWired: without the service every endpoint says so.
func TestLocalGatewayNotWired(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	for _, c := range [][2]string{{"GET", ""}, {"PUT", ""}, {"DELETE", ""}, {"POST", "/traffic"}} {
		a.do(t, "editor", c[0], "/api/v1/gateways/public/local"+c[1], nil).must(t, http.StatusNotImplemented)
	}
}
