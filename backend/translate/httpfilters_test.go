package translate

import (
	"maps"
	"slices"
	"testing"
	"time"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/routedeck/routedeck/backend/model"
)

// TestEveryPolicyHasItsFilter translates, for each registered policy, a
// rule using only it, and requires that policy's filter before the router
// in the chain and as the route's only per-route config. A policy
// registered without a case here fails the test.
func TestEveryPolicyHasItsFilter(t *testing.T) {
	cases := map[*httpPolicy]model.Action{
		&corsPolicy:      {CORS: &model.CORS{AllowOrigins: []string{"https://a.example"}}},
		&rbacPolicy:      {Access: &model.Access{Allow: []string{"10.0.0.0/8"}}},
		&jwtPolicy:       {Auth: &model.Auth{JWT: &model.JWTAuth{Issuer: "iss", JWKS: `{"keys":[]}`}}},
		&basicAuthPolicy: {Auth: &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{"ann": "pw"}}}},
		&rateLimitPolicy: {RateLimit: &model.RateLimit{Requests: 5, Per: model.Duration(time.Second)}},
		&faultPolicy:     {Fault: &model.Fault{Abort: &model.FaultAbort{Status: 503, Percent: 10}}},
	}
	seen := map[string]bool{}
	for _, p := range httpPolicies {
		if seen[p.filter] {
			t.Errorf("filter %s registered twice", p.filter)
		}
		seen[p.filter] = true
		then, ok := cases[p]
		if !ok {
			t.Errorf("policy %s has no case in this test", p.filter)
			continue
		}
		t.Run(p.filter, func(t *testing.T) {
			then.Forward = []model.Backend{{Upstream: "web"}}
			ws := model.Workspace{
				Gateways: []model.Gateway{{Meta: model.Meta{Name: "gw"},
					Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
				Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"},
					Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}},
				Routes: []model.Route{{Meta: model.Meta{Name: "r"}, Gateway: "gw", Then: then}},
			}
			res, err := Gateway(ws, "gw", Options{})
			if err != nil {
				t.Fatal(err)
			}
			var hcm hcmv3.HttpConnectionManager
			if err := res.Listeners[0].FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
				t.Fatal(err)
			}
			var chain []string
			for _, f := range hcm.HttpFilters {
				chain = append(chain, f.Name)
			}
			if want := []string{p.filter, "envoy.filters.http.router"}; !slices.Equal(chain, want) {
				t.Errorf("chain %v, want %v", chain, want)
			}
			rt := res.Routes[0].VirtualHosts[0].Routes[0]
			if got := slices.Sorted(maps.Keys(rt.TypedPerFilterConfig)); !slices.Equal(got, []string{p.filter}) {
				t.Errorf("per-route configs %v, want [%s]", got, p.filter)
			}
		})
	}
}
