package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/envoy"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// dataPlane is what serves a sandbox's configuration: the simulated Envoy
// (simPlane) or a real Envoy process (envoyPlane). Both fetch the
// gateway's sandbox snapshot over ADS and bind its remapped listeners, so
// test requests reach either the same way.
type dataPlane interface {
	// waitConfigured waits until the data plane serves the snapshot just
	// set; its refusal is EINVALID with the data plane's own message.
	waitConfigured(ctx context.Context, c configured) error
	// capture returns an id for a test request's sim.HeaderCapture and
	// the wait for that request's exchange; nil wait when the data plane
	// gives no account of its exchanges (a real Envoy).
	capture() (id string, wait func(context.Context) (*sim.Exchange, error))
	// health is the host health the data plane keeps, by cluster, and
	// stats its statistics under Envoy's names; nil when it reports none.
	health() map[string]sim.ClusterHealth
	stats() map[string]uint64
	close() error
}

// configured is the snapshot a data plane is waited for.
type configured struct {
	version string
	// since is when it was set: a refusal from before is of an older one.
	since time.Time
	res   *translate.Resources
	addrs map[string]string
}

// simPlane is the simulated Envoy.
type simPlane struct{ dp *sim.DataPlane }

// startSim starts the simulated Envoy for the sandbox of instance key
// gateway. It binds the listeners' (remapped) addresses like Envoy would.
func (s *Service) startSim(gateway string) (dataPlane, error) {
	opts := sim.DataPlaneOptions{ADS: s.opts.ADSAddr, NodeID: "sandbox-" + gateway, Cluster: Key(gateway),
		BindConfiguredAddress: true, Logger: s.log}
	if s.opts.ADSCredentials != nil {
		var err error
		if opts.TLS, err = s.opts.ADSCredentials.ClientTLS(gateway); err != nil {
			return nil, fmt.Errorf("sandbox for %q: %w", gateway, err)
		}
	}
	dp, err := sim.Start(opts)
	if err != nil {
		return nil, err
	}
	return simPlane{dp}, nil
}

func (p simPlane) waitConfigured(ctx context.Context, c configured) error {
	if _, err := p.dp.WaitFor(ctx, func(st sim.Status) bool {
		return (hasConfig(p.dp.Accepted(), c.res) && served(st, c.res)) || nackedSince(st, c.since)
	}); err != nil {
		return fmt.Errorf("the simulated gateway did not take its configuration: %w", err)
	}
	if st := p.dp.Status(); nackedSince(st, c.since) {
		n := st.Nacks[len(st.Nacks)-1]
		return model.Errorf(model.EINVALID, "the simulated gateway refused the draft (%s): %s", n.TypeURL, n.Error)
	}
	return nil
}

func (p simPlane) capture() (string, func(context.Context) (*sim.Exchange, error)) {
	return p.dp.Capture()
}

func (p simPlane) health() map[string]sim.ClusterHealth { return p.dp.Status().Health }

func (p simPlane) stats() map[string]uint64 { return p.dp.Stats() }

func (p simPlane) close() error { return p.dp.Close() }

// envoyPlane is a real Envoy in a directory of its own.
type envoyPlane struct {
	proxy *envoy.Envoy
	dir   string
	ads   *xds.Server
	key   string // the snapshot key, Key(gateway)
}

// startEnvoy runs a real Envoy for the sandbox of instance key gateway in
// its own directory. The snapshot is already on the ADS server.
func (s *Service) startEnvoy(ctx context.Context, gateway, binary string) (dataPlane, error) {
	dir, err := os.MkdirTemp(s.opts.WorkDir, "routedeck-envoy-")
	if err != nil {
		return nil, fmt.Errorf("sandbox envoy for %q: %w", gateway, err)
	}
	cfg := envoy.Config{Binary: binary, Gateway: gateway, ADSAddr: s.opts.ADSAddr, Dir: dir,
		Env: s.opts.EnvoyEnv, Logger: s.log}
	if s.opts.ADSCredentials != nil {
		files, err := s.opts.ADSCredentials.Files(gateway)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("sandbox envoy for %q: %w", gateway, err)
		}
		cfg.Credentials = &xds.Credentials{Cert: files.CertPEM, Key: files.KeyPEM, CA: files.CAPEM}
	}
	e, err := envoy.Start(ctx, cfg)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &envoyPlane{proxy: e, dir: dir, ads: s.opts.ADS, key: Key(gateway)}, nil
}

// waitConfigured waits until this Envoy runs the snapshot, as the ADS
// server's tracking of ACKs and NACKs reports (a NACK of the version is
// EINVALID with Envoy's own message), then until every listener accepts
// connections: Envoy acknowledges a listener while it still warms, and
// binds it only then. Types whose content did not change keep their
// earlier version, so "runs it" is the server's InSync, not every type at
// version.
func (p *envoyPlane) waitConfigured(ctx context.Context, c configured) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
acked:
	for {
		for _, px := range p.ads.Proxies(p.key) {
			// Only this Envoy counts: one it replaced may still be listed
			// with ACKs of the same content.
			if !px.Connected || px.Node != p.proxy.NodeID() {
				continue
			}
			if px.Nack != nil && px.Nack.Version == c.version {
				return model.Errorf(model.EINVALID, "envoy refused the draft (%s): %s", px.Nack.TypeURL, px.Nack.Error)
			}
			if p.ads.InSync(p.key, px.Acked) {
				break acked
			}
		}
		select {
		case <-p.proxy.Done():
			return fmt.Errorf("envoy exited: %s", tail(p.proxy.Logs(), 2000))
		case <-ctx.Done():
			return fmt.Errorf("envoy did not take its configuration: %w", ctx.Err())
		case <-tick.C:
		}
	}
	var d net.Dialer
	for name, addr := range c.addrs {
		for {
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-p.proxy.Done():
				return fmt.Errorf("envoy exited: %s", tail(p.proxy.Logs(), 2000))
			case <-ctx.Done():
				return fmt.Errorf("envoy listener %s on %s never accepted a connection: %w", name, addr, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return nil
}

func (p *envoyPlane) capture() (string, func(context.Context) (*sim.Exchange, error)) {
	return "", nil
}

// health: a real Envoy's host health is not read back.
func (p *envoyPlane) health() map[string]sim.ClusterHealth { return nil }

// stats reads the admin interface's counters; nil if it does not answer
// within a second.
func (p *envoyPlane) stats() map[string]uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := p.proxy.Stats(ctx)
	if err != nil {
		return nil
	}
	return st
}

func (p *envoyPlane) close() error {
	return errors.Join(p.proxy.Stop(), os.RemoveAll(p.dir))
}
