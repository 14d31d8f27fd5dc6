package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

func (s *server) listRevisions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.RevisionFilter{Kind: q.Get("kind"), Name: q.Get("name")}
	pg, err := readPage(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.Limit, f.Offset = pg.limit, pg.offset
	revs, total, err := s.Store.ListRevisions(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(w, r, pg, revs, total)
}

func (s *server) revision(w http.ResponseWriter, r *http.Request) (store.Revision, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		s.writeError(w, r, errNotFound("no revision %q", chi.URLParam(r, "id")))
		return store.Revision{}, false
	}
	rev, err := s.Store.GetRevision(r.Context(), id)
	if err == nil {
		rev, err = s.shownRevision(rev)
	}
	if err != nil {
		s.writeError(w, r, err)
		return store.Revision{}, false
	}
	return rev, true
}

// shownRevision is rev as answers show it: its objects with secret values
// as fingerprints. The store opens them for its readers; its diff it made
// over fingerprints already. Revisions of route tests, which have no
// secret fields, are shown as the store opens them.
func (s *server) shownRevision(rev store.Revision) (store.Revision, error) {
	for _, raw := range []*json.RawMessage{&rev.Before, &rev.After} {
		obj := model.NewObject(rev.Kind)
		if obj == nil || len(*raw) == 0 || string(*raw) == "null" {
			continue
		}
		if err := json.Unmarshal(*raw, obj); err != nil {
			return rev, fmt.Errorf("revision %d: decode %s: %w", rev.ID, rev.Kind, err)
		}
		if !model.HasSecrets(obj) {
			continue
		}
		b, err := json.Marshal(model.Redact(obj, s.Fingerprinter))
		if err != nil {
			return rev, fmt.Errorf("revision %d: encode %s: %w", rev.ID, rev.Kind, err)
		}
		*raw = b
	}
	return rev, nil
}

func (s *server) getRevision(w http.ResponseWriter, r *http.Request) {
	if rev, ok := s.revision(w, r); ok {
		writeJSON(w, http.StatusOK, rev)
	}
}

// revisionDiff answers with the unified diff as text/plain, or wrapped in
// JSON when the client asks for application/json. A change too large to
// diff answers with the note recorded in its place, flagged in JSON.
func (s *server) revisionDiff(w http.ResponseWriter, r *http.Request) {
	rev, ok := s.revision(w, r)
	if !ok {
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") || r.URL.Query().Get("format") == "json" {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": rev.ID, "kind": rev.Kind, "name": rev.Name, "action": rev.Action, "diff": rev.Diff,
			"diffTooLarge": rev.DiffTooLarge,
		})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(rev.Diff))
}
