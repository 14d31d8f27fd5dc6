// Package simtraffic sends requests through a simulated Envoy
// (sandbox/sim) for tests that need traffic a gateway's proxy served and
// reported over the access log service: the request log, replay, the
// publish gate.
package simtraffic

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// Request is one request to send: its Host header and path.
type Request struct{ Host, Path string }

// Send waits until dp's "http" listener is ready, sends each request
// through it (a redirect is an answer, not followed) and waits until log
// holds as many requests of gateway as were sent (the proxy reports its
// access log about once a second); more than were sent fails the test.
func Send(ctx context.Context, t testing.TB, dp *sim.DataPlane, log *accesslog.Store, gateway string, reqs []Request) {
	t.Helper()
	if _, err := dp.WaitFor(ctx, func(st sim.Status) bool { return st.Ready["http"] }); err != nil {
		t.Fatal(err)
	}
	addr := dp.Status().Listeners["http"]
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range reqs {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+r.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = r.Host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for {
		entries, _, err := log.Entries(ctx, accesslog.Query{Gateway: gateway, Limit: len(reqs) + 1})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case len(entries) == len(reqs):
			return
		case len(entries) > len(reqs):
			t.Fatalf("%d requests captured, %d sent", len(entries), len(reqs))
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d requests captured", len(entries), len(reqs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
