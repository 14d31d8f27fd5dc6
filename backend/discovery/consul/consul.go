// Package consul discovers upstream endpoints from Consul's health API,
// following changes with blocking queries.
package consul

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/discovery"
	"github.com/routedeck/routedeck/backend/model"
)

// Source watches Consul services. It implements discovery.Source.
type Source struct {
	client *api.Client
	log    *slog.Logger

	// WaitTime bounds each blocking query; Consul answers early when the
	// service changes. Zero means five minutes.
	WaitTime time.Duration
	// RetryMin and RetryMax bound the back-off between attempts while the
	// agent cannot be reached. Zero means 200ms and 5s.
	RetryMin, RetryMax time.Duration
}

// New returns a source that queries Consul through client, e.g. one built
// from api.DefaultConfig(), which reads CONSUL_HTTP_ADDR and
// CONSUL_HTTP_TOKEN like the consul CLI.
func New(client *api.Client, logger *slog.Logger) *Source {
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{client: client, log: logger}
}

// Watch implements discovery.Source: it reports the instances of
// up.Consul.Service that carry all of its tags, in its datacenter (the
// agent's by default), passing instances only unless PassingOnly is false.
func (s *Source) Watch(ctx context.Context, up model.Upstream, report func(discovery.Update)) error {
	spec := up.Consul
	if spec == nil || spec.Service == "" {
		return fmt.Errorf("upstream %q: no consul service to watch", up.Name)
	}
	passingOnly := spec.PassingOnly == nil || *spec.PassingOnly
	wait := s.WaitTime
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	retry := discovery.Retry{Min: s.RetryMin, Max: s.RetryMax}
	what := fmt.Sprintf("service %q", spec.Service)
	if spec.Datacenter != "" {
		what += fmt.Sprintf(" in datacenter %q", spec.Datacenter)
	}

	var index uint64
	for {
		q := (&api.QueryOptions{Datacenter: spec.Datacenter, WaitIndex: index, WaitTime: wait}).WithContext(ctx)
		entries, meta, err := s.client.Health().ServiceMultipleTags(spec.Service, spec.Tags, passingOnly, q)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// The manager logs the change to stale; this is per attempt.
			s.log.Debug("consul: health query failed", "upstream", up.Name, "service", spec.Service, "err", err)
			report(discovery.Update{Stale: true, Err: fmt.Errorf("consul health query for %s: %w", what, err)})
			// The agent may come back with a new Raft log (a restarted dev
			// agent does), whose index is below ours: start from scratch,
			// or the first query would block for the full wait time.
			index = 0
			if !retry.Wait(ctx) {
				return nil
			}
			continue
		}
		retry.Reset()
		// Consul's advice for blocking queries: an index that goes backwards
		// means a reset, and one that is 0 must not be waited on.
		if meta.LastIndex < index {
			index = 0
		} else {
			index = max(meta.LastIndex, 1)
		}
		report(discovery.Update{Endpoints: endpoints(entries)})
	}
}

// endpoints converts health entries. An instance without its own address
// is reached at its node's address, as Consul DNS does.
func endpoints(entries []*api.ServiceEntry) []discovery.Endpoint {
	eps := make([]discovery.Endpoint, 0, len(entries))
	for _, e := range entries {
		if e.Service == nil {
			continue
		}
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		status := e.Checks.AggregatedStatus()
		// Consul routes to warning instances with their warning weight; a
		// weight of 0 there takes them out, like critical.
		weight, healthy := 0, false
		switch status {
		case api.HealthPassing:
			weight, healthy = e.Service.Weights.Passing, true
		case api.HealthWarning:
			weight = e.Service.Weights.Warning
			healthy = weight > 0
		}
		if weight <= 0 {
			weight = 1
		}
		eps = append(eps, discovery.Endpoint{
			Address: addr,
			Port:    e.Service.Port,
			Weight:  weight,
			Healthy: healthy,
			Health:  consulHealth(status),
			Source:  discovery.SourceConsul,
		})
	}
	discovery.SortEndpoints(eps)
	return eps
}

var _ discovery.Source = (*Source)(nil)

// consulHealth is an endpoint's health from its checks' aggregated status:
// a warning is not healthy, though Consul may still route to it.
func consulHealth(status string) string {
	if status == api.HealthPassing {
		return discovery.HealthHealthy
	}
	return discovery.HealthUnhealthy
}
