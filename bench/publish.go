package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/release"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/bench/adsbench"
	"github.com/routedeck/routedeck/bench/workload"
)

// benchPublish measures the publish path users run: the server routedeck
// serve builds (app.Service: store, API, release service, ADS), a gateway
// of sc.routes routes, publishes through POST /gateways/{name}/publish
// over loopback. It reports the first publish (a cold translation), a
// publish after a one-route edit, and with sc.memClients ADS clients
// connected the time from the publish request until every client ACKed
// the new route configuration (the clients run in a child process, as in
// the memory run).
func benchPublish(ctx context.Context, sc sizes) ([]Figure, error) {
	a, err := startAPIServer(ctx, sc.routes, sc.hosts, sc.upstreams)
	if err != nil {
		return nil, err
	}
	defer a.stop()
	svc, st := a.svc, a.svc.Store()
	publish := func() (int64, time.Duration, error) {
		v, unchanged, d, err := a.publish(ctx)
		if err == nil && unchanged {
			err = fmt.Errorf("publish: unchanged at version %d, want a new version", v)
		}
		return v, d, err
	}
	// served times a publish from its request until ADS serves the new
	// version, the figure the targets are about; the API answers just
	// after (the response time is reported beside it).
	served := func() (version int64, toServed, toResponse time.Duration, err error) {
		want := release.VersionLabel(svc.Release().Served(workload.Gateway) + 1)
		start := time.Now()
		type reply struct {
			v   int64
			err error
		}
		done := make(chan reply, 1)
		go func() {
			v, _, err := publish()
			done <- reply{v, err}
		}()
		for svc.ADS().Version(workload.Gateway) != want {
			select {
			case r := <-done:
				if r.err != nil {
					return 0, 0, 0, r.err
				}
				done <- r
			default:
			}
			time.Sleep(200 * time.Microsecond)
		}
		toServed = time.Since(start)
		r := <-done
		return r.v, toServed, time.Since(start), r.err
	}
	edit := func(i int) error {
		obj, err := st.Get(ctx, model.KindRoute, "route-00007")
		if err != nil {
			return err
		}
		r := obj.(*model.Route)
		r.When.All[1].Value = fmt.Sprintf("/edited/%d", i)
		return st.Update(ctx, "bench", r)
	}

	// CPU is the whole process's (the HTTP client and the polling
	// included) while publishes run: on a shared machine it says more
	// than the wall time.
	cpu0 := cpuTime()
	_, cold, coldResponse, err := served()
	if err != nil {
		return nil, err
	}
	coldCPU := cpuTime() - cpu0
	var editCPU time.Duration
	tr := svc.Translations()
	var editMs, editResponseMs []float64
	routesBefore := tr.Translations(release.KindRoute)
	for i := range sc.edits {
		if err := edit(i); err != nil {
			return nil, err
		}
		cpu0 := cpuTime()
		_, d, resp, err := served()
		if err != nil {
			return nil, err
		}
		editCPU += cpuTime() - cpu0
		editMs = append(editMs, ms(d))
		editResponseMs = append(editResponseMs, ms(resp))
	}
	routesPerEdit := (tr.Translations(release.KindRoute) - routesBefore) / float64(sc.edits)

	stopClients, err := adsbench.StartClients(ctx, svc.ADSAddr().String(), sc.memClients)
	if err != nil {
		return nil, err
	}
	defer stopClients()
	if err := waitAcked(ctx, svc.ADS(), resource.RouteType, sc.memClients, svc.ADS().TypeVersion(workload.Gateway, resource.RouteType)); err != nil {
		return nil, err
	}
	var ackMs []float64
	for i := range sc.edits {
		if err := edit(sc.edits + i); err != nil {
			return nil, err
		}
		start := time.Now()
		v, _, err := publish()
		if err != nil {
			return nil, err
		}
		if err := waitAcked(ctx, svc.ADS(), resource.RouteType, sc.memClients, release.VersionLabel(v)); err != nil {
			return nil, err
		}
		ackMs = append(ackMs, ms(time.Since(start)))
	}
	return []Figure{
		{
			Name:        "publish.cold",
			Description: fmt.Sprintf("first publish of a %d-route gateway through the API, request to snapshot served (cold translation)", sc.routes),
			Value:       ms(cold), Unit: "ms", Target: 250,
			Detail: map[string]any{"responseMs": ms(coldResponse), "cpuMs": ms(coldCPU)},
		},
		{
			Name:        "publish.edit",
			Description: fmt.Sprintf("publish through the API after a one-route edit of a %d-route gateway, request to snapshot served (median of %d)", sc.routes, sc.edits),
			Value:       median(editMs), Unit: "ms", Target: 20,
			Detail: map[string]any{"p99Ms": percentile(editMs, 0.99), "rulesTranslatedPerPublish": routesPerEdit, "responseMedianMs": median(editResponseMs),
				"cpuMsPerPublish": ms(editCPU) / float64(sc.edits)},
		},
		{
			Name: "publish.edit.acked",
			Description: fmt.Sprintf("one-route edit of a %d-route gateway: publish request until all %d ADS clients ACKed the new routes, p99 of %d edits",
				sc.routes, sc.memClients, sc.edits),
			Value: percentile(ackMs, 0.99), Unit: "ms", Target: 200,
			Detail: map[string]any{"medianMs": median(ackMs), "clientsInChildProcess": true},
		},
	}, nil
}

