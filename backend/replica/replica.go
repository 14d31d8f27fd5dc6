// Package replica is an xDS replica: a server without a database that
// follows the versions a routedeck writer publishes to Consul KV and
// serves them to proxies over ADS, so that proxies can be spread over
// several machines and keep being served while the writer is down.
//
// A replica reads the whole published tree with Consul blocking queries
// (consul.KV.Watch), answered by the cluster's leader. For every gateway
// it follows it takes the version the tree holds only when the gateway's
// commit record says the publish is complete (consul.Tree.Release), and
// announces it on its own event bus; the gateways' runners
// (release.Service, the same ones the writer uses) translate and serve
// it, labelled with the writer's version number, so a proxy that moves
// between replicas, or between the writer and a replica, is offered the
// same version. A publish in progress, interrupted half-way or read while
// the tree does not match its commit record is not served: the version
// before it stays.
//
// When Consul cannot be read (no leader, the agent down) the replica
// keeps serving what it serves, marks itself stale and reads again with a
// growing pause; the next successful read catches up.
//
// The replica reports its proxies to Consul (see Reporter), where the
// writer's console finds them.
package replica

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/discovery"
	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	consulpub "github.com/routedeck/routedeck/backend/publish/consul"
	"github.com/routedeck/routedeck/backend/release"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/xds"
)

// Options are what a Replica is built from. Consul and ADS are required.
type Options struct {
	// ID names the replica in its reports; unique among the replicas
	// sharing a Consul cluster.
	ID string
	// Consul is the client of the agent (or server) the replica reads.
	Consul *consulapi.Client
	// ConsulAddress is where that agent is, for the status.
	ConsulAddress string
	// Keys open the credentials the writer sealed in KV; without them a
	// gateway with credentials cannot be served.
	Keys *seal.Keyring
	// ADS is the server the replica's proxies connect to.
	ADS *xds.Server
	// ADSAddress is where proxies reach ADS, for the status and reports.
	ADSAddress string
	// Gateways limits the replica to these gateways; empty follows every
	// published gateway.
	Gateways []string
	// Discovery watches the endpoints of Kubernetes and Consul upstreams
	// (kind -> source); the static source is always there.
	Discovery map[string]discovery.Source
	// Wait is how long one blocking query waits at most (default 5 min,
	// Consul's own bound).
	Wait time.Duration
	// RetryMax bounds the pause between reads while Consul fails
	// (default 5 s).
	RetryMax time.Duration
	// DiscoveryWait bounds how long a new version waits for its
	// discovered upstreams' first report before it is served (default
	// 5 s, as the writer waits at start-up).
	DiscoveryWait time.Duration
	Logger        *slog.Logger
	// Metrics count translations; nil counts nothing.
	Metrics *release.Metrics
	// Events has the runners report panics there.
	Events *events.Metrics
}

// Replica follows Consul KV and serves what it reads. Create it with New,
// run it with Run.
type Replica struct {
	opts    Options
	log     *slog.Logger
	kv      *consulpub.KV
	bus     *events.Bus
	release *release.Service
	disc    *discovery.Manager

	mu       sync.Mutex
	consul   ConsulStatus
	gateways map[string]*gatewayState
	// upstreams are the discovered upstreams' definitions last synced,
	// to tell when discovery must be synced again.
	upstreams []model.Upstream
	// changed is signalled when the status changes (for tests and the
	// reporter).
	changed chan struct{}
}

type gatewayState struct {
	// announced is the newest version handed to the runner.
	announced int64
	// published is the newest version the tree holds, complete or not
	// servable.
	published int64
	problem   string
	upstreams []model.Upstream
}

// ConsulStatus is how the replica's reads of Consul go.
type ConsulStatus struct {
	Address string `json:"address"`
	// Stale is true while Consul cannot be read (or answers without a
	// leader): what is served may be behind what was published.
	Stale bool `json:"stale"`
	// StaleSince is when the reads started failing.
	StaleSince *time.Time `json:"staleSince,omitempty"`
	// Error is the last failure.
	Error string `json:"error,omitempty"`
	// LastRead is when the tree was last read.
	LastRead *time.Time `json:"lastRead,omitempty"`
	// Index is Consul's index of that read.
	Index uint64 `json:"index"`
}

// GatewayStatus is one followed gateway.
type GatewayStatus struct {
	Name string `json:"name"`
	// Version is the version served, 0 before the first.
	Version int64 `json:"version"`
	// Published is the newest version Consul holds for the gateway.
	Published int64 `json:"published"`
	// Problem says why Published is not served (a publish in progress or
	// interrupted, no version record, credentials that cannot be opened,
	// a translation that failed).
	Problem string `json:"problem,omitempty"`
}

