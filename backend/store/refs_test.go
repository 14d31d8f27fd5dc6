package store

import (
	"slices"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// referencedUpstreams is routeRefs' upstreams plus the JWKS upstream.
func TestReferencedUpstreams(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route model.Route
		want  []string
	}{
		{"none", model.Route{}, nil},
		{"split with a repeat", model.Route{Then: model.Action{Forward: []model.Backend{{Upstream: "a"}, {Upstream: "b"}, {Upstream: "a"}}}}, []string{"a", "b"}},
		{"mirror", model.Route{Then: model.Action{Forward: []model.Backend{{Upstream: "a"}}, Mirror: &model.Mirror{Upstream: "m"}}}, []string{"a", "m"}},
		{"mirror to the same", model.Route{Then: model.Action{Forward: []model.Backend{{Upstream: "a"}}, Mirror: &model.Mirror{Upstream: "a"}}}, []string{"a"}},
		{"jwks", model.Route{Then: model.Action{Forward: []model.Backend{{Upstream: "a"}}, Auth: &model.Auth{JWT: &model.JWTAuth{JWKSUpstream: "idp"}}}}, []string{"a", "idp"}},
		{"host conditions", model.Route{When: model.Condition{All: []model.Condition{{Field: model.FieldHost, Op: model.OpEquals, Value: "x.example"}}},
			Then: model.Action{Forward: []model.Backend{{Upstream: "a"}}}}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := referencedUpstreams(&tc.route)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("referencedUpstreams = %q, want %q", got, tc.want)
			}
			ups, _ := routeRefs(&tc.route)
			if !slices.Equal(ups, got[:len(ups)]) {
				t.Fatalf("routeRefs upstreams %q are not the start of %q", ups, got)
			}
		})
	}
}
