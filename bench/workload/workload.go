// Package workload builds the large synthetic workspaces the benchmarks
// measure, so the translator's Go benchmarks and the bench harness time
// the same gateway.
package workload

import (
	"fmt"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// Gateway is the name of the gateway Workspace builds.
const Gateway = "bench"

// Workspace is a large gateway: routes spread over hosts and upstreams (each
// a host equality and a path prefix), one rule in a thousand host-less
// (placed in every virtual host), one in ten with timeout, retries and a
// header policy.
func Workspace(routes, hosts, upstreams int) model.Workspace {
	ws := model.Workspace{Gateways: []model.Gateway{{
		Meta:      model.Meta{Name: Gateway},
		Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}},
	}}}
	for i := range upstreams {
		ws.Upstreams = append(ws.Upstreams, model.Upstream{
			Meta: model.Meta{Name: fmt.Sprintf("svc-%04d", i)},
			Static: &model.StaticSource{Endpoints: []model.Endpoint{
				{Address: fmt.Sprintf("10.%d.%d.1", i/250, i%250), Port: 8080},
				{Address: fmt.Sprintf("10.%d.%d.2", i/250, i%250), Port: 8080},
			}},
		})
	}
	for i := range routes {
		r := model.Route{
			Meta:     model.Meta{Name: fmt.Sprintf("route-%05d", i)},
			Gateway:  Gateway,
			Priority: i % 7,
			When: model.And(
				model.Pred(model.FieldHost, model.OpEquals, fmt.Sprintf("h%d.example.com", i%hosts)),
				model.Pred(model.FieldPath, model.OpPrefix, fmt.Sprintf("/api/%d", i/hosts)),
			),
			Then: model.Action{Forward: []model.Backend{{Upstream: fmt.Sprintf("svc-%04d", i%upstreams)}}},
		}
		if i%1000 == 999 {
			r.When = model.Pred(model.FieldPath, model.OpPrefix, fmt.Sprintf("/global/%d", i))
		}
		if i%10 == 0 {
			r.Then.Timeout = model.Duration(5 * time.Second)
			r.Then.Retries = &model.Retries{Attempts: 2, On: []string{model.Retry5xx}}
			r.Then.Headers = &model.HeaderPolicy{Request: &model.HeaderMutation{Set: map[string]string{"x-route": r.Name}}}
		}
		ws.Routes = append(ws.Routes, r)
	}
	return ws
}

// Corpus is the comparison corpus: n routes over n/10 hosts and n/10
// upstreams; a third match a path prefix, a third an exact path and a third
// a header equality under a prefix; every tenth splits its traffic 90/10
// between two upstreams. Other translators are timed on the same shape, so
// it stays this plain: no policies, no regexes.
func Corpus(n int) model.Workspace {
	hosts, upstreams := max(n/10, 1), max(n/10, 1)
	ws := model.Workspace{Gateways: []model.Gateway{{
		Meta:      model.Meta{Name: Gateway},
		Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}},
	}}}
	for i := range upstreams {
		ws.Upstreams = append(ws.Upstreams, model.Upstream{
			Meta: model.Meta{Name: fmt.Sprintf("svc-%04d", i)},
			Static: &model.StaticSource{Endpoints: []model.Endpoint{
				{Address: fmt.Sprintf("10.%d.%d.1", i/250, i%250), Port: 8080},
			}},
		})
	}
	for i := range n {
		host := model.Pred(model.FieldHost, model.OpEquals, fmt.Sprintf("h%d.example.com", i%hosts))
		var match model.Condition
		switch i % 3 {
		case 0:
			match = model.Pred(model.FieldPath, model.OpPrefix, fmt.Sprintf("/prefix/%d", i))
		case 1:
			match = model.Pred(model.FieldPath, model.OpExact, fmt.Sprintf("/exact/%d", i))
		default:
			match = model.And(
				model.Pred(model.FieldPath, model.OpPrefix, "/header"),
				model.Pred(model.KeyedField(model.FieldHeader, "x-tenant"), model.OpEquals, fmt.Sprintf("t%d", i)),
			)
		}
		r := model.Route{
			Meta:    model.Meta{Name: fmt.Sprintf("route-%05d", i)},
			Gateway: Gateway,
			When:    model.And(host, match),
			Then:    model.Action{Forward: []model.Backend{{Upstream: fmt.Sprintf("svc-%04d", i%upstreams)}}},
		}
		if i%10 == 0 {
			r.Then.Forward = []model.Backend{
				{Upstream: fmt.Sprintf("svc-%04d", i%upstreams), Weight: 90},
				{Upstream: fmt.Sprintf("svc-%04d", (i+1)%upstreams), Weight: 10},
			}
		}
		ws.Routes = append(ws.Routes, r)
	}
	return ws
}
