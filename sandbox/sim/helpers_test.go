package sim

import (
	"fmt"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"
)

// parseConfig reads a RouteConfiguration written in YAML.
func parseConfig(t testing.TB, y string) *routev3.RouteConfiguration {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatalf("yaml: %v", err)
	}
	rc := &routev3.RouteConfiguration{}
	if err := protojson.Unmarshal(js, rc); err != nil {
		t.Fatalf("route configuration: %v", err)
	}
	return rc
}

func mustRouter(t testing.TB, y string, opts Options) *Router {
	t.Helper()
	r, err := New(parseConfig(t, y), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// req builds a request like router_check does: XFP and :scheme http.
func req(authority, path string, kv ...string) *Request {
	r := NewRequest("GET", authority, path, append([]string{"x-forwarded-proto", "http", ":scheme", "http"}, kv...)...)
	r.RemoteAddress = "127.0.0.1:4321"
	return r
}

// routeOnly matches and also checks that the index agrees with the linear scan.
func route(t *testing.T, r *Router, rq *Request, random uint64) *Decision {
	t.Helper()
	d := r.Route(rq, random)
	cp := *rq
	cp.Headers = rq.Headers.Clone()
	r.Normalize(&cp)
	sel := r.Match(&cp, random)
	got := -1
	if sel.Route != nil {
		got = sel.Route.Index
	}
	if !sel.TLSRedirect && got != d.RouteIndex {
		t.Fatalf("index chose route %d, linear scan chose %d", got, d.RouteIndex)
	}
	return d
}

type structpbStruct = structpb.Struct

func mustStruct(t testing.TB, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
