package app

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/routedeck/routedeck/backend/discovery"
	consuldisc "github.com/routedeck/routedeck/backend/discovery/consul"
	kubedisc "github.com/routedeck/routedeck/backend/discovery/kubernetes"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/targets"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
)

// syncInterval is how often the feed compares the upstreams in use with the
// ones it watches. Reading the draft is a cached, in-memory operation, and a
// publish does not wait for it: it kicks the loop at once.
const syncInterval = 250 * time.Millisecond

// endpointFeed runs discovery for the draft's and the published versions'
// upstreams and turns endpoint changes into EDS-only updates of every
// gateway whose published configuration uses the upstream.
type endpointFeed struct {
	store   *store.Store
	ads     *xds.Server
	targets *targets.Service
	log     *slog.Logger

	// mu orders snapshot writes: a publish and an endpoint change both
	// translate with the endpoints known at that moment, so whichever
	// writes last carries the newest endpoints.
	mu     sync.Mutex
	served map[string]store.Published // gateway -> version on ADS
	// priming are versions about to be served at start-up, whose
	// upstreams are watched before they are.
	priming []store.Published
	// known is the last routable endpoint list of each discovered
	// upstream. It outlives a manager restart (after a targets change),
	// so gateways keep their endpoints while the new watches start.
	known map[string][]model.Endpoint

	// mgr is read without locks: the manager's callback runs while Sync
	// or Close waits for it, so it must not wait for mgrMu.
	mgr atomic.Pointer[discovery.Manager]
	// mgrMu serialises sync's restarts and Sync calls.
	mgrMu      sync.Mutex
	generation uint64 // of the targets the manager's sources were built from
	upstreams  [32]byte

	kick chan struct{}
	stop context.CancelFunc
	done chan struct{}
}

