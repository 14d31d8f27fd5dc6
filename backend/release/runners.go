package release

import (
	"context"
	"sync"

	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/translate"
)

// Start runs the service's event handlers until ctx is done and returns a
// function that waits for them to end:
//
//   - xds-published serves every version the store records that is not
//     served yet (a publish serves its own before it answers, so this
//     catches versions recorded by other paths);
//   - xds-endpoints rebuilds the load assignments of the upstreams whose
//     endpoints changed, for every gateway whose live version uses them,
//     and pushes them as EDS alone.
//
// The subscriptions are made before Start returns: no event announced
// after it is missed.
func (s *Service) Start(ctx context.Context, bus *events.Bus) (wait func()) {
	pubs := bus.Published.Subscribe()
	eps := bus.Endpoints.Subscribe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer pubs.Close()
		events.Run(ctx, s.opts.Events, s.log, "xds-published", pubs, s.onPublished)
	}()
	go func() {
		defer wg.Done()
		defer eps.Close()
		events.Run(ctx, s.opts.Events, s.log, "xds-endpoints", eps, s.onEndpoints)
	}()
	return wg.Wait
}

func (s *Service) onPublished(ctx context.Context, batch []events.Published, _ int) {
	// Only each gateway's newest version matters.
	latest := map[string]events.Published{}
	for _, ev := range batch {
		if cur, ok := latest[ev.Gateway]; !ok || ev.Version > cur.Version {
			latest[ev.Gateway] = ev
		}
	}
	for gateway, ev := range latest {
		r := s.runner(gateway)
		r.mu.Lock()
		if r.served == nil || r.served.Version < ev.Version {
			pub := store.Published{Gateway: ev.Gateway, Version: ev.Version, Workspace: ev.Workspace}
			res, err := s.translate(r, pub.Workspace, gateway)
			if err == nil {
				err = s.serveLocked(ctx, r, pub, res)
			}
			if err != nil {
				s.log.Error("serve published version", "gateway", gateway, "version", ev.Version, "err", err)
			}
		}
		r.mu.Unlock()
	}
}

// onEndpoints pushes new load assignments. lost > 0 means some changes
// were dropped: every live gateway gets its assignments rebuilt, which
// costs only those whose endpoints really moved.
func (s *Service) onEndpoints(ctx context.Context, batch []events.EndpointsChanged, lost int) {
	changed := map[string]bool{}
	for _, ev := range batch {
		changed[ev.Upstream] = true
	}
	s.mu.Lock()
	runners := make(map[string]*runner, len(s.runners))
	for name, r := range s.runners {
		runners[name] = r
	}
	s.mu.Unlock()
	for gateway, r := range runners {
		r.mu.Lock()
		if r.served != nil && (lost > 0 || uses(r.served.Workspace.Upstreams, changed)) {
			s.pushEndpointsLocked(ctx, r, gateway)
		}
		r.mu.Unlock()
	}
}

func (s *Service) pushEndpointsLocked(ctx context.Context, r *runner, gateway string) {
	clas, err := r.tr.LoadAssignments(r.served.Workspace.Upstreams, translate.Options{Endpoints: s.endpoints()})
	s.report(r)
	if err == nil {
		err = s.opts.ADS.SetEndpoints(ctx, gateway, clas)
	}
	if err != nil {
		s.log.Error("discovery: update gateway endpoints", "gateway", gateway, "err", err)
		return
	}
	s.log.Debug("discovery: endpoints pushed", "gateway", gateway)
}
