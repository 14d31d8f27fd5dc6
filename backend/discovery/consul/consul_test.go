package consul

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/discovery"
)

func TestEndpoints(t *testing.T) {
	entry := func(node, addr string, port int, weights api.AgentWeights, statuses ...string) *api.ServiceEntry {
		var checks api.HealthChecks
		for i, s := range statuses {
			checks = append(checks, &api.HealthCheck{CheckID: string(rune('a' + i)), Status: s})
		}
		return &api.ServiceEntry{
			Node:    &api.Node{Address: node},
			Service: &api.AgentService{Address: addr, Port: port, Weights: weights},
			Checks:  checks,
		}
	}
	std := api.AgentWeights{Passing: 1, Warning: 1}
	tests := map[string]struct {
		in   []*api.ServiceEntry
		want []discovery.Endpoint
	}{
		"none": {in: nil, want: []discovery.Endpoint{}},
		"service address wins over node, sorted": {
			in: []*api.ServiceEntry{
				entry("192.168.0.2", "10.0.0.2", 80, std, api.HealthPassing),
				entry("192.168.0.1", "", 81, std, api.HealthPassing),
			},
			want: []discovery.Endpoint{
				{Address: "10.0.0.2", Port: 80, Weight: 1, Healthy: true, Health: discovery.HealthHealthy, Source: discovery.SourceConsul},
				{Address: "192.168.0.1", Port: 81, Weight: 1, Healthy: true, Health: discovery.HealthHealthy, Source: discovery.SourceConsul},
			},
		},
		"weights by status": {
			in: []*api.ServiceEntry{
				entry("", "10.0.0.1", 80, api.AgentWeights{Passing: 5, Warning: 2}, api.HealthPassing),
				entry("", "10.0.0.2", 80, api.AgentWeights{Passing: 5, Warning: 2}, api.HealthPassing, api.HealthWarning),
				entry("", "10.0.0.3", 80, api.AgentWeights{Passing: 5, Warning: 0}, api.HealthWarning),
				entry("", "10.0.0.4", 80, std, api.HealthPassing, api.HealthCritical),
				entry("", "10.0.0.5", 80, api.AgentWeights{}, api.HealthPassing),
			},
			want: []discovery.Endpoint{
				{Address: "10.0.0.1", Port: 80, Weight: 5, Healthy: true, Health: discovery.HealthHealthy, Source: discovery.SourceConsul},
				{Address: "10.0.0.2", Port: 80, Weight: 2, Healthy: true, Health: discovery.HealthUnhealthy, Source: discovery.SourceConsul},
				{Address: "10.0.0.3", Port: 80, Weight: 1, Healthy: false, Health: discovery.HealthUnhealthy, Source: discovery.SourceConsul},
				{Address: "10.0.0.4", Port: 80, Weight: 1, Healthy: false, Health: discovery.HealthUnhealthy, Source: discovery.SourceConsul},
				{Address: "10.0.0.5", Port: 80, Weight: 1, Healthy: true, Health: discovery.HealthHealthy, Source: discovery.SourceConsul},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, endpoints(tc.in)); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
		})
	}
}
