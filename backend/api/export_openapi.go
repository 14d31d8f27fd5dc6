package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/apidoc"
	"github.com/routedeck/routedeck/backend/model"
)

// exportOpenAPI answers GET /gateways/{name}/export/openapi: the OpenAPI
// 3.1 document of the gateway's published routes (the draft when it was
// never published, or ?version=N), and what of the rules it cannot carry.
// ?download=true answers the document alone, as a file to save.
func (s *server) exportOpenAPI(w http.ResponseWriter, r *http.Request) {
	if err := onlyQuery(r, "version", "download"); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	q := r.URL.Query()
	var p model.Problems
	var version int64
	if v := q.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			p.Add("version", "must be a published version number (1, 2, ...), not %q", v)
		}
		version = n
	}
	download := false
	switch v := q.Get("download"); v {
	case "", "false":
	case "true":
		download = true
	default:
		p.Add("download", "must be true or false, not %q", v)
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if _, err := s.Store.Get(ctx, model.KindGateway, name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if version == 0 {
		list, err := s.Store.ListPublished(ctx, name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, pub := range list {
			version = max(version, pub.Version)
		}
	}
	var ws model.Workspace
	label := "draft"
	if version > 0 {
		pub, err := s.Store.GetPublished(ctx, name, version)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ws, label = pub.Workspace, strconv.FormatInt(version, 10)
	} else {
		var err error
		if ws, err = s.Store.GatewayWorkspace(ctx, name); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	doc, issues, err := apidoc.Document(ws, name, apidoc.Options{Version: label})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if download {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.openapi.json"`)
		writeJSON(w, http.StatusOK, doc)
		return
	}
	if issues == nil {
		issues = []apidoc.Issue{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": label, "document": doc, "report": issues})
}
