package api

import (
	"context"
	"net/http"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/sandbox/session"
)

// SandboxSettings reports and checks the sandbox's data plane choice
// (GET|PUT /sandbox/settings); *session.Service provides it. The settings
// themselves live in the store under session.SettingsKey, where the
// sandbox reads them on every request.
type SandboxSettings interface {
	// SettingsStatus returns the saved settings and what the sandbox runs
	// under them now.
	SettingsStatus(ctx context.Context) (session.Settings, session.EngineStatus, error)
	// CheckSettings reports every problem with settings about to be saved.
	CheckSettings(set session.Settings) error
}

// sandboxSettingsView is the reply of GET|PUT /sandbox/settings.
type sandboxSettingsView struct {
	// Engine is the saved choice: sim (also when nothing is saved), envoy
	// or auto.
	Engine      string               `json:"engine"`
	EnvoyBinary string               `json:"envoyBinary"`
	Status      session.EngineStatus `json:"status"`
}

func (s *server) getSandboxSettings(w http.ResponseWriter, r *http.Request) {
	if s.SandboxSettings == nil {
		s.writeError(w, r, notWired("the sandbox"))
		return
	}
	set, st, err := s.SandboxSettings.SettingsStatus(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := sandboxSettingsView{Engine: set.Engine, EnvoyBinary: set.EnvoyBinary, Status: st}
	if v.Engine == "" {
		v.Engine = session.EngineSim
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) putSandboxSettings(w http.ResponseWriter, r *http.Request) {
	var set session.Settings
	if err := decode(r, &set); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.SandboxSettings == nil {
		s.writeError(w, r, notWired("the sandbox"))
		return
	}
	if err := s.SandboxSettings.CheckSettings(set); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The next test request picks the change up: a sandbox rebuilds when
	// its engine differs from the one it runs.
	if err := s.Store.PutSetting(r.Context(), auth.Actor(r.Context()), session.SettingsKey, set); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("sandbox: settings saved", "engine", set.Engine, "envoy_binary", set.EnvoyBinary, "actor", auth.Actor(r.Context()))
	s.getSandboxSettings(w, r)
}