// Status is what GET /api/v1/status shows.
type Status struct {
	Replica  string          `json:"replica"`
	ADS      string          `json:"ads"`
	Consul   ConsulStatus    `json:"consul"`
	Gateways []GatewayStatus `json:"gateways"`
	// Proxies counts the connected proxies.
	Proxies int `json:"proxies"`
}

// New returns a replica; Run starts it.
func New(opts Options) (*Replica, error) {
	if opts.Consul == nil || opts.ADS == nil {
		return nil, fmt.Errorf("replica: a Consul client and an ADS server are required")
	}
	if err := CheckID(opts.ID); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Wait <= 0 {
		opts.Wait = 5 * time.Minute
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Second
	}
	if opts.DiscoveryWait <= 0 {
		opts.DiscoveryWait = 5 * time.Second
	}
	r := &Replica{
		opts:     opts,
		log:      opts.Logger.With("replica", opts.ID),
		kv:       consulpub.New(opts.Consul, consulpub.WithKeys(opts.Keys)),
		bus:      events.NewBus(),
		consul:   ConsulStatus{Address: opts.ConsulAddress},
		gateways: map[string]*gatewayState{},
		changed:  make(chan struct{}, 1),
	}
	r.disc = discovery.NewManager(opts.Discovery, r.onEndpoints, r.log)
	r.release = release.New(release.Options{ADS: opts.ADS, Endpoints: managerEndpoints{r.disc}, Logger: r.log,
		Metrics: opts.Metrics, Events: opts.Events})
	return r, nil
}

// CheckID accepts what a replica may be called: what a gateway may be
// called, since it names Consul keys.
func CheckID(id string) error {
	if id == "" {
		return fmt.Errorf("replica: an id is required")
	}
	// Up to 63 characters, so the id is also a valid Kubernetes label
	// value and pod name part.
	if err := pki.CheckGatewayName(id); err != nil || len(id) > 63 {
		return fmt.Errorf("replica id %q: use 1-63 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", id)
	}
	return nil
}

// managerEndpoints gives the runners the discovered endpoints.
type managerEndpoints struct{ m *discovery.Manager }

func (e managerEndpoints) RoutableAll() map[string][]model.Endpoint { return e.m.Routable() }

func (r *Replica) onEndpoints(upstream string, eps []discovery.Endpoint) {
	ev := events.EndpointsChanged{Upstream: upstream}
	if eps != nil {
		ev.Endpoints = discovery.Routable(eps)
	}
	r.bus.Endpoints.Publish(ev)
}

// Run follows Consul and serves until ctx is done; it returns once the
// runners and discovery have stopped.
func (r *Replica) Run(ctx context.Context) {
	wait := r.release.Start(ctx, r.bus)
	defer func() {
		r.disc.Close()
		wait()
	}()
	retry := 100 * time.Millisecond
	var index uint64
	for ctx.Err() == nil {
		tree, err := r.kv.Watch(ctx, index, r.opts.Wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.failed(err)
			// The next read answers at once: Consul may have come back
			// with another history (a restored snapshot, a new cluster),
			// whose index never reaches the old one.
			index = 0
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
			retry = min(2*retry, r.opts.RetryMax)
			continue
		}
		retry = 100 * time.Millisecond
		// An index that went backwards (a restored snapshot, a new
		// cluster) is taken as is: waiting for the old one could take
		// forever. 0 would not block at all.
		index = max(tree.Index, 1)
		r.apply(ctx, tree)
	}
}

// failed marks the replica stale after a read of Consul failed.
func (r *Replica) failed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.consul.Stale {
		now := time.Now()
		r.consul.Stale, r.consul.StaleSince = true, &now
		r.log.Warn("consul cannot be read; serving the versions read last", "err", err)
	}
	r.consul.Error = err.Error()
	r.signalLocked()
}

