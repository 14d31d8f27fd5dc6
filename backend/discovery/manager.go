package discovery

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/routedeck/routedeck/backend/model"
)

// Status is what the manager knows about one upstream's endpoints.
type Status struct {
	Upstream  string     `json:"upstream"`
	Source    string     `json:"source"`
	Endpoints []Endpoint `json:"endpoints"`
	// Stale: the source is unreachable and Endpoints are the last known.
	Stale bool `json:"stale"`
	// Error is the last problem the source reported, if any.
	Error string `json:"error,omitempty"`
	// Reported is false until the source's first report; before that
	// Endpoints is empty because nothing is known, not because there are none.
	Reported bool `json:"reported"`
}

// Manager keeps one watch per upstream and the endpoints each last
// reported. It is safe for concurrent use.
type Manager struct {
	sources  map[string]Source
	onChange func(upstream string, eps []Endpoint)
	log      *slog.Logger

	// syncMu makes Sync calls take turns: each one's stop-then-start
	// sequence must not interleave with another's.
	syncMu  sync.Mutex
	mu      sync.Mutex
	watches map[string]*watch
	closed  bool
	wg      sync.WaitGroup

	changes *prometheus.CounterVec // endpoint lists delivered to onChange, by source
}

type watch struct {
	// key identifies the source settings this watch runs with; a changed
	// key restarts the watch.
	key    string
	cancel context.CancelFunc
	// deliver serialises this watch's calls to onChange, so the callback
	// sees its updates in the order they were recorded.
	deliver sync.Mutex

	// Guarded by Manager.mu.
	removed bool
	status  Status
}

// NewManager returns a manager that watches upstreams with sources, keyed
// by Source* kind; the static source is added when missing. Upstreams of a
// kind without a source are not watched (pass DNS{} to show what DNS
// upstreams resolve to).
//
// onChange, if not nil, is called with an upstream's complete endpoint list
// each time it changes (content or stale flag), and with nil when the
// upstream is no longer watched. Calls for one upstream never overlap;
// onChange must not call Sync or Close.
func NewManager(sources map[string]Source, onChange func(upstream string, eps []Endpoint), logger *slog.Logger) *Manager {
	all := map[string]Source{SourceStatic: Static{}}
	for kind, s := range sources {
		all[kind] = s
	}
	if onChange == nil {
		onChange = func(string, []Endpoint) {}
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Manager{
		sources: all, onChange: onChange, log: logger, watches: map[string]*watch{},
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "routedeck_discovery_changes_total",
			Help: "Endpoint list changes delivered, by source.",
		}, []string{"source"}),
	}
}

// Sync makes the set of watches match ups: it starts watches for new
// upstreams, restarts those whose source settings changed, and stops those
// no longer listed. Unchanged upstreams keep their watch and endpoints.
func (m *Manager) Sync(ups []model.Upstream) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	var starts []*watch
	var stopped []*watch
	var gone []string

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	seen := map[string]bool{}
	for _, up := range ups {
		kind := SourceOf(up)
		if _, ok := m.sources[kind]; !ok {
			continue
		}
		seen[up.Name] = true
		key := watchKey(kind, up)
		if old, ok := m.watches[up.Name]; ok {
			if old.key == key {
				continue
			}
			old.removed = true
			stopped = append(stopped, old)
		}
		ctx, cancel := context.WithCancel(context.Background())
		w := &watch{key: key, cancel: cancel, status: Status{Upstream: up.Name, Source: kind}}
		// Hold the new watch's delivery until the watch it replaces is
		// quiet, so the old one cannot report after the new one.
		w.deliver.Lock()
		m.watches[up.Name] = w
		starts = append(starts, w)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.run(ctx, kind, up, w)
		}()
	}
	for name, w := range m.watches {
		if !seen[name] {
			w.removed = true
			stopped = append(stopped, w)
			delete(m.watches, name)
			if w.status.Reported {
				gone = append(gone, name)
			}
		}
	}
	m.mu.Unlock()

	for _, w := range stopped {
		w.cancel()
		// A report already past the removed check finishes its callback
		// before this returns; later ones are dropped.
		w.deliver.Lock()
		w.deliver.Unlock()
	}
	for _, name := range gone {
		m.onChange(name, nil)
	}
	for _, w := range starts {
		w.deliver.Unlock()
	}
}

