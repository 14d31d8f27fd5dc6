package api

import (
	"context"
	"net/http"

	"github.com/routedeck/routedeck/backend/auth"
)

// SandboxSettings keeps the sandbox's data-plane choice (GET|PUT
// /sandbox/settings); *session.Service provides it. The sandbox reads the
// settings on every test request, so a change applies to the next one.
type SandboxSettings interface {
	// SettingsView is the reply of GET|PUT /sandbox/settings: the saved
	// choice and what the sandbox runs under it now, a document of the
	// API contract.
	SettingsView(ctx context.Context) (any, error)
	// SaveSettings checks settings, reporting every problem at once, and
	// saves them on behalf of actor.
	SaveSettings(ctx context.Context, actor, engine, envoyBinary string) error
}

// sandboxSettingsBody is the body of PUT /sandbox/settings.
type sandboxSettingsBody struct {
	// Engine is sim, envoy or auto; EnvoyBinary the Envoy executable
	// (empty: $ROUTEDECK_ENVOY, then envoy on PATH).
	Engine      string `json:"engine,omitempty"`
	EnvoyBinary string `json:"envoyBinary,omitempty"`
}

func (s *server) getSandboxSettings(w http.ResponseWriter, r *http.Request) {
	if s.SandboxSettings == nil {
		s.writeError(w, r, notWired("the sandbox"))
		return
	}
	v, err := s.SandboxSettings.SettingsView(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) putSandboxSettings(w http.ResponseWriter, r *http.Request) {
	var set sandboxSettingsBody
	if err := decode(r, &set); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.SandboxSettings == nil {
		s.writeError(w, r, notWired("the sandbox"))
		return
	}
	actor := auth.Actor(r.Context())
	if err := s.SandboxSettings.SaveSettings(r.Context(), actor, set.Engine, set.EnvoyBinary); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("sandbox: settings saved", "engine", set.Engine, "envoy_binary", set.EnvoyBinary, "actor", actor)
	s.getSandboxSettings(w, r)
}
