package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

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
	if err != nil {
		s.writeError(w, r, err)
		return store.Revision{}, false
	}
	return rev, true
}

func (s *server) getRevision(w http.ResponseWriter, r *http.Request) {
	if rev, ok := s.revision(w, r); ok {
		writeJSON(w, http.StatusOK, rev)
	}
}

// revisionDiff answers with the unified diff as text/plain, or wrapped in
// JSON when the client asks for application/json.
func (s *server) revisionDiff(w http.ResponseWriter, r *http.Request) {
	rev, ok := s.revision(w, r)
	if !ok {
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") || r.URL.Query().Get("format") == "json" {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": rev.ID, "kind": rev.Kind, "name": rev.Name, "action": rev.Action, "diff": rev.Diff,
		})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(rev.Diff))
}
