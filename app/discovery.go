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
	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/targets"
	"github.com/routedeck/routedeck/backend/translate"
)

// endpointFeed runs discovery for the draft's and the published versions'
// upstreams and announces endpoint changes on the events bus, where each
// gateway's xDS runner turns them into EDS-only updates. It follows the
// store's events: a draft write or a published version may change the
// upstreams to watch, a saved targets setting restarts the watches with
// new clients.
type endpointFeed struct {
	store   *store.Store
	targets *targets.Service
	log     *slog.Logger
	bus     *events.Bus

	mu     sync.Mutex
	served map[string]store.Published // gateway -> latest version recorded
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
	mgrMu     sync.Mutex
	upstreams [32]byte

	stop context.CancelFunc
	wg   sync.WaitGroup
}

func newEndpointFeed(st *store.Store, tg *targets.Service, log *slog.Logger) *endpointFeed {
	return &endpointFeed{store: st, targets: tg, log: log, bus: st.Events(),
		served: map[string]store.Published{}, known: map[string][]model.Endpoint{}}
}

// start builds the manager and keeps it in step with the store's events
// until close. The subscriptions are made before the first sync, so no
// change committed after start is missed.
func (f *endpointFeed) start(m *events.Metrics) {
	f.mgr.Store(f.newManager(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	draft, pubs, settings := f.bus.Draft.Subscribe(), f.bus.Published.Subscribe(), f.bus.Settings.Subscribe()
	f.sync(ctx, false)
	f.wg.Add(3)
	go func() {
		defer f.wg.Done()
		defer draft.Close()
		events.Run(ctx, m, f.log, "discovery-draft", draft, func(ctx context.Context, batch []events.DraftChanged, lost int) {
			// Every upstream of the draft is watched, so only upstream
			// writes change what to watch; route edits do not.
			if lost > 0 || slices.ContainsFunc(batch, changesUpstreams) {
				f.sync(ctx, false)
			}
		})
	}()
	go func() {
		defer f.wg.Done()
		defer pubs.Close()
		events.Run(ctx, m, f.log, "discovery-published", pubs, func(ctx context.Context, batch []events.Published, _ int) {
			f.mu.Lock()
			for _, ev := range batch {
				if cur, ok := f.served[ev.Gateway]; !ok || ev.Version > cur.Version {
					f.served[ev.Gateway] = store.Published{Gateway: ev.Gateway, Version: ev.Version, Workspace: ev.Workspace}
				}
			}
			f.mu.Unlock()
			f.sync(ctx, false)
		})
	}()
	go func() {
		defer f.wg.Done()
		defer settings.Close()
		events.Run(ctx, m, f.log, "discovery-settings", settings, func(ctx context.Context, batch []events.SettingChanged, lost int) {
			if lost > 0 || slices.ContainsFunc(batch, func(e events.SettingChanged) bool { return e.Key == targets.SettingKey }) {
				f.sync(ctx, true)
			}
		})
	}()
}

func changesUpstreams(e events.DraftChanged) bool {
	isUpstream := func(obj model.Object) bool { return obj.Kind() == model.KindUpstream }
	return slices.ContainsFunc(e.Changed, isUpstream) || slices.ContainsFunc(e.Deleted, isUpstream)
}

func (f *endpointFeed) close() {
	if f.stop == nil {
		return
	}
	f.stop()
	f.wg.Wait()
	f.mgrMu.Lock()
	f.mgr.Load().Close()
	f.mgrMu.Unlock()
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

// sync makes the manager watch the upstreams now in use; with restart
// (the targets changed) it first replaces the manager with one whose
// sources use the new clients.
func (f *endpointFeed) sync(ctx context.Context, restart bool) {
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
	if restart {
		f.log.Info("discovery: targets changed, restarting watches")
		f.mgr.Load().Close()
		f.mgr.Store(f.newManager(ctx))
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
	draft, err := f.store.DraftUpstreams(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range draft {
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
	f.sync(ctx, false)
	var pending []string
	for _, pub := range pubs {
		for _, u := range pub.Workspace.Upstreams {
			if u.Kubernetes != nil || u.Consul != nil {
				pending = append(pending, u.Name)
			}
		}
	}
	// A bounded wait at start-up only, checked every 20 ms: discovery
	// reports per upstream through the manager's status, which announces
	// no event of its own for "reported, with no endpoints".
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

// RoutableAll is the endpoints of every discovered upstream now, what the
// gateways' xDS runners translate with.
func (f *endpointFeed) RoutableAll() map[string][]model.Endpoint {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.routableLocked()
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

// TranslateGateway translates gateway of ws exactly as its proxies would
// get it, discovered endpoints included (the API's Envoy export).
// Upstreams discovery does not watch (those only an old, unserved version
// uses) get empty load assignments, as they would if that version were
// served before discovery reported.
func (f *endpointFeed) TranslateGateway(ws model.Workspace, gateway string) (*translate.Resources, error) {
	return translate.Gateway(ws, gateway, translate.Options{Endpoints: f.RoutableAll()})
}

// onChange is the manager's callback: it keeps the upstream's last known
// endpoints and announces the change; the xDS runners push EDS.
func (f *endpointFeed) onChange(upstream string, eps []discovery.Endpoint) {
	f.mu.Lock()
	switch {
	case eps == nil:
		delete(f.known, upstream)
	case len(eps) > 0 && eps[0].Source == discovery.SourceDNS:
		// Envoy resolves DNS upstreams itself; see Manager.Routable.
		f.mu.Unlock()
		return
	default:
		f.known[upstream] = discovery.Routable(eps)
	}
	ev := events.EndpointsChanged{Upstream: upstream, Endpoints: f.known[upstream]}
	f.mu.Unlock()
	f.bus.Endpoints.Publish(ev)
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
