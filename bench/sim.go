package main

import (
	"fmt"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/routedeck/routedeck/sandbox/sim"
)

// simTable is one virtual host with n routes, each a path prefix
// ("/svc<i>/") or, for regex, a safe regex ("/r<i>/[0-9]+").
func simTable(n int, regex bool) (*sim.Router, error) {
	vh := &routev3.VirtualHost{Name: "vh", Domains: []string{"example.com"}}
	for i := range n {
		m := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: fmt.Sprintf("/svc%d/", i)}}
		if regex {
			m = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{
				SafeRegex: &matcherv3.RegexMatcher{Regex: fmt.Sprintf("/r%d/[0-9]+", i)}}}
		}
		vh.Routes = append(vh.Routes, &routev3.Route{
			Name:  fmt.Sprintf("r%d", i),
			Match: m,
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: fmt.Sprintf("c%d", i)}}},
		})
	}
	return sim.New(&routev3.RouteConfiguration{Name: "bench", VirtualHosts: []*routev3.VirtualHost{vh}}, sim.Options{})
}

// benchSim times the simulated Envoy's route selection (virtual host, then
// the first matching route) with testing.Benchmark.
func benchSim(sc sizes) ([]Figure, error) {
	prefix, err := simTable(sc.simRoutes, false)
	if err != nil {
		return nil, err
	}
	regex, err := simTable(sc.simRoutes, true)
	if err != nil {
		return nil, err
	}
	last := sc.simRoutes - 1
	cases := []struct {
		name, what, path string
		table            *sim.Router
		want             int // route index, -1 for none
		targetNs         float64
	}{
		{"first", "first of %d prefix routes matches", "/svc0/x", prefix, 0, 1000},
		{"last", "last of %d prefix routes matches", fmt.Sprintf("/svc%d/x?q=1", last), prefix, last, 1000},
		{"miss", "none of %d prefix routes matches", "/nomatch/x", prefix, -1, 1000},
		{"regex", "last of %d regex routes matches", fmt.Sprintf("/r%d/12", last), regex, last, 1000},
	}
	var out []Figure
	for _, c := range cases {
		rq := sim.NewRequest("GET", "example.com", c.path)
		got := -1
		if sel := c.table.Match(rq, 0); sel.Route != nil {
			got = sel.Route.Index
		}
		if got != c.want {
			return nil, fmt.Errorf("%s: matched route %d, want %d", c.name, got, c.want)
		}
		r := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.table.Match(rq, 0)
			}
		})
		if r.N == 0 {
			return nil, fmt.Errorf("%s: benchmark did not run", c.name)
		}
		out = append(out, Figure{
			Name:        "sim.match." + c.name,
			Description: fmt.Sprintf("simulated Envoy route selection: "+c.what, sc.simRoutes),
			Value:       float64(r.NsPerOp()), Unit: "ns/op", Target: c.targetNs,
			Detail: map[string]any{"allocsPerOp": r.AllocsPerOp(), "bytesPerOp": r.AllocedBytesPerOp(), "iterations": r.N},
		})
	}
	// Selection must not allocate: one figure for all cases.
	var allocs int64
	for _, f := range out {
		allocs = max(allocs, f.Detail["allocsPerOp"].(int64))
	}
	out = append(out, Figure{Name: "sim.match.allocs", Description: "allocations per route selection, worst case above",
		Value: float64(allocs), Unit: "allocs/op", Target: 0})
	return out, nil
}
