package session

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/envoy"
)

// The data planes a sandbox can run. The simulated Envoy needs nothing
// installed and is what CI runs; a real Envoy is used when the operator
// asks for it (or for "auto") and a binary is found.
const (
	EngineSim   = "sim"
	EngineEnvoy = "envoy"
	// EngineAuto runs Envoy when a binary is found, else the sim.
	EngineAuto = "auto"
)

// SettingsKey is the store setting that holds the sandbox Settings.
const SettingsKey = "sandbox"

// Settings choose the sandbox's data plane. The zero value runs the sim.
type Settings struct {
	// Engine is sim (default), envoy or auto.
	Engine string `json:"engine,omitempty"`
	// EnvoyBinary is the Envoy executable; empty means $ROUTEDECK_ENVOY,
	// then "envoy" on PATH (see envoy.Find).
	EnvoyBinary string `json:"envoyBinary,omitempty"`
}

// Validate reports every problem with field paths.
func (s Settings) Validate() error {
	var p model.Problems
	switch s.Engine {
	case "", EngineSim, EngineEnvoy, EngineAuto:
	default:
		p.Add("engine", "must be sim, envoy or auto, not %q", s.Engine)
	}
	return p.Err()
}

// SettingsStore is where the sandbox settings are kept; *store.Store
// provides it.
type SettingsStore interface {
	GetSetting(ctx context.Context, key string, v any) error
	// PutSetting saves a setting on behalf of actor, for the audit log.
	PutSetting(ctx context.Context, actor, key string, v any) error
}

// SelectEngine decides which data plane runs: the engine and, for envoy,
// the binary. find looks the binary up (envoy.Find). Asking for envoy
// when there is none is an EINVALID error that says so, rather than a
// silent fall back that would make the operator believe Envoy answered.
func SelectEngine(set Settings, find func(configured string) (string, error)) (engine, binary string, err error) {
	if err := set.Validate(); err != nil {
		return "", "", err
	}
	switch set.Engine {
	case "", EngineSim:
		return EngineSim, "", nil
	case EngineAuto:
		if bin, err := find(set.EnvoyBinary); err == nil {
			return EngineEnvoy, bin, nil
		}
		return EngineSim, "", nil
	default: // envoy
		bin, err := find(set.EnvoyBinary)
		if err != nil {
			return "", "", model.Errorf(model.EINVALID, "the sandbox engine is envoy, but %v", err)
		}
		return EngineEnvoy, bin, nil
	}
}

// engine reads the settings and selects the engine.
func (s *Service) engine(ctx context.Context) (engine, binary string, err error) {
	set, err := s.settings(ctx)
	if err != nil {
		return "", "", err
	}
	return SelectEngine(set, s.opts.FindEnvoy)
}

// Engine is the data plane test requests run on now: sim or envoy.
func (s *Service) Engine(ctx context.Context) string {
	e, _, err := s.engine(ctx)
	if err != nil {
		return EngineEnvoy // asked for, and every request says why it cannot run
	}
	return e
}

// startEnvoy runs a real Envoy for the gateway's sandbox in its own
// directory. The snapshot is already on the ADS server.
func (s *Service) startEnvoy(ctx context.Context, gateway, binary string) (*envoy.Envoy, string, error) {
	dir, err := os.MkdirTemp(s.opts.WorkDir, "routedeck-envoy-")
	if err != nil {
		return nil, "", fmt.Errorf("sandbox envoy for %q: %w", gateway, err)
	}
	cfg := envoy.Config{Binary: binary, Gateway: gateway, ADSAddr: s.opts.ADSAddr, Dir: dir,
		Env: s.opts.EnvoyEnv, Logger: s.log}
	if s.opts.ADSCredentials != nil {
		files, err := s.opts.ADSCredentials.Files(gateway)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, "", fmt.Errorf("sandbox envoy for %q: %w", gateway, err)
		}
		cfg.Credentials = &xds.Credentials{Cert: files.CertPEM, Key: files.KeyPEM, CA: files.CAPEM}
	}
	e, err := envoy.Start(ctx, cfg)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", err
	}
	return e, dir, nil
}

// waitAcked waits until the gateway's sandbox Envoy runs
// the snapshot just set (version), as the ADS server's tracking of ACKs
// and NACKs reports; a NACK of that version is EINVALID with Envoy's own
// message. Types whose content did not change keep their earlier version,
// so "runs it" is the server's InSync, not every type at version.
func (s *Service) waitAcked(ctx context.Context, gs *gatewaySandbox, version string) error {
	key := Key(gs.gateway)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range s.opts.ADS.Proxies(key) {
			// Only this Envoy counts: one it replaced may still be listed
			// with ACKs of the same content.
			if !p.Connected || p.Node != gs.proxy.NodeID() {
				continue
			}
			if p.Nack != nil && p.Nack.Version == version {
				return model.Errorf(model.EINVALID, "envoy refused the draft (%s): %s", p.Nack.TypeURL, p.Nack.Error)
			}
			if s.opts.ADS.InSync(key, p.Acked) {
				return nil
			}
		}
		select {
		case <-gs.proxy.Done():
			return fmt.Errorf("envoy exited: %s", tail(gs.proxy.Logs(), 2000))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// waitListening waits until every listener address accepts connections.
// Envoy acknowledges a listener while it still warms (its routes and
// clusters on the way), and binds it only then.
func waitListening(ctx context.Context, e *envoy.Envoy, addrs map[string]string) error {
	var d net.Dialer
	for name, addr := range addrs {
		for {
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-e.Done():
				return fmt.Errorf("envoy exited: %s", tail(e.Logs(), 2000))
			case <-ctx.Done():
				return fmt.Errorf("listener %s on %s never accepted a connection: %w", name, addr, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
