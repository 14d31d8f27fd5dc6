package sim

import (
	"maps"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func vhdsRouteConfig(name string) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: name, Vhds: &routev3.Vhds{ConfigSource: &corev3.ConfigSource{
		ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}}}
}

func deltaResp(t *testing.T, typeURL string, removed []string, named ...proto.Message) *discovery.DeltaDiscoveryResponse {
	t.Helper()
	r := &discovery.DeltaDiscoveryResponse{TypeUrl: typeURL, RemovedResources: removed}
	for _, m := range named {
		name := m.(interface{ GetName() string }).GetName()
		r.Resources = append(r.Resources, &discovery.Resource{Name: name, Version: "v", Resource: mustAny(t, m)})
	}
	return r
}

func hostNames(rc *routev3.RouteConfiguration) string {
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		out = append(out, vh.GetName())
	}
	return strings.Join(out, ",")
}

// A route configuration with vhds warms until VHDS gives it virtual hosts;
// they are filed by the route configuration their name starts with, those
// of one not held are dropped, removals go by resource name, and an RDS
// update keeps what VHDS gave.
func TestDecodeDeltaVHDS(t *testing.T) {
	must := func(s *resources, err error) *resources {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	empty := &resources{versions: map[string]string{}}
	st := must(decodeDelta(empty, deltaResp(t, TypeRoute, nil, vhdsRouteConfig("rc"))))
	if st.routes["rc"] != nil {
		t.Fatal("route configuration served before its first VHDS update")
	}
	vh := func(name, domain string) *routev3.VirtualHost {
		return &routev3.VirtualHost{Name: name, Domains: []string{domain}}
	}
	st = must(decodeDelta(st, deltaResp(t, TypeVirtualHost, nil, vh("rc/b", "b.example"), vh("rc/a", "a.example"), vh("other/x", "x.example"))))
	if got := hostNames(st.routes["rc"]); got != "rc/a,rc/b" {
		t.Fatalf("virtual hosts %q, want rc/a,rc/b", got)
	}
	if _, ok := st.vhds.hosts["other"]; ok || st.vhds.ready["other"] {
		t.Error("a virtual host of a route configuration not held was kept")
	}
	// Envoy acknowledges what it dropped too: the versions say what the
	// server sent.
	if got := slices.Sorted(maps.Keys(st.resourceVersions[TypeVirtualHost])); strings.Join(got, ",") != "other/x,rc/a,rc/b" {
		t.Errorf("versions of %v", got)
	}
	before := st
	st = must(decodeDelta(st, deltaResp(t, TypeVirtualHost, []string{"rc/a"})))
	if got := hostNames(st.routes["rc"]); got != "rc/b" {
		t.Fatalf("after removing rc/a: %q", got)
	}
	if got := hostNames(before.routes["rc"]); got != "rc/a,rc/b" {
		t.Errorf("the previous state changed: %q", got)
	}
	withHeader := vhdsRouteConfig("rc")
	withHeader.InternalOnlyHeaders = []string{"x-internal"}
	st = must(decodeDelta(st, deltaResp(t, TypeRoute, nil, withHeader)))
	if rc := st.routes["rc"]; hostNames(rc) != "rc/b" || len(rc.GetInternalOnlyHeaders()) != 1 {
		t.Errorf("after an RDS update: %v", rc)
	}
	prune(st, TypeRoute, nil)
	pruneVersions(st, TypeRoute, nil)
	if st.routes["rc"] != nil || st.vhds.rds["rc"] != nil || len(st.resourceVersions[TypeVirtualHost]) != 0 {
		t.Errorf("unsubscribed route configuration kept: %v %v", st.routes, st.resourceVersions)
	}
}

// Envoy refuses vhds on a state-of-the-world ADS stream.
func TestDecodeSotWRefusesVHDS(t *testing.T) {
	resp := &discovery.DiscoveryResponse{TypeUrl: TypeRoute, Resources: []*anypb.Any{mustAny(t, vhdsRouteConfig("rc"))}}
	_, err := decode(&resources{versions: map[string]string{}}, resp)
	if err == nil || !strings.Contains(err.Error(), "DELTA_GRPC") {
		t.Fatalf("err = %v", err)
	}
}
