package translate

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

func TestRateLimitBuckets(t *testing.T) {
	limit := &model.RateLimit{Requests: 10, Per: model.Duration(1e9)}
	rule := func(name, when string) model.Route {
		c, err := rules.Parse(when)
		if err != nil {
			t.Fatal(err)
		}
		return model.Route{Meta: model.Meta{Name: name}, Gateway: "public", When: c,
			Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}, RateLimit: limit}}
	}
	tests := map[string]struct {
		rule model.Route
		want map[string]int
	}{
		"one host, one route":   {rule("one", `host == "a.example.com" && path.prefix("/x")`), map[string]int{}},
		"two hosts, two routes": {rule("hosts", `host in ["a.example.com", "b.example.com"]`), map[string]int{"hosts": 2}},
		// Without a host a rule goes into every virtual host: a.example.com,
		// b.example.com and the catch-all.
		"no host: every vhost":  {rule("all", `path.prefix("/x")`), map[string]int{"all": 3}},
		"any splits each vhost": {rule("alts", `path.prefix("/a") || path.prefix("/b")`), map[string]int{"alts": 6}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ws := model.Workspace{
				Gateways:  []model.Gateway{{Meta: model.Meta{Name: "public"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
				Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}},
				Routes: []model.Route{
					tc.rule,
					// Two hosts of their own, so host-less rules land in
					// both virtual hosts.
					{Meta: model.Meta{Name: "a"}, Gateway: "public", When: model.Pred(model.FieldHost, model.OpEquals, "a.example.com"), Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}},
					{Meta: model.Meta{Name: "b"}, Gateway: "public", When: model.Pred(model.FieldHost, model.OpEquals, "b.example.com"), Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}},
				},
			}
			res, err := Gateway(ws, "public", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, RateLimitBuckets(res)); diff != "" {
				t.Errorf("buckets (-want +got):\n%s", diff)
			}
		})
	}
}
