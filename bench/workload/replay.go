package workload

import (
	"fmt"
	"math/rand/v2"

	"github.com/routedeck/routedeck/backend/model"
)

// ReplayDraft is Corpus(n) edited the way a release edits a gateway:
// every 20th rule forwards to the next upstream, every split (one rule in
// ten) goes 50/50, and every 100th rule is gone. Replay benchmarks run
// traffic from Corpus(n) to it.
func ReplayDraft(n int) model.Workspace {
	ws := Corpus(n)
	upstreams := len(ws.Upstreams)
	routes := ws.Routes[:0]
	for i, r := range ws.Routes {
		switch {
		case i%100 == 50:
			continue
		case len(r.Then.Forward) == 2:
			r.Then.Forward = []model.Backend{{Upstream: r.Then.Forward[0].Upstream, Weight: 50}, {Upstream: r.Then.Forward[1].Upstream, Weight: 50}}
		case i%20 == 5:
			r.Then.Forward = []model.Backend{{Upstream: fmt.Sprintf("svc-%04d", (i+1)%upstreams)}}
		}
		routes = append(routes, r)
	}
	ws.Routes = routes
	return ws
}

// Request is one request of benchmark traffic.
type Request struct {
	Method, Host, Path string
	// Headers are request headers, lower case.
	Headers map[string]string
}

// ReplayTraffic is n requests for Corpus(routes), the same for the same
// seed: nine in ten are meant for one of its rules (a path under a
// prefix rule, an exact path, a tenant header), the rest miss (an
// unknown path or host).
func ReplayTraffic(routes, n int, seed uint64) []Request {
	r := rand.New(rand.NewPCG(seed, 7))
	hosts := max(routes/10, 1)
	out := make([]Request, n)
	for k := range out {
		i := r.IntN(routes)
		q := Request{Method: "GET", Host: fmt.Sprintf("h%d.example.com", i%hosts)}
		switch {
		case k%10 == 9 && k%20 == 9:
			q.Path = fmt.Sprintf("/unknown/%d", i)
		case k%10 == 9:
			q.Host = fmt.Sprintf("elsewhere-%d.example.net", i)
			q.Path = fmt.Sprintf("/prefix/%d", i)
		case i%3 == 0:
			q.Path = fmt.Sprintf("/prefix/%d/items/%d?page=%d", i, r.IntN(1000), r.IntN(5))
		case i%3 == 1:
			q.Path = fmt.Sprintf("/exact/%d", i)
		default:
			q.Path = fmt.Sprintf("/header/orders/%d", r.IntN(1000))
			q.Headers = map[string]string{"x-tenant": fmt.Sprintf("t%d", i)}
		}
		if k%7 == 0 {
			q.Method = "POST"
		}
		out[k] = q
	}
	return out
}
