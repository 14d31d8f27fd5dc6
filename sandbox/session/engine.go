package session

import (
	"context"

	"github.com/routedeck/routedeck/backend/model"
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

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
