package release_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/release"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/backend/xds/xdsload"
	"github.com/routedeck/routedeck/bench/workload"
)

// discovered stands in for discovery: endpoints by upstream name.
type discovered struct {
	mu  sync.Mutex
	eps map[string][]model.Endpoint
}

func (d *discovered) RoutableAll() map[string][]model.Endpoint {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string][]model.Endpoint, len(d.eps))
	for k, v := range d.eps {
		out[k] = v
	}
	return out
}

func (d *discovered) set(upstream string, eps ...model.Endpoint) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.eps[upstream] = eps
}

type fixture struct {
	store   *store.Store
	ads     *xds.Server
	addr    string
	svc     *release.Service
	metrics *release.Metrics
	eps     *discovered
}

// newFixture serves ADS on a loopback port and a release service over a
// store holding a 200-route gateway whose upstream svc-0001 is a
// Kubernetes service (its endpoints come from discovery).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOf(t, workload.Workspace(200, 20, 10))
}

// newFixtureOf is newFixture over ws, whose second upstream becomes the
// Kubernetes service.
func newFixtureOf(t testing.TB, ws model.Workspace) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{store: storetest.MustOpen(t), ads: xds.New(xds.Options{Logger: log}), metrics: release.NewMetrics(),
		eps: &discovered{eps: map[string][]model.Endpoint{"svc-0001": {{Address: "10.9.0.1", Port: 8080}}}}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = lis.Addr().String()
	served := make(chan struct{})
	go func() { defer close(served); _ = f.ads.Serve(ctx, lis) }()
	ws.Upstreams[1].Static = nil
	ws.Upstreams[1].Kubernetes = &model.KubernetesSource{Namespace: "shop", Service: "web", Port: 80}
	if _, err := f.store.Apply(ctx, "test", ws); err != nil {
		t.Fatal(err)
	}
	f.svc = release.New(release.Options{Store: f.store, ADS: f.ads, Endpoints: f.eps, Logger: log, Metrics: f.metrics})
	wait := f.svc.Start(ctx, f.store.Events())
	t.Cleanup(func() { cancel(); wait(); <-served })
	return f
}

func (f *fixture) counts() map[string]float64 {
	out := map[string]float64{}
	for _, k := range []string{release.KindGateway, release.KindRoute, release.KindCluster, release.KindLoadAssignment} {
		out[k] = f.metrics.Translations(k)
	}
	return out
}

func (f *fixture) editRoute(t testing.TB, name, path string) {
	t.Helper()
	obj, err := f.store.Get(t.Context(), model.KindRoute, name)
	if err != nil {
		t.Fatal(err)
	}
	r := obj.(*model.Route)
	r.When.All[1].Value = path
	if err := f.store.Update(t.Context(), "test", r); err != nil {
		t.Fatal(err)
	}
}

// TestOneTranslationPerPublish: a publish translates once and serves that
// translation; after a one-rule edit it translates that one rule; an
// unchanged draft records nothing.
func TestOneTranslationPerPublish(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	res, err := f.svc.Publish(ctx, "alice", workload.Gateway, release.Overrides{})
	if err != nil || res.Version != 1 || res.Unchanged {
		t.Fatalf("first publish: %+v, %v", res, err)
	}
	if got := f.counts(); got[release.KindGateway] != 1 || got[release.KindRoute] != 200 {
		t.Fatalf("first publish did %v, want 1 gateway translation of 200 rules", got)
	}
	if v := f.ads.Version(workload.Gateway); v != "1" {
		t.Fatalf("ADS serves version %q, want 1", v)
	}

	f.editRoute(t, "route-00007", "/edited")
	before := f.counts()
	res, err = f.svc.Publish(ctx, "alice", workload.Gateway, release.Overrides{})
	if err != nil || res.Version != 2 {
		t.Fatalf("second publish: %+v, %v", res, err)
	}
	got := f.counts()
	if got[release.KindGateway]-before[release.KindGateway] != 1 || got[release.KindRoute]-before[release.KindRoute] != 1 ||
		got[release.KindCluster] != before[release.KindCluster] {
		t.Fatalf("publish after a one-rule edit: %v -> %v, want one translation of one rule and no cluster", before, got)
	}

	before = got
	res, err = f.svc.Publish(ctx, "alice", workload.Gateway, release.Overrides{})
	if err != nil || res.Version != 2 || !res.Unchanged {
		t.Fatalf("publish of an unchanged draft: %+v, %v; want version 2 unchanged", res, err)
	}
	if list, _ := f.store.ListPublished(ctx, workload.Gateway); len(list) != 2 {
		t.Fatalf("%d versions recorded, want 2", len(list))
	}
	if got := f.counts(); got[release.KindRoute] != before[release.KindRoute] {
		t.Fatalf("unchanged publish translated rules: %v -> %v", before, got)
	}
	if v := f.ads.Version(workload.Gateway); v != "2" {
		t.Fatalf("ADS serves version %q, want 2", v)
	}
}