// watchKey captures everything about up that its source watch depends on.
func watchKey(kind string, up model.Upstream) string {
	var spec any
	switch kind {
	case SourceStatic:
		spec = up.Static
	case SourceDNS:
		spec = up.DNS
	case SourceKubernetes:
		spec = up.Kubernetes
	case SourceConsul:
		spec = up.Consul
	}
	b, _ := json.Marshal(spec) // plain structs of strings and numbers: cannot fail
	return kind + ":" + string(b)
}

func (m *Manager) run(ctx context.Context, kind string, up model.Upstream, w *watch) {
	err := m.sources[kind].Watch(ctx, up, func(u Update) { m.record(w, u) })
	if err != nil && ctx.Err() == nil {
		m.log.Error("discovery: cannot watch upstream", "upstream", up.Name, "source", kind, "err", err)
		m.mu.Lock()
		w.status.Error = err.Error()
		m.mu.Unlock()
	}
}

// record applies one report to the watch's state and tells onChange when
// the endpoint list changed.
func (m *Manager) record(w *watch, u Update) {
	w.deliver.Lock()
	defer w.deliver.Unlock()

	m.mu.Lock()
	if w.removed {
		m.mu.Unlock()
		return
	}
	prev := w.status
	next := prev
	next.Reported = true
	next.Stale = u.Stale
	next.Error = ""
	if u.Err != nil {
		next.Error = u.Err.Error()
	}
	if u.Stale {
		next.Endpoints = withStale(prev.Endpoints, true)
	} else {
		next.Endpoints = withStale(u.Endpoints, false)
		for i := range next.Endpoints {
			if next.Endpoints[i].Source == "" {
				next.Endpoints[i].Source = prev.Source
			}
		}
		SortEndpoints(next.Endpoints)
	}
	w.status = next
	m.mu.Unlock()

	if prev.Stale != next.Stale {
		if next.Stale {
			m.log.Warn("discovery: source unreachable, keeping last known endpoints",
				"upstream", next.Upstream, "source", next.Source, "endpoints", len(next.Endpoints), "err", next.Error)
		} else if prev.Reported {
			m.log.Info("discovery: source reachable again", "upstream", next.Upstream, "source", next.Source)
		}
	}
	if prev.Reported && slices.Equal(prev.Endpoints, next.Endpoints) {
		return
	}
	m.changes.WithLabelValues(next.Source).Inc()
	m.onChange(next.Upstream, slices.Clone(next.Endpoints))
}

// withStale copies eps with every Stale flag set to stale.
func withStale(eps []Endpoint, stale bool) []Endpoint {
	out := make([]Endpoint, len(eps))
	for i, e := range eps {
		e.Stale = stale
		out[i] = e
	}
	return out
}

// Endpoints returns the upstream's current endpoints and whether the
// upstream is watched.
func (m *Manager) Endpoints(upstream string) ([]Endpoint, bool) {
	s, ok := m.Status(upstream)
	return s.Endpoints, ok
}

// Status returns what is known about the upstream and whether it is watched.
func (m *Manager) Status(upstream string) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.watches[upstream]
	if !ok {
		return Status{}, false
	}
	s := w.status
	s.Endpoints = slices.Clone(s.Endpoints)
	return s, true
}

// Routable returns the routable endpoints of every upstream whose source
// has reported, for translate.Options.Endpoints. DNS upstreams are left
// out: Envoy resolves those itself, and pinning the addresses found here
// would stop it following the name.
func (m *Manager) Routable() map[string][]model.Endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]model.Endpoint, len(m.watches))
	for name, w := range m.watches {
		if w.status.Reported && w.status.Source != SourceDNS {
			out[name] = Routable(w.status.Endpoints)
		}
	}
	return out
}

// Close stops every watch and waits for them to end.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for name, w := range m.watches {
		w.removed = true
		w.cancel()
		delete(m.watches, name)
	}
	m.mu.Unlock()
	m.wg.Wait()
}
