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
//
// Everything is checked in one pass, so a client fixes everything in one
// round: decodeErr (the body's field problems, its fields left at zero)
// and conditions that do not parse are reported with what the checks
// find in the rest, less the checks' follow-ons of those fields
// (strictjson.Hidden), each problem once.
func (s *server) checkWorkspace(r *http.Request, ws *model.Workspace, decodeErr error) error {
	var p model.Problems
	p.Merge("", decodeErr)
	p.Merge("", resolveWorkspace(ws))
	known := p.List()
	seen := map[model.FieldError]bool{}
	for _, fe := range known {
		seen[fe] = true
	}
	add := func(prefix string, err error) {
		var q model.Problems
		q.Merge(prefix, err)
		for _, fe := range q.List() {
			if !seen[fe] && !strictjson.Hidden(fe.Field, known) {
				seen[fe] = true
				p.Add(fe.Field, "%s", fe.Message)
			}
		}
	}
	draft, err := s.Store.Workspace(r.Context())
	if err != nil {
		if p.Len() > 0 {
			// The body's own problems are the answer still.
			return p.Err()
		}
		return fmt.Errorf("load draft: %w", err)
	}
	// Objects read from the server carry fingerprints for their secret
	// values (and secrets may leave their keys out): they keep the draft's.
	add("", model.RestoreWorkspaceSecrets(ws, draft, s.Fingerprinter))
	for i := range ws.Secrets {
		add(model.Index("secrets", i), translate.Validate(&ws.Secrets[i]))
	}
	for i := range ws.Gateways {
		add(model.Index("gateways", i), translate.Validate(&ws.Gateways[i]))
	}
	for i := range ws.Upstreams {
		add(model.Index("upstreams", i), translate.Validate(&ws.Upstreams[i]))
	}
	for i := range ws.Routes {
		add(model.Index("routes", i), translate.Validate(&ws.Routes[i]))
	}
	// What is wrong between objects too (unknown upstreams, duplicate
	// names).
	merged := mergeWorkspace(*ws, draft)
	mergedErr := merged.Validate()
	if p.Len() == 0 {
		return mergedErr
	}
	add("", mergedErr)
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
// broken object, each with its list path ("routes[2].gatway"). The
// workspace comes back with field problems, nil after a syntax error or a
// limit (strictjson.DecodeWorkspace).
func decodeWorkspace(r *http.Request) (*model.Workspace, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return strictjson.DecodeWorkspace(body)
}

// applyResponse says what happened to every object.
type applyResponse struct {
	Items []store.ApplyResult `json:"items"`
}

// checkedWorkspace reads and checks the workspace of an apply or validate
// request, answering the problem itself when there is one. A body whose
// fields did not all decode is still checked, so one answer holds its
// decoding problems and what the checks find in the rest of every object
// (less their follow-ons of a field that did not decode).
func (s *server) checkedWorkspace(w http.ResponseWriter, r *http.Request) (model.Workspace, bool) {
	ws, decodeErr := decodeWorkspace(r)
	if ws == nil {
		s.writeError(w, r, decodeErr)
		return model.Workspace{}, false
	}
	if err := s.checkWorkspace(r, ws, decodeErr); err != nil {
		s.writeError(w, r, err)
		return *ws, false
	}
	return *ws, true
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