// benchEDS measures an endpoint change of one upstream: the release
// service's endpoint runner rebuilds that upstream's load assignment and
// pushes EDS alone, from the endpoints-changed event until every ADS
// client ACKed the new assignment. Discovery is stood in for by a map:
// what is timed starts where a Kubernetes or Consul watch's report lands.
func benchEDS(ctx context.Context, sc sizes) ([]Figure, error) {
	dir, err := os.MkdirTemp("", "routedeck-bench-eds-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := app.OpenStoreEnv(ctx, dir, func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ws := workload.Workspace(sc.routes, sc.hosts, sc.upstreams)
	ws.Upstreams[1].Static = nil
	ws.Upstreams[1].Kubernetes = &model.KubernetesSource{Namespace: "shop", Service: "web", Port: 80}
	if _, err := st.Apply(ctx, "bench", ws); err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	ads := xds.New(xds.Options{Logger: log})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); _ = ads.Serve(sctx, lis) }()
	wait := func() {}
	defer func() { stop(); wait(); <-served }()
	eps := &endpointMap{m: map[string][]model.Endpoint{"svc-0001": {{Address: "10.200.0.1", Port: 8080}}}}
	metrics := release.NewMetrics()
	rel := release.New(release.Options{Store: st, ADS: ads, Endpoints: eps, Logger: log, Metrics: metrics})
	wait = rel.Start(sctx, st.Events())
	if _, err := rel.Publish(ctx, "bench", workload.Gateway, release.Overrides{}); err != nil {
		return nil, err
	}
	clientProfile := ""
	if sc.timedProfile != "" {
		clientProfile = sc.timedProfile + ".clients"
	}
	clients, err := adsbench.StartClientProcessProfiled(ctx, lis.Addr().String(), sc.memClients, clientProfile)
	if err != nil {
		return nil, err
	}
	defer clients.Stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-clients.Exited():
			cancel(errors.New("client process ended"))
		case <-ctx.Done():
		}
	}()
	if err := waitAcked(ctx, ads, resource.EndpointType, sc.memClients, ads.TypeVersion(workload.Gateway, resource.EndpointType)); err != nil {
		return nil, err
	}
	routes, gateways := metrics.Translations(release.KindRoute), metrics.Translations(release.KindGateway)
	var lat []float64
	if sc.timedProfile != "" {
		stop, err := startProfile(sc.timedProfile)
		if err != nil {
			return nil, err
		}
		defer stop()
		if err := clients.StartProfile(); err != nil {
			return nil, err
		}
		defer clients.StopProfile()
	}
	serverCPU0, _ := adsbench.CPUSeconds()
	clientCPU0, _ := clients.CPUSeconds()
	for i := range sc.edits {
		before := ads.TypeVersion(workload.Gateway, resource.EndpointType)
		eps.set("svc-0001", []model.Endpoint{{Address: "10.200.0.1", Port: 8080}, {Address: fmt.Sprintf("10.201.%d.%d", i/250, i%250), Port: 8080}})
		start := time.Now()
		st.Events().Endpoints.Publish(events.EndpointsChanged{Upstream: "svc-0001"})
		var v string
		for v = before; v == before; v = ads.TypeVersion(workload.Gateway, resource.EndpointType) {
			time.Sleep(50 * time.Microsecond)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		if err := waitAcked(ctx, ads, resource.EndpointType, sc.memClients, v); err != nil {
			return nil, err
		}
		lat = append(lat, ms(time.Since(start)))
	}
	serverCPU, _ := adsbench.CPUSeconds()
	clientCPU, _ := clients.CPUSeconds()
	return []Figure{{
		Name: "eds.change.acked",
		Description: fmt.Sprintf("endpoint change of one upstream of a %d-route gateway: endpoints-changed event until all %d ADS clients ACKed the new EDS, p99 of %d changes",
			sc.routes, sc.memClients, sc.edits),
		Value: percentile(lat, 0.99), Unit: "ms", Target: 50,
		Detail: map[string]any{
			"medianMs":                 median(lat),
			"rulesTranslated":          metrics.Translations(release.KindRoute) - routes,
			"gatewayTranslations":      metrics.Translations(release.KindGateway) - gateways,
			"loadAssignmentsPerChange": metrics.Translations(release.KindLoadAssignment) / float64(sc.edits+1),
			"clientsInChildProcess":    true,
			// CPU time is what a busy machine does not distort.
			"serverCpuMsPerChange": round((serverCPU-serverCPU0)*1000/float64(sc.edits), 1),
			"clientCpuMsPerChange": round((clientCPU-clientCPU0)*1000/float64(sc.edits), 1),
		},
	}}, nil
}

// startProfile starts a CPU profile of this process to path.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-timedprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// endpointMap stands in for discovery's endpoint lists.
type endpointMap struct {
	mu sync.Mutex
	m  map[string][]model.Endpoint
}

func (e *endpointMap) RoutableAll() map[string][]model.Endpoint {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string][]model.Endpoint, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}

func (e *endpointMap) set(upstream string, eps []model.Endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[upstream] = eps
}

// percentile of a copy of xs (nearest rank).
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}