// apply serves what tree holds of the followed gateways.
func (r *Replica) apply(ctx context.Context, tree *consulpub.Tree) {
	now := time.Now()
	names := tree.Gateways()
	type pending struct {
		gateway string
		rel     consulpub.Release
	}
	var announce []pending
	r.mu.Lock()
	if r.consul.Stale {
		r.log.Info("consul can be read again", "stale_for", now.Sub(*r.consul.StaleSince).Round(time.Millisecond))
	}
	r.consul.Stale, r.consul.StaleSince, r.consul.Error = !tree.KnownLeader, nil, ""
	if !tree.KnownLeader {
		r.consul.Error = "the consul server answered without knowing a leader"
		r.consul.StaleSince = &now
	}
	r.consul.LastRead, r.consul.Index = &now, tree.Index
	for name, st := range r.gateways {
		if !slices.Contains(names, name) {
			st.problem = "no longer published to consul; the last version read is still served"
		}
	}
	for _, name := range names {
		if !r.follows(name) {
			continue
		}
		st := r.gateways[name]
		if st == nil {
			st = &gatewayState{}
			r.gateways[name] = st
		}
		rel, err := tree.Release(name)
		if err == nil {
			err = servable(rel.Workspace)
		}
		if err != nil {
			if st.problem != err.Error() {
				r.log.Warn("not serving what consul holds of the gateway", "gateway", name, "err", err)
			}
			st.problem = err.Error()
			continue
		}
		st.problem, st.published = "", rel.Version
		if rel.Version > st.announced {
			st.announced, st.upstreams = rel.Version, rel.Workspace.Upstreams
			announce = append(announce, pending{name, rel})
		} else if rel.Version < st.announced {
			st.problem = fmt.Sprintf("consul holds version %d, older than version %d served; a replica never goes back (publish again to move on)",
				rel.Version, st.announced)
		}
	}
	r.signalLocked()
	r.mu.Unlock()
	if len(announce) == 0 {
		return
	}
	r.syncDiscovery(ctx)
	for _, p := range announce {
		r.log.Info("serving the version read from consul", "gateway", p.gateway, "version", p.rel.Version)
		r.bus.Published.Publish(events.Published{Gateway: p.gateway, Version: p.rel.Version, Workspace: p.rel.Workspace})
	}
}

// servable refuses a workspace a replica cannot serve faithfully: one
// whose TLS private keys stayed with the writer (they never go to
// Consul).
func servable(ws model.Workspace) error {
	for _, s := range ws.Secrets {
		if s.TLS != nil && (s.TLS.PrivateKey == "" || s.TLS.PrivateKey == model.RedactedPrivateKey) {
			return model.Errorf(model.EINVALID,
				"secret %q is a TLS certificate whose private key never goes to consul, so replicas cannot serve this gateway's HTTPS listeners; the writer serves it", s.Name)
		}
	}
	return nil
}

func (r *Replica) follows(gateway string) bool {
	return len(r.opts.Gateways) == 0 || slices.Contains(r.opts.Gateways, gateway)
}

// syncDiscovery makes discovery watch the discovered upstreams of every
// announced version and waits, bounded, for the new ones to report, so a
// version is not served with empty load assignments that discovery fills
// a moment later.
func (r *Replica) syncDiscovery(ctx context.Context) {
	r.mu.Lock()
	byName := map[string]model.Upstream{}
	for _, st := range r.gateways {
		for _, u := range st.upstreams {
			byName[u.Name] = u
		}
	}
	r.mu.Unlock()
	var ups []model.Upstream
	var pending []string
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		u := byName[name]
		ups = append(ups, u)
		if u.Kubernetes != nil || u.Consul != nil {
			pending = append(pending, name)
		}
	}
	r.disc.Sync(ups)
	// Bounded, and only while a discovered upstream has not reported
	// once: the manager announces no event for "reported, nothing found".
	deadline := time.Now().Add(r.opts.DiscoveryWait)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		pending = slices.DeleteFunc(pending, func(name string) bool {
			st, ok := r.disc.Status(name)
			return ok && st.Reported
		})
		if len(pending) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(pending) > 0 {
		r.log.Warn("discovery: serving before these upstreams reported", "upstreams", pending)
	}
}

func (r *Replica) signalLocked() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Status is the replica's view of Consul, its gateways and its proxies.
func (r *Replica) Status() Status {
	r.mu.Lock()
	st := Status{Replica: r.opts.ID, ADS: r.opts.ADSAddress, Consul: r.consul, Gateways: []GatewayStatus{}}
	names := slices.Sorted(maps.Keys(r.gateways))
	states := make([]gatewayState, len(names))
	for i, n := range names {
		states[i] = *r.gateways[n]
	}
	r.mu.Unlock()
	for i, name := range names {
		gs := GatewayStatus{Name: name, Version: r.release.Served(name), Published: states[i].published, Problem: states[i].problem}
		if gs.Problem == "" && gs.Version < states[i].announced {
			gs.Problem = fmt.Sprintf("version %d is being translated, or failed to (see the log)", states[i].announced)
		}
		st.Gateways = append(st.Gateways, gs)
		for _, p := range r.opts.ADS.Proxies(name) {
			if p.Connected {
				st.Proxies++
			}
		}
	}
	return st
}

// Served is the version of gateway the replica serves, 0 if none.
func (r *Replica) Served(gateway string) int64 { return r.release.Served(gateway) }

// Changed receives a value after the replica's view of Consul changed
// (read, failed, a gateway's state moved): a cue to look at Status again.
// One consumer.
func (r *Replica) Changed() <-chan struct{} { return r.changed }
