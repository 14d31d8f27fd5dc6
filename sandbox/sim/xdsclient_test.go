package sim

import (
	"maps"
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
)

// A state-of-the-world response replaces the listeners or clusters
// wholesale, but updates only the load assignments (route configurations,
// secrets) it carries, as Envoy's per-resource watches do; those go when
// their subscription does.
func TestDecodeByNameKeepsWhatIsNotSent(t *testing.T) {
	empty := &resources{versions: map[string]string{}}
	resp := func(typeURL string, msgs ...proto.Message) *discovery.DiscoveryResponse {
		r := &discovery.DiscoveryResponse{TypeUrl: typeURL}
		for _, m := range msgs {
			r.Resources = append(r.Resources, mustAny(t, m))
		}
		return r
	}
	names := func(m map[string]*endpointv3.ClusterLoadAssignment) string {
		return strings.Join(slices.Sorted(maps.Keys(m)), ",")
	}
	st, err := decode(empty, resp(TypeEndpoint, loadAssignmentOf("a", "10.0.0.1:80"), loadAssignmentOf("b", "10.0.0.2:80")))
	if err != nil {
		t.Fatal(err)
	}
	next, err := decode(st, resp(TypeEndpoint, loadAssignmentOf("b", "10.0.0.3:80")))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(next.endpoints); got != "a,b" {
		t.Fatalf("after an update of b alone: %s, want a,b", got)
	}
	if got := next.endpoints["b"].GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetAddress(); got != "10.0.0.3" {
		t.Errorf("b at %s, want the update's 10.0.0.3", got)
	}
	if got := names(st.endpoints); got != "a,b" || st.endpoints["b"] == next.endpoints["b"] {
		t.Errorf("the previous state changed")
	}
	prune(next, TypeEndpoint, []string{"b"})
	if got := names(next.endpoints); got != "b" {
		t.Errorf("after unsubscribing a: %s, want b", got)
	}

	cl, err := decode(empty, resp(TypeCluster, edsCluster("a", clusterv3.Cluster_ROUND_ROBIN), edsCluster("b", clusterv3.Cluster_ROUND_ROBIN)))
	if err != nil {
		t.Fatal(err)
	}
	cl, err = decode(cl, resp(TypeCluster, edsCluster("b", clusterv3.Cluster_ROUND_ROBIN)))
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.clusters) != 1 || cl.clusters["b"] == nil {
		t.Errorf("clusters after a response with b alone: %v, want b", slices.Sorted(maps.Keys(cl.clusters)))
	}
}