func newEndpointFeed(st *store.Store, ads *xds.Server, tg *targets.Service, log *slog.Logger) *endpointFeed {
	return &endpointFeed{store: st, ads: ads, targets: tg, log: log,
		served: map[string]store.Published{}, known: map[string][]model.Endpoint{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// start builds the manager and keeps it in step with the store until close.
func (f *endpointFeed) start() {
	f.mgr.Store(f.newManager(context.Background()))
	f.generation = f.targets.Generation()
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	f.sync(ctx)
	go func() {
		defer close(f.done)
		t := time.NewTicker(syncInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-f.kick:
			}
			f.sync(ctx)
		}
	}()
}

func (f *endpointFeed) close() {
	if f.stop == nil {
		return
	}
	f.stop()
	<-f.done
	f.mgrMu.Lock()
	f.mgr.Load().Close()
	f.mgrMu.Unlock()
}

// changed asks for a sync now (after a publish or a settings change).
func (f *endpointFeed) changed() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// newManager builds a manager whose Kubernetes and Consul sources use the
// current targets.
func (f *endpointFeed) newManager(ctx context.Context) *discovery.Manager {
	sources := map[string]discovery.Source{}
	clients := func(kubeContext string) (k8s.Interface, error) {
		return f.targets.Kubernetes(context.Background(), kubeContext)
	}
	sources[discovery.SourceKubernetes] = kubedisc.New(clients, f.log)
	if c, err := f.targets.Consul(ctx); err != nil {
		f.log.Warn("discovery: no consul client, consul upstreams are not watched", "err", err)
	} else {
		src := consuldisc.New(c, f.log)
		// Wake up often enough that a dead agent is noticed in a few
		// seconds, not after the default five-minute blocking query.
		src.WaitTime = 30 * time.Second
		src.RetryMax = 2 * time.Second
		sources[discovery.SourceConsul] = src
	}
	return discovery.NewManager(sources, f.onChange, f.log)
}

// sync restarts the manager when the targets changed and makes it watch
// the upstreams now in use.
func (f *endpointFeed) sync(ctx context.Context) {
	ups, err := f.upstreamsInUse(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("discovery: read upstreams", "err", err)
		}
		return
	}
	raw, _ := json.Marshal(ups) // plain model structs: cannot fail
	sum := sha256.Sum256(raw)
	f.mgrMu.Lock()
	defer f.mgrMu.Unlock()
	if gen := f.targets.Generation(); gen != f.generation {
		f.log.Info("discovery: targets changed, restarting watches")
		f.mgr.Load().Close()
		f.mgr.Store(f.newManager(ctx))
		f.generation = gen
		f.upstreams = [32]byte{}
	}
	if sum == f.upstreams {
		return
	}
	f.upstreams = sum
	f.mgr.Load().Sync(ups)
}

// upstreamsInUse are the draft's upstreams plus those of every published
// version on ADS. When both define an upstream differently the published
// one wins: live proxies depend on it, and the draft's turn comes when it
// is published.
func (f *endpointFeed) upstreamsInUse(ctx context.Context) ([]model.Upstream, error) {
	byName := map[string]model.Upstream{}
	ws, err := f.store.Workspace(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range ws.Upstreams {
		byName[u.Name] = u
	}
	f.mu.Lock()
	for _, pub := range f.priming {
		for _, u := range pub.Workspace.Upstreams {
			byName[u.Name] = u
		}
	}
	for _, pub := range f.served {
		for _, u := range pub.Workspace.Upstreams {
			byName[u.Name] = u
		}
	}
	f.mu.Unlock()
	out := make([]model.Upstream, 0, len(byName))
	for _, u := range byName {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b model.Upstream) int { return compareNames(a.Name, b.Name) })
	return out, nil
}

func compareNames(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// prime watches the upstreams of pubs and waits, at most wait, until each
// Kubernetes and Consul one has reported (endpoints, or that its source is
// unreachable). Serving a restored version before that would hand its
// proxies empty load assignments: after a restart of routedeck, Envoys
// would drop every discovered endpoint until discovery caught up.
func (f *endpointFeed) prime(ctx context.Context, pubs []store.Published, wait time.Duration) {
	f.mu.Lock()
	f.priming = pubs
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.priming = nil
		f.mu.Unlock()
	}()
	f.sync(ctx)
	var pending []string
	for _, pub := range pubs {
		for _, u := range pub.Workspace.Upstreams {
			if u.Kubernetes != nil || u.Consul != nil {
				pending = append(pending, u.Name)
			}
		}
	}
	deadline := time.Now().Add(wait)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		pending = slices.DeleteFunc(pending, func(name string) bool {
			st, ok := f.Status(name)
			return ok && st.Reported
		})
		if len(pending) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(pending) > 0 {
		f.log.Warn("discovery: serving restored gateways before these upstreams reported", "upstreams", pending)
	}
}

// routableLocked is the discovered endpoints to translate with: the
// manager's Routable over the last known lists. Callers hold f.mu.
func (f *endpointFeed) routableLocked() map[string][]model.Endpoint {
	out := make(map[string][]model.Endpoint, len(f.known))
	for name, eps := range f.known {
		out[name] = eps
	}
	if m := f.mgr.Load(); m != nil {
		for name, eps := range m.Routable() {
			out[name] = eps
		}
	}
	return out
}

// Routable is the endpoints discovery reports now for a discovered
// upstream; the sandbox starts one mock per endpoint.
func (f *endpointFeed) Routable(upstream string) ([]model.Endpoint, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	eps, ok := f.routableLocked()[upstream]
	return eps, ok
}

// Status reports what discovery knows about an upstream (the API's
// GET /upstreams/{name}/endpoints).
func (f *endpointFeed) Status(upstream string) (discovery.Status, bool) {
	m := f.mgr.Load()
	if m == nil {
		return discovery.Status{}, false
	}
	return m.Status(upstream)
}

// translateLocked translates gateway of ws with the discovered endpoints
// known now, as its proxies get it. Callers hold f.mu.
func (f *endpointFeed) translateLocked(ws model.Workspace, gateway string) (*translate.Resources, error) {
	return translate.Gateway(ws, gateway, translate.Options{Endpoints: f.routableLocked()})
}

// TranslateGateway translates gateway of ws exactly as serve would hand it
// to the proxies, discovered endpoints included (the API's Envoy export).
// Upstreams discovery does not watch (those only an old, unserved version
// uses) get empty load assignments, as they would if that version were
// served before discovery reported.
func (f *endpointFeed) TranslateGateway(ws model.Workspace, gateway string) (*translate.Resources, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.translateLocked(ws, gateway)
}

// serve translates pub with the current endpoints and makes it the
// gateway's snapshot.
func (f *endpointFeed) serve(ctx context.Context, pub store.Published) (*translate.Resources, error) {
	f.mu.Lock()
	res, err := f.translateLocked(pub.Workspace, pub.Gateway)
	if err == nil {
		err = f.ads.SetGateway(ctx, pub.Gateway, res, versionLabel(pub.Version))
	}
	if err == nil {
		f.served[pub.Gateway] = pub
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f.changed()
	return res, nil
}

// onChange is the manager's callback: every gateway on ADS that uses the
// upstream gets its endpoints again, EDS only.
func (f *endpointFeed) onChange(upstream string, eps []discovery.Endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case eps == nil:
		delete(f.known, upstream)
	case len(eps) > 0 && eps[0].Source == discovery.SourceDNS:
		// Envoy resolves DNS upstreams itself; see Manager.Routable.
	default:
		f.known[upstream] = discovery.Routable(eps)
	}
	ctx := context.Background()
	for gateway, pub := range f.served {
		if !slices.ContainsFunc(pub.Workspace.Upstreams, func(u model.Upstream) bool { return u.Name == upstream }) {
			continue
		}
		res, err := f.translateLocked(pub.Workspace, gateway)
		if err == nil {
			err = f.ads.SetEndpoints(ctx, gateway, res.Endpoints)
		}
		if err != nil {
			f.log.Error("discovery: update gateway endpoints", "gateway", gateway, "upstream", upstream, "err", err)
			continue
		}
		f.log.Debug("discovery: endpoints pushed", "gateway", gateway, "upstream", upstream)
	}
}

// Describe and Collect make the feed a Prometheus collector for the
// current manager's metrics, which outlive a manager restart this way.
func (f *endpointFeed) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range f.mgr.Load().Collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (f *endpointFeed) Collect(ch chan<- prometheus.Metric) {
	for _, c := range f.mgr.Load().Collectors() {
		c.Collect(ch)
	}
}
