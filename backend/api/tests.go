package api

import (
	"context"
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
	if err == nil {
		tests, err = s.redactTests(r.Context(), tests)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSlice(s, w, r, tests)
}

// redactTests returns tests as answers show them: the credentials their
// requests carry read as fingerprints (see routetest.Redacted).
func (s *server) redactTests(ctx context.Context, tests []routetest.Test) ([]routetest.Test, error) {
	if len(tests) == 0 {
		return tests, nil
	}
	ws, err := s.Store.Workspace(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]map[string]bool{}
	out := make([]routetest.Test, len(tests))
	for i, t := range tests {
		if names[t.Gateway] == nil {
			names[t.Gateway] = routetest.CredentialHeaders(ws, t.Gateway)
		}
		out[i] = routetest.Redacted(t, names[t.Gateway], s.Fingerprinter)
	}
	return out, nil
}

// restoreTestCredentials puts back, in t, the stored values of the
// fingerprints a client read and sent back; name is the stored test's
// ("" for a new test, which has none).
func (s *server) restoreTestCredentials(ctx context.Context, t *routetest.Test, name string) error {
	var stored *routetest.Test
	if name != "" {
		st, err := s.Store.GetRouteTest(ctx, name)
		if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
			return err
		}
		if err == nil {
			old, err := routetest.FromStore(st)
			if err != nil {
				return err
			}
			stored = &old
		}
	}
	return routetest.RestoreCredentials(t, stored, s.Fingerprinter)
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
	shown, err := s.redactTests(r.Context(), []routetest.Test{t})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(t.Version, 10)))
	writeJSON(w, status, shown[0])
}

// checkTest validates a test and that its gateway exists, and puts back
// the credentials it names by fingerprint (stored is the name of the test
// it replaces, "" for a new one), reporting every problem at once.
func (s *server) checkTest(r *http.Request, t *routetest.Test, stored string) error {
	var p model.Problems
	p.Merge("", t.Validate())
	if err := s.restoreTestCredentials(r.Context(), t, stored); model.ErrorCode(err) == model.EINVALID {
		p.Merge("", err)
	} else if err != nil {
		return err
	}
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
	if err := s.checkTest(r, &t, ""); err != nil {
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
	p.Merge("", s.checkTest(r, &t, name))
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
	if err == nil {
		tests, err = s.redactTests(r.Context(), tests)
	}
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
		at := model.Index("file.tests", i)
		p.Merge(at, tests[i].Validate())
		// An exported file shows credentials as fingerprints: importing it
		// back keeps the stored values.
		if err := s.restoreTestCredentials(r.Context(), &tests[i], tests[i].Name); model.ErrorCode(err) == model.EINVALID {
			p.Merge(at, err)
		} else if err != nil {
			s.writeError(w, r, err)
			return
		}
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
