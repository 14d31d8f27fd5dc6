package session

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/routedeck/routedeck/backend/translate"
)

// checkIdleClusters returns res with every health check of its clusters
// running at its interval while the cluster has had no traffic. Envoy
// checks an idle cluster only every no_traffic_interval (60 s unless set),
// so a sandbox, whose clusters are idle until the operator sends
// something, would show a failing endpoint a minute late. Checks that set
// no_traffic_interval keep it. res is left alone; translated resources
// are shared.
func checkIdleClusters(res *translate.Resources) *translate.Resources {
	out := *res
	out.Clusters = make([]*clusterv3.Cluster, len(res.Clusters))
	for i, c := range res.Clusters {
		out.Clusters[i] = c
		idle := false
		for _, hc := range c.GetHealthChecks() {
			idle = idle || (hc.GetNoTrafficInterval() == nil && hc.GetInterval() != nil)
		}
		if !idle {
			continue
		}
		cc := proto.Clone(c).(*clusterv3.Cluster)
		for _, hc := range cc.GetHealthChecks() {
			if hc.GetNoTrafficInterval() == nil && hc.GetInterval() != nil {
				hc.NoTrafficInterval = proto.Clone(hc.GetInterval()).(*durationpb.Duration)
			}
		}
		out.Clusters[i] = cc
	}
	return &out
}
