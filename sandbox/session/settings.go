package session

import (
	"context"
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/sandbox/envoy"
)

// EngineStatus is what the sandbox runs now under its settings, for the
// settings screen (GET /sandbox/settings).
type EngineStatus struct {
	// Engine is the data plane test requests run on now: sim or envoy.
	Engine string `json:"engine"`
	// EnvoyBinary is the Envoy executable the settings lead to (the
	// configured one, $ROUTEDECK_ENVOY or envoy on PATH), whichever engine
	// is chosen, so the operator sees whether switching would work; nil
	// when there is none.
	EnvoyBinary *string `json:"envoyBinary"`
	// EnvoyError says why no binary was found.
	EnvoyError string `json:"envoyError,omitempty"`
	// Error says why the chosen engine cannot run now: the settings ask
	// for envoy and there is none (every test request fails with it).
	Error string `json:"error,omitempty"`
}

// settings reads the saved settings; the zero Settings (the sim) when
// nothing is saved or there is no store.
func (s *Service) settings(ctx context.Context) (Settings, error) {
	var set Settings
	if s.opts.Settings != nil {
		if err := s.opts.Settings.GetSetting(ctx, SettingsKey, &set); err != nil && model.ErrorCode(err) != model.ENOTFOUND {
			return Settings{}, fmt.Errorf("read sandbox settings: %w", err)
		}
	}
	return set, nil
}

// SettingsStatus returns the saved settings (the zero Settings when
// nothing is saved) and what the sandbox runs under them.
func (s *Service) SettingsStatus(ctx context.Context) (Settings, EngineStatus, error) {
	set, err := s.settings(ctx)
	if err != nil {
		return Settings{}, EngineStatus{}, err
	}
	var st EngineStatus
	if bin, err := s.opts.FindEnvoy(set.EnvoyBinary); err == nil {
		st.EnvoyBinary = &bin
	} else {
		st.EnvoyError = model.ErrorMessage(err)
	}
	engine, _, err := SelectEngine(set, s.opts.FindEnvoy)
	if err != nil {
		// As Engine reports it: the settings cannot run, and every test
		// request fails with this message. SelectEngine's errors are all
		// user-facing, field paths included.
		engine, st.Error = EngineEnvoy, err.Error()
	}
	st.Engine = engine
	return set, st, nil
}

// CheckSettings reports every problem with set before it is saved: an
// unknown engine, a configured binary that cannot be found, and envoy
// chosen with no binary anywhere. Auto without a binary is fine: it runs
// the sim until Envoy is installed.
func (s *Service) CheckSettings(set Settings) error {
	var p model.Problems
	p.Merge("", set.Validate())
	_, err := s.opts.FindEnvoy(set.EnvoyBinary)
	switch {
	case err == nil:
	case set.EnvoyBinary != "":
		// Saving a path that does not resolve is a mistake whatever the
		// engine: auto would quietly run the sim instead.
		p.Add("envoyBinary", "%s", model.ErrorMessage(err))
	case set.Engine == EngineEnvoy:
		p.Add("engine", "no envoy binary found (set envoyBinary, %s, or put envoy on PATH)", envoy.EnvBinary)
	}
	return p.Err()
}

// SettingsView is the reply of GET|PUT /sandbox/settings.
type SettingsView struct {
	// Engine is the saved choice: sim (also when nothing is saved), envoy
	// or auto.
	Engine      string       `json:"engine"`
	EnvoyBinary string       `json:"envoyBinary"`
	Status      EngineStatus `json:"status"`
}

// SettingsView returns the saved settings and what the sandbox runs under
// them now, as the API answers them; the API's settings hook.
func (s *Service) SettingsView(ctx context.Context) (any, error) {
	set, st, err := s.SettingsStatus(ctx)
	if err != nil {
		return nil, err
	}
	v := SettingsView{Engine: set.Engine, EnvoyBinary: set.EnvoyBinary, Status: st}
	if v.Engine == "" {
		v.Engine = EngineSim
	}
	return v, nil
}

// SaveSettings checks settings (every problem at once, see CheckSettings)
// and saves them on behalf of actor; the next test request picks them up,
// since a sandbox rebuilds when its engine differs from the one it runs.
func (s *Service) SaveSettings(ctx context.Context, actor, engine, envoyBinary string) error {
	set := Settings{Engine: engine, EnvoyBinary: envoyBinary}
	if err := s.CheckSettings(set); err != nil {
		return err
	}
	if s.opts.Settings == nil {
		return model.Errorf(model.EINVALID, "the sandbox keeps no settings here")
	}
	return s.opts.Settings.PutSetting(ctx, actor, SettingsKey, set)
}
