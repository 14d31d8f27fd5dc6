package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/store"
)

func (s *server) listTests(w http.ResponseWriter, r *http.Request) {
	tests, err := routetest.Load(r.Context(), s.Store, r.URL.Query().Get("gateway"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSlice(s, w, r, tests)
}

func (s *server) getTest(w http.ResponseWriter, r *http.Request) {
	st, err := s.Store.GetRouteTest(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeStoredTest(w, r, http.StatusOK, st)
}

func (s *server) writeStoredTest(w http.ResponseWriter, r *http.Request, status int, st store.RouteTest) {
	t, err := routetest.FromStore(st)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(t.Version, 10)))
	writeJSON(w, status, t)
}

// checkTest validates a test and that its gateway exists, reporting both.
func (s *server) checkTest(r *http.Request, t *routetest.Test) error {
	var p model.Problems
	p.Merge("", t.Validate())
	if t.Gateway != "" {
		if _, err := s.Store.Get(r.Context(), model.KindGateway, t.Gateway); model.ErrorCode(err) == model.ENOTFOUND {
			p.Add("gateway", "no gateway %q", t.Gateway)
		} else if err != nil {
			return err
		}
	}
	return p.Err()
}

func (s *server) createTest(w http.ResponseWriter, r *http.Request) {
	var t routetest.Test
	if err := decode(r, &t); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkTest(r, &t); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := t.ToStore()
	if err == nil {
		err = s.Store.CreateRouteTest(r.Context(), auth.Actor(r.Context()), &st)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/tests/"+url.PathEscape(t.Name))
	s.writeStoredTest(w, r, http.StatusCreated, st)
}

func (s *server) updateTest(w http.ResponseWriter, r *http.Request) {
	var t routetest.Test
	if err := decode(r, &t); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	switch {
	case t.Name == "":
		t.Name = name
	case t.Name != name:
		s.writeError(w, r, fieldError("name", fmt.Sprintf("%q does not match the URL (%q); renaming is not supported", t.Name, name)))
		return
	}
	if t.Version == 0 {
		v, err := versionFrom(r, false)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		t.Version = v
	}
	var p model.Problems
	p.Merge("", s.checkTest(r, &t))
	if t.Version == 0 {
		p.Add("version", "required: send the version you read (or If-Match) so concurrent edits are detected")
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := t.ToStore()
	if err == nil {
		err = s.Store.UpdateRouteTest(r.Context(), auth.Actor(r.Context()), &st)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeStoredTest(w, r, http.StatusOK, st)
}

func (s *server) deleteTest(w http.ResponseWriter, r *http.Request) {
	version, err := versionFrom(r, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Store.DeleteRouteTest(r.Context(), auth.Actor(r.Context()), chi.URLParam(r, "name"), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// runTestsRequest is the body of POST /tests/run. Without Tests the stored
// tests of Gateway run ("" for every gateway); with Tests, those run
// instead and nothing is stored (the CLI's `test -f`).
type runTestsRequest struct {
	Gateway string           `json:"gateway"`
	Tests   []routetest.Test `json:"tests,omitempty"`
}

func (s *server) runTests(w http.ResponseWriter, r *http.Request) {
	var req runTestsRequest
	if err := decodeOptional(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var (
		rep routetest.Report
		err error
	)
	if req.Tests == nil {
		rep, err = routetest.RunStored(r.Context(), s.Store, req.Gateway, s.TestPlane)
	} else {
		var p model.Problems
		for i := range req.Tests {
			t := &req.Tests[i]
			if t.Gateway == "" {
				t.Gateway = req.Gateway
			}
			p.Merge(model.Index("tests", i), t.Validate())
		}
		if err := p.Err(); err != nil {
			s.writeError(w, r, err)
			return
		}
		rep, err = routetest.RunDraft(r.Context(), s.Store, req.Gateway, req.Tests, s.TestPlane)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// envoyExport is the answer of GET /tests/envoy: a router_check_tool test
// file and what it could not say.
type envoyExport struct {
	File    any                 `json:"file"`
	Skipped []routetest.Skipped `json:"skipped"`
}

func (s *server) exportEnvoyTests(w http.ResponseWriter, r *http.Request) {
	gateway := r.URL.Query().Get("gateway")
	if gateway != "" {
		if _, err := s.Store.Get(r.Context(), model.KindGateway, gateway); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	tests, err := routetest.Load(r.Context(), s.Store, gateway)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tf, skipped := routetest.ExportEnvoy(tests)
	raw, err := routetest.MarshalEnvoy(tf)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if skipped == nil {
		skipped = []routetest.Skipped{}
	}
	writeJSON(w, http.StatusOK, envoyExport{File: json.RawMessage(raw), Skipped: skipped})
}

// envoyImport is the body of POST /tests/envoy.
type envoyImport struct {
	Gateway string          `json:"gateway"`
	File    json.RawMessage `json:"file"`
}

// importedTest says what an import did to one test.
type importedTest struct {
	Name    string `json:"name"`
	Action  string `json:"action"` // created or updated
	Version int64  `json:"version"`
}

// importEnvoyTests stores the tests of a router_check_tool file under a
// gateway, creating or replacing them by name. The file is checked whole
// first: one problem anywhere and nothing is stored.
func (s *server) importEnvoyTests(w http.ResponseWriter, r *http.Request) {
	var req envoyImport
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var p model.Problems
	if req.Gateway == "" {
		p.Add("gateway", "required")
	} else if _, err := s.Store.Get(r.Context(), model.KindGateway, req.Gateway); model.ErrorCode(err) == model.ENOTFOUND {
		p.Add("gateway", "no gateway %q", req.Gateway)
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	var tests []routetest.Test
	if len(req.File) == 0 {
		p.Add("file", "required: a router_check_tool test file ({\"tests\": [...]})")
	} else if tf, err := routetest.ParseEnvoy(req.File); err != nil {
		p.Merge("file", err)
	} else if tests, err = routetest.ImportEnvoy(tf, req.Gateway); err != nil {
		p.Merge("file", err)
	}
	for i := range tests {
		p.Merge(model.Index("file.tests", i), tests[i].Validate())
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	actor := auth.Actor(r.Context())
	out := make([]importedTest, 0, len(tests))
	for _, t := range tests {
		st, err := t.ToStore()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		action := "created"
		old, err := s.Store.GetRouteTest(r.Context(), t.Name)
		switch {
		case err == nil:
			action, st.Version = "updated", old.Version
			err = s.Store.UpdateRouteTest(r.Context(), actor, &st)
		case model.ErrorCode(err) == model.ENOTFOUND:
			err = s.Store.CreateRouteTest(r.Context(), actor, &st)
		}
		if err != nil {
			s.writeError(w, r, fmt.Errorf("import route test %q: %w", t.Name, err))
			return
		}
		out = append(out, importedTest{Name: t.Name, Action: action, Version: st.Version})
	}
	writeItems(w, out)
}
