package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
)

type publishRequest struct {
	// Force publishes even when route tests fail (admins only).
	Force bool `json:"force"`
	// OverrideGate publishes even when the publish gate holds it back
	// (admins only).
	OverrideGate bool `json:"overrideGate"`
}

// PublishOptions are an admin's overrides of a publish.
type PublishOptions struct {
	// Force publishes despite failing route tests.
	Force bool
	// OverrideGate publishes despite the publish gate.
	OverrideGate bool
}

func (s *server) publish(w http.ResponseWriter, r *http.Request) {
	var req publishRequest
	if err := decodeOptional(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if p, _ := auth.FromContext(r.Context()); (req.Force || req.OverrideGate) && !auth.Allows(p.Role, auth.RoleAdmin) {
		what := "force-publishing"
		if !req.Force {
			what = "overriding the publish gate"
		}
		s.writeError(w, r, model.Errorf(model.EFORBIDDEN, "%s needs role admin, you have %s", what, p.Role))
		return
	}
	if s.Publisher == nil {
		s.writeError(w, r, notWired("publishing"))
		return
	}
	name := chi.URLParam(r, "name")
	res, err := s.Publisher.Publish(r.Context(), auth.Actor(r.Context()), name, PublishOptions{Force: req.Force, OverrideGate: req.OverrideGate})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lint, pending := s.publishWarnings(r, name)
	writeJSON(w, http.StatusOK, publishResponse{Version: res.Version, Unchanged: res.Unchanged, Warnings: lint.Items, Notes: lint.Notes,
		LintPending: pending})
}

// PublishResult is what a publish did: the version live now and whether
// the draft already equalled it, in which case nothing was recorded or
// pushed.
type PublishResult struct {
	Version   int64
	Unchanged bool
}

// publishResponse is the answer to a publish: the live version, whether
// the publish changed nothing (the draft equals that version), the rules
// of the draft that can never match (warnings, not errors) and notes on
// rules that work differently from how they read, or with lintPending
// neither: the gateway is too large to lint on the reply's path and has
// no report kept (GET /gateways/{name}/lint lints it).
type publishResponse struct {
	Version     int64         `json:"version"`
	Unchanged   bool          `json:"unchanged"`
	Warnings    []lintFinding `json:"warnings"`
	Notes       []lintNote    `json:"notes"`
	LintPending bool          `json:"lintPending,omitempty"`
}

// publishCheck replays the gateway's recent requests against its live
// version and its draft, and gives the publish gate's verdict.
func (s *server) publishCheck(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptional(r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Publisher == nil {
		s.writeError(w, r, notWired("publishing"))
		return
	}
	name := chi.URLParam(r, "name")
	if !s.gatewayExists(w, r, name) {
		return
	}
	c, err := s.Publisher.CheckGate(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

type rollbackRequest struct {
	Version int64 `json:"version"`
}

func (s *server) rollback(w http.ResponseWriter, r *http.Request) {
	var req rollbackRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Version <= 0 {
		s.writeError(w, r, fieldError("version", "required: the published version to go back to"))
		return
	}
	if s.Publisher == nil {
		s.writeError(w, r, notWired("publishing"))
		return
	}
	v, err := s.Publisher.Rollback(r.Context(), auth.Actor(r.Context()), chi.URLParam(r, "name"), req.Version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"version": v})
}

func (s *server) proxies(w http.ResponseWriter, r *http.Request) {
	if s.Publisher == nil {
		s.writeError(w, r, notWired("proxy status"))
		return
	}
	list, err := s.Publisher.Proxies(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []Proxy{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

// published lists the gateway's published versions, newest first.
func (s *server) published(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if !s.gatewayExists(w, r, name) {
		return
	}
	list, err := s.Store.ListPublished(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSlice(s, w, r, list)
}

// publishedVersion returns one published version with its workspace, so a
// client can compare what is live with the draft. Secret values read as
// fingerprints, as everywhere else.
func (s *server) publishedVersion(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	v, err := strconv.ParseInt(chi.URLParam(r, "version"), 10, 64)
	if err != nil || v <= 0 {
		s.writeError(w, r, errNotFound("gateway %q has no published version %q", name, chi.URLParam(r, "version")))
		return
	}
	if !s.gatewayExists(w, r, name) {
		return
	}
	p, err := s.Store.GetPublished(r.Context(), name, v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p.Workspace = model.RedactWorkspace(p.Workspace, s.Fingerprinter)
	writeJSON(w, http.StatusOK, p)
}

func (s *server) sandboxRequest(w http.ResponseWriter, r *http.Request) {
	var body json.RawMessage
	if err := decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Sandbox == nil {
		s.writeError(w, r, notWired("the sandbox"))
		return
	}
	resp, err := s.Sandbox.Send(r.Context(), body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
