package xds

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// vhdsGateway is the fixture gateway on real upstreams, with virtual
// hosts a.example (the given routes) and, with withB, b.example (every
// path to web-v1, or to api when bToAPI).
func vhdsGateway(t *testing.T, endpoints map[string][]string, routes []testRoute, hosts ...*routev3.VirtualHost) *translate.Resources {
	t.Helper()
	res := fixture(t, routes, endpoints)
	a := res.Routes[0].VirtualHosts[0]
	a.Name, a.Domains = "a", []string{"a.example"}
	res.Routes[0].VirtualHosts = append(res.Routes[0].VirtualHosts, hosts...)
	return res
}

func catchAll(name, domain, cluster string) *routev3.VirtualHost {
	return &routev3.VirtualHost{Name: name, Domains: []string{domain}, Routes: []*routev3.Route{{
		Name:   "rule/" + name + "/0",
		Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster}}},
	}}}
}

// TestVHDSSimulatedEnvoy runs the simulated Envoy from a delta ADS
// bootstrap against a server with VHDS on: requests route by the virtual hosts VHDS gave it,
// a one-route edit reaches it as one virtual host (its route
// configuration stays at its version), a removed host answers 404, and a
// virtual host it refuses is NACKed while it keeps serving what it had.
func TestVHDSSimulatedEnvoy(t *testing.T) {
	upstreams := map[string][]string{}
	for _, name := range []string{"web-v1", "api"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, name) }))
		t.Cleanup(srv.Close)
		upstreams[name] = []string{strings.TrimPrefix(srv.URL, "http://")}
	}
	s, addr := startVHDSServer(t)
	ctx := context.Background()
	set := func(version string, res *translate.Resources) {
		t.Helper()
		if err := s.SetGateway(ctx, "public", res, version); err != nil {
			t.Fatal(err)
		}
	}
	set("1", vhdsGateway(t, upstreams, baseRoutes, catchAll("b", "b.example", "web-v1")))

	// The proxy starts from the bootstrap routedeck renders for it.
	b, err := Bootstrap("public", "envoy-1", addr, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	UseDeltaADS(b)
	y, err := BootstrapYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y), "apiType: DELTA_GRPC") && !strings.Contains(string(y), "api_type: DELTA_GRPC") {
		t.Fatalf("bootstrap without delta ADS:\n%s", y)
	}
	parsed, err := ParseBootstrapYAML(y)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := sim.FromBootstrap(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if !opts.Delta {
		t.Fatal("the sim reads no delta ADS from the bootstrap")
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	dp, err := sim.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	wait := func(what string, cond func(sim.Status) bool) sim.Status {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := dp.WaitFor(wctx, cond)
		if err != nil {
			t.Fatalf("waiting for %s: %v (status %+v)", what, err, dp.Status())
		}
		return st
	}
	st := wait("version 1", func(st sim.Status) bool {
		return st.Versions[sim.TypeVirtualHost] == "1" && st.Ready["http"] && len(st.AwaitingEndpoints) == 0
	})
	get := func(host, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+st.Listeners["http"]+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct{ host, path, want string }{
		{"a.example", "/api/x", "api"}, {"a.example", "/static/x", "web-v1"}, {"b.example", "/api/x", "web-v1"},
	} {
		if code, body := get(tc.host, tc.path); code != 200 || body != tc.want {
			t.Errorf("%s%s: %d %q, want %s", tc.host, tc.path, code, body, tc.want)
		}
	}

	// One route of a.example now goes elsewhere.
	edited := []testRoute{baseRoutes[0], {rule: "api", prefix: "/api", cluster: "web-v1"}}
	set("2", vhdsGateway(t, upstreams, edited, catchAll("b", "b.example", "web-v1")))
	st = wait("version 2", func(st sim.Status) bool { return st.Versions[sim.TypeVirtualHost] == "2" })
	if st.Versions[sim.TypeRoute] != "1" {
		t.Errorf("route configuration at %q after a one-route edit, want 1: only the virtual host changes", st.Versions[sim.TypeRoute])
	}
	if code, body := get("a.example", "/api/x"); code != 200 || body != "web-v1" {
		t.Errorf("a.example/api/x after the edit: %d %q", code, body)
	}
	if code, body := get("b.example", "/x"); code != 200 || body != "web-v1" {
		t.Errorf("b.example/x after the edit: %d %q", code, body)
	}

	// b.example goes.
	set("3", vhdsGateway(t, upstreams, edited))
	wait("version 3", func(st sim.Status) bool { return st.Versions[sim.TypeVirtualHost] == "3" })
	if code, _ := get("b.example", "/x"); code != 404 {
		t.Errorf("removed b.example: %d, want 404", code)
	}
	waitFor(t, "the proxy in sync at version 3", func() bool {
		ps := s.Proxies("public")
		return len(ps) == 1 && s.InSync("public", ps[0].Acked)
	})

	// c.example claims a.example's domain: the route configuration it
	// would make is refused, and the data plane keeps what it had.
	set("4", vhdsGateway(t, upstreams, edited, catchAll("c", "a.example", "api")))
	st = wait("NACK of version 4", func(st sim.Status) bool { return len(st.Nacks) > 0 })
	if n := st.Nacks[len(st.Nacks)-1]; n.TypeURL != sim.TypeVirtualHost || n.Version != "4" || !strings.Contains(n.Error, `duplicate domain "a.example"`) {
		t.Errorf("nack = %+v", n)
	}
	waitFor(t, "the server to hear the NACK", func() bool {
		ps := s.Proxies("public")
		return len(ps) == 1 && ps[0].Nack != nil && ps[0].Nack.TypeURL == resource.VirtualHostType
	})
	if rule := s.Proxies("public")[0].Nack.Rule; rule != "c" {
		t.Errorf("NACK attributed to rule %q, want c, the one rule of the refused virtual host", rule)
	}
	if code, body := get("a.example", "/api/x"); code != 200 || body != "web-v1" {
		t.Errorf("a.example/api/x after the refused update: %d %q", code, body)
	}
	if s.InSync("public", s.Proxies("public")[0].Acked) {
		t.Error("a proxy that refused version 4 counts as in sync")
	}
}
