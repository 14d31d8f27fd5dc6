package localgw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// NodeID is the node.id of the local gateways: the gateway's proxies page
// lists them under it, apart from the Envoys of the gateway's fleet.
const NodeID = "routedeck-local"

// Options configure a Manager.
type Options struct {
	// ADS is the address the local gateways dial for ADS and access logs.
	ADS string
	// Credentials returns the client side of mutual TLS for a local
	// gateway of gateway: a certificate with that gateway's identity and
	// the trust of the server. Nil dials in plaintext.
	Credentials func(gateway string) (*tls.Config, error)
	Logger      *slog.Logger
}

// Manager runs at most one local gateway per gateway, each on free
// loopback ports: its listeners and its admin interface.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	running map[string]*local
	closed  bool
}

type local struct {
	proxy *Proxy
	since time.Time
}

// NewManager returns a manager with no local gateway running.
func NewManager(opts Options) *Manager {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Manager{opts: opts, log: log, running: map[string]*local{}}
}

// Status is what a local gateway serves now.
type Status struct {
	Gateway string
	Node    string
	Since   time.Time
	// Live is true once the first configuration is served (see Live).
	Live bool
	// Listeners are the gateway's listeners, by name, on their loopback
	// ports; empty until the listeners arrive.
	Listeners []Listener
	// Admin is the admin interface's address.
	Admin string
	// Accepted are the versions the data plane accepted, by type URL.
	Accepted map[string]string
}

// Listener is one served listener.
type Listener struct {
	Name    string
	Address string // host:port
	TLS     bool
	// Ready is true once the listener's route configuration arrived.
	Ready bool
}

// For is the listener a request of scheme (http or https) goes to: a TLS
// listener for https when there is one, else a plain one, else a TLS
// one; only listeners with their routes count. False when none is ready.
func (s Status) For(scheme string) (Listener, bool) {
	var plain, secure *Listener
	for i := range s.Listeners {
		switch l := &s.Listeners[i]; {
		case !l.Ready:
		case l.TLS && secure == nil:
			secure = l
		case !l.TLS && plain == nil:
			plain = l
		}
	}
	switch {
	case plain == nil && secure == nil:
		return Listener{}, false
	case plain == nil || (scheme == "https" && secure != nil):
		return *secure, true
	}
	return *plain, true
}

// URL is where the listener takes requests.
func (l Listener) URL() string {
	if l.TLS {
		return "https://" + l.Address
	}
	return "http://" + l.Address
}

// Start starts gateway's local gateway, or finds it running (started is
// false then). It returns at once: the configuration arrives when the
// gateway has a published version (WaitLive waits for it).
func (m *Manager) Start(gateway string) (st Status, started bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Status{}, false, errors.New("local gateways: the server is stopping")
	}
	if l := m.running[gateway]; l != nil {
		return l.status(gateway), false, nil
	}
	opts := sim.DataPlaneOptions{ADS: m.opts.ADS, NodeID: NodeID, Cluster: gateway, ListenHost: "127.0.0.1",
		Logger: m.log.With("local_gateway", gateway)}
	if m.opts.Credentials != nil {
		if opts.TLS, err = m.opts.Credentials(gateway); err != nil {
			return Status{}, false, fmt.Errorf("local gateway %q: %w", gateway, err)
		}
	}
	// Listeners get a free loopback port each rather than their
	// configured ones: those are the production ports, often taken on
	// an operator's machine (by the dashboard itself, on 8080).
	p, err := Start(opts, "127.0.0.1:0")
	if err != nil {
		return Status{}, false, fmt.Errorf("local gateway %q: %w", gateway, err)
	}
	l := &local{proxy: p, since: time.Now()}
	m.running[gateway] = l
	m.log.Info("local gateway started", "gateway", gateway, "admin", p.AdminAddr().String())
	return l.status(gateway), true, nil
}

// Stop stops gateway's local gateway, freeing its ports; false when none
// was running.
func (m *Manager) Stop(gateway string) (bool, error) {
	m.mu.Lock()
	l := m.running[gateway]
	delete(m.running, gateway)
	m.mu.Unlock()
	if l == nil {
		return false, nil
	}
	err := l.proxy.Close()
	m.log.Info("local gateway stopped", "gateway", gateway)
	return true, err
}

// Status reports gateway's local gateway; false when none runs.
func (m *Manager) Status(gateway string) (Status, bool) {
	m.mu.Lock()
	l := m.running[gateway]
	m.mu.Unlock()
	if l == nil {
		return Status{}, false
	}
	return l.status(gateway), true
}

// WaitLive waits until gateway's local gateway serves its configuration,
// it is stopped, or ctx ends.
func (m *Manager) WaitLive(ctx context.Context, gateway string) (Status, error) {
	m.mu.Lock()
	l := m.running[gateway]
	m.mu.Unlock()
	if l == nil {
		return Status{}, model.Errorf(model.ENOTFOUND, "no local gateway of %q runs", gateway)
	}
	if _, err := l.proxy.WaitLive(ctx); err != nil {
		return l.status(gateway), err
	}
	return l.status(gateway), nil
}

// Gateways lists the gateways whose local gateway runs, sorted.
func (m *Manager) Gateways() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.running))
	for g := range m.running {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// Close stops every local gateway; Start refuses from then on.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	gateways := make([]string, 0, len(m.running))
	for g := range m.running {
		gateways = append(gateways, g)
	}
	m.mu.Unlock()
	var errs []error
	for _, g := range gateways {
		if _, err := m.Stop(g); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *local) status(gateway string) Status {
	st := l.proxy.DataPlane().Status()
	out := Status{Gateway: gateway, Node: NodeID, Since: l.since, Live: Live(st), Admin: l.proxy.AdminAddr().String(),
		Accepted: st.Versions}
	for name, addr := range st.Listeners {
		out.Listeners = append(out.Listeners, Listener{Name: name, Address: addr, TLS: st.TLS[name], Ready: st.Ready[name]})
	}
	slices.SortFunc(out.Listeners, func(a, b Listener) int { return strings.Compare(a.Name, b.Name) })
	return out
}
