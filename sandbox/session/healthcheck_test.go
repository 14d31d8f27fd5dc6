package session

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/routedeck/routedeck/backend/translate"
)

func TestCheckIdleClusters(t *testing.T) {
	check := func(interval, noTraffic time.Duration) *corev3.HealthCheck {
		hc := &corev3.HealthCheck{Interval: durationpb.New(interval)}
		if noTraffic > 0 {
			hc.NoTrafficInterval = durationpb.New(noTraffic)
		}
		return hc
	}
	tests := map[string]struct {
		checks []*corev3.HealthCheck
		want   []time.Duration // no_traffic_interval of each check in the sandbox copy
		same   bool            // the cluster is passed on as it is
	}{
		"no health check":           {nil, nil, true},
		"idle interval unset":       {[]*corev3.HealthCheck{check(2*time.Second, 0)}, []time.Duration{2 * time.Second}, false},
		"idle interval set is kept": {[]*corev3.HealthCheck{check(2*time.Second, 10*time.Second)}, []time.Duration{10 * time.Second}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := &clusterv3.Cluster{Name: "api", HealthChecks: tc.checks}
			res := &translate.Resources{Clusters: []*clusterv3.Cluster{c}}
			out := checkIdleClusters(res)
			if (out.Clusters[0] == c) != tc.same {
				t.Errorf("cluster passed on as it is: %v, want %v", out.Clusters[0] == c, tc.same)
			}
			for i, want := range tc.want {
				if got := out.Clusters[0].GetHealthChecks()[i].GetNoTrafficInterval().AsDuration(); got != want {
					t.Errorf("check %d: no_traffic_interval %v, want %v", i, got, want)
				}
			}
			// The translated resources are shared: the original is untouched.
			if !tc.same && c.GetHealthChecks()[0].GetNoTrafficInterval() != nil {
				t.Errorf("the translated cluster was changed")
			}
		})
	}
}