// TestEndpointChangeIsEDSOnly: one upstream's endpoints change; connected
// ADS clients get a new EDS version while every other type keeps the
// published version, and no rule is translated.
func TestEndpointChangeIsEDSOnly(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := f.svc.Publish(ctx, "alice", workload.Gateway, release.Overrides{}); err != nil {
		t.Fatal(err)
	}
	fleet, err := xdsload.Start(ctx, f.addr, workload.Gateway, "proxy", 5)
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Stop()
	if err := fleet.WaitAll(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	edsBefore := f.ads.TypeVersion(workload.Gateway, resource.EndpointType)
	before := f.counts()

	f.eps.set("svc-0001", model.Endpoint{Address: "10.9.0.1", Port: 8080}, model.Endpoint{Address: "10.9.0.2", Port: 8080})
	f.store.Events().Endpoints.Publish(events.EndpointsChanged{Upstream: "svc-0001"})
	var eds string
	for eds = f.ads.TypeVersion(workload.Gateway, resource.EndpointType); eds == edsBefore; eds = f.ads.TypeVersion(workload.Gateway, resource.EndpointType) {
		select {
		case <-ctx.Done():
			t.Fatalf("EDS still at %q: %v", eds, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	if err := fleet.Wait(ctx, resource.EndpointType, eds); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{resource.ListenerType, resource.RouteType, resource.ClusterType} {
		if v := f.ads.TypeVersion(workload.Gateway, typ); v != "1" {
			t.Errorf("%s at version %q after an endpoint change, want the published 1", typ, v)
		}
	}
	got := f.counts()
	if got[release.KindRoute] != before[release.KindRoute] || got[release.KindGateway] != before[release.KindGateway] ||
		got[release.KindCluster] != before[release.KindCluster] {
		t.Fatalf("endpoint change translated: %v -> %v, want no gateway, rule or cluster", before, got)
	}
	if got[release.KindLoadAssignment]-before[release.KindLoadAssignment] != 1 {
		t.Fatalf("endpoint change rebuilt %v load assignments, want 1", got[release.KindLoadAssignment]-before[release.KindLoadAssignment])
	}

	// An upstream no live version uses changes nothing.
	f.store.Events().Endpoints.Publish(events.EndpointsChanged{Upstream: "elsewhere"})
	f.eps.set("svc-0001", model.Endpoint{Address: "10.9.0.3", Port: 8080})
	f.store.Events().Endpoints.Publish(events.EndpointsChanged{Upstream: "svc-0001"})
	for f.ads.TypeVersion(workload.Gateway, resource.EndpointType) == eds {
		select {
		case <-ctx.Done():
			t.Fatalf("second endpoint change never served: %v", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	if n := f.metrics.Translations(release.KindLoadAssignment) - got[release.KindLoadAssignment]; n != 1 {
		t.Fatalf("second change rebuilt %v load assignments, want 1", n)
	}
}

// TestVersionsRecordedElsewhereAreServed: a rollback through the store
// alone is announced, and the gateway's runner serves it.
func TestVersionsRecordedElsewhereAreServed(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := f.svc.Publish(ctx, "alice", workload.Gateway, release.Overrides{}); err != nil {
		t.Fatal(err)
	}
	pub, err := f.store.Rollback(ctx, "bob", workload.Gateway, 1)
	if err != nil {
		t.Fatal(err)
	}
	for f.svc.Served(workload.Gateway) != pub.Version {
		select {
		case <-ctx.Done():
			t.Fatalf("version %d never served: %v", pub.Version, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	if v := f.ads.Version(workload.Gateway); v != "2" {
		t.Fatalf("ADS serves %q, want 2", v)
	}
}

// TestConcurrentPublishesMerge: publishes asked for while one runs are
// merged into one next round, which publishes the draft holding all their
// changes and answers each caller with that version; the audit log names
// every caller. A publish with an override is a round of its own.
func TestConcurrentPublishesMerge(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	entered, release1 := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.svc = release.New(release.Options{Store: f.store, ADS: f.ads, Logger: slog.New(slog.DiscardHandler), Metrics: f.metrics,
		Published: func(context.Context, string, store.Published) {
			// The first round holds here, after its version is live,
			// until the others have queued behind it.
			once.Do(func() { close(entered); <-release1 })
		}})
	type answer struct {
		res release.Result
		err error
	}
	publish := func(actor string, o release.Overrides) chan answer {
		ch := make(chan answer, 1)
		go func() {
			res, err := f.svc.Publish(ctx, actor, workload.Gateway, o)
			ch <- answer{res, err}
		}()
		return ch
	}
	f.editRoute(t, "route-00001", "/first")
	first := publish("alice", release.Overrides{})
	<-entered
	var merged []chan answer
	for i, actor := range []string{"bob", "carol", "carol"} {
		f.editRoute(t, fmt.Sprintf("route-0001%d", i), fmt.Sprintf("/merged/%d", i))
		merged = append(merged, publish(actor, release.Overrides{}))
	}
	forced := publish("admin", release.Overrides{Tests: true})
	for {
		if rounds, callers := f.svc.RoundsWaitingForTest(workload.Gateway); rounds == 2 && callers == 4 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	close(release1)
	if a := <-first; a.err != nil || a.res != (release.Result{Version: 1}) {
		t.Fatalf("first publish: %+v, %v", a.res, a.err)
	}
	for i, ch := range merged {
		if a := <-ch; a.err != nil || a.res != (release.Result{Version: 2}) {
			t.Fatalf("merged publish %d: %+v, %v; want version 2", i, a.res, a.err)
		}
	}
	if a := <-forced; a.err != nil || a.res != (release.Result{Version: 2, Unchanged: true}) {
		t.Fatalf("forced publish after the merged round: %+v, %v; want version 2 unchanged", a.res, a.err)
	}
	list, err := f.store.ListPublished(ctx, workload.Gateway)
	if err != nil || len(list) != 2 {
		t.Fatalf("versions: %+v, %v; want 2", list, err)
	}
	if list[0].Actor != "bob" || list[0].Note != "also published for carol" {
		t.Errorf("version 2 by %q with note %q, want bob, also published for carol", list[0].Actor, list[0].Note)
	}
	v2, err := f.store.GetPublished(ctx, workload.Gateway, 2)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, r := range v2.Workspace.Routes {
		paths[r.Name] = r.When.All[1].Value
	}
	for i := range 3 {
		if got, want := paths[fmt.Sprintf("route-0001%d", i)], fmt.Sprintf("/merged/%d", i); got != want {
			t.Errorf("version 2 has route-0001%d at %q, want %q", i, got, want)
		}
	}
	if v := f.ads.Version(workload.Gateway); v != "2" {
		t.Errorf("ADS serves %q, want 2", v)
	}
	entries, err := f.store.ListAudit(ctx, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	who := map[string]bool{}
	for _, e := range entries {
		if e.Action == "gateway.publish" && strings.HasPrefix(e.Detail, "version 2") {
			who[e.Actor] = true
		}
	}
	if !who["bob"] || !who["carol"] {
		t.Errorf("version 2 audited for %v, want bob and carol", who)
	}
}
