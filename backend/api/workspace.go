package api

import (
	"fmt"
	"net/http"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/strictjson"
	"github.com/routedeck/routedeck/backend/translate"
)

// checkWorkspace parses conditions and validates ws as it would be after
// applying it to the current draft. Problems are reported with paths into
// ws itself ("routes[2].then.forward[0].upstream"), which is what lets the
// CLI point at the line of the file they came from: ws's objects go first
// in the merged workspace, so their indices are unchanged.
func (s *server) checkWorkspace(r *http.Request, ws *model.Workspace) error {
	var p model.Problems
	p.Merge("", resolveWorkspace(ws))
	if p.Len() > 0 {
		return p.Err()
	}
	draft, err := s.Store.Workspace(r.Context())
	if err != nil {
		return fmt.Errorf("load draft: %w", err)
	}
	// Objects read from the server carry fingerprints for their secret
	// values (and secrets may leave their keys out): they keep the draft's.
	p.Merge("", model.RestoreWorkspaceSecrets(ws, draft, s.Fingerprinter))
	for i := range ws.Secrets {
		p.Merge(model.Index("secrets", i), translate.Validate(&ws.Secrets[i]))
	}
	for i := range ws.Gateways {
		p.Merge(model.Index("gateways", i), translate.Validate(&ws.Gateways[i]))
	}
	for i := range ws.Upstreams {
		p.Merge(model.Index("upstreams", i), translate.Validate(&ws.Upstreams[i]))
	}
	for i := range ws.Routes {
		p.Merge(model.Index("routes", i), translate.Validate(&ws.Routes[i]))
	}
	merged := mergeWorkspace(*ws, draft)
	mergedErr := merged.Validate()
	if p.Len() == 0 {
		return mergedErr
	}
	// Some objects are broken on their own; report what is wrong between
	// objects too (unknown upstreams, duplicate names), each problem once,
	// so a client fixes everything in one round.
	seen := map[model.FieldError]bool{}
	for _, fe := range p.List() {
		seen[fe] = true
	}
	for _, fe := range model.ErrorFields(mergedErr) {
		if !seen[fe] {
			seen[fe] = true
			p.Add(fe.Field, "%s", fe.Message)
		}
	}
	return p.Err()
}

// mergeWorkspace is draft with ws applied: ws's objects first, then the
// draft's objects that ws does not replace.
func mergeWorkspace(ws, draft model.Workspace) model.Workspace {
	out := model.Workspace{
		Secrets:   append([]model.Secret(nil), ws.Secrets...),
		Gateways:  append([]model.Gateway(nil), ws.Gateways...),
		Upstreams: append([]model.Upstream(nil), ws.Upstreams...),
		Routes:    append([]model.Route(nil), ws.Routes...),
	}
	have := map[string]bool{}
	for _, o := range ws.Objects() {
		have[o.Kind()+"/"+o.ObjectMeta().Name] = true
	}
	for _, o := range draft.Objects() {
		if !have[o.Kind()+"/"+o.ObjectMeta().Name] {
			out.Add(o)
		}
	}
	return out
}

// decodeWorkspace reads a workspace body ({"secrets": [...], "gateways":
// [...], "upstreams": [...], "routes": [...]}) strictly, reporting every
// broken object, each with its list path ("routes[2].gatway").
func decodeWorkspace(r *http.Request) (model.Workspace, error) {
	body, err := readBody(r)
	if err != nil {
		return model.Workspace{}, err
	}
	return strictjson.DecodeWorkspace(body)
}

// applyResponse says what happened to every object.
type applyResponse struct {
	Items []store.ApplyResult `json:"items"`
}

// checkedWorkspace reads and checks the workspace of an apply or validate
// request, answering the problem itself when there is one.
func (s *server) checkedWorkspace(w http.ResponseWriter, r *http.Request) (model.Workspace, bool) {
	ws, err := decodeWorkspace(r)
	if err == nil {
		err = s.checkWorkspace(r, &ws)
	}
	if err != nil {
		s.writeError(w, r, err)
		return ws, false
	}
	return ws, true
}

func (s *server) apply(w http.ResponseWriter, r *http.Request) {
	ws, ok := s.checkedWorkspace(w, r)
	if !ok {
		return
	}
	results, err := s.Store.Apply(r.Context(), auth.Actor(r.Context()), ws)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if results == nil {
		results = []store.ApplyResult{}
	}
	writeJSON(w, http.StatusOK, applyResponse{Items: results})
}

// validate checks a workspace like apply does and stores nothing.
func (s *server) validate(w http.ResponseWriter, r *http.Request) {
	ws, ok := s.checkedWorkspace(w, r)
	if !ok {
		return
	}
	names := make([]string, 0)
	for _, o := range ws.Objects() {
		names = append(names, o.Kind()+"/"+o.ObjectMeta().Name)
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "objects": names})
}
