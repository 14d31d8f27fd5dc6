package session

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/rules"
)

// memVersions holds published versions of the gateway "public" in memory.
type memVersions map[int64]model.Workspace

func (m memVersions) PublishedWorkspace(_ context.Context, gateway string, version int64) (int64, model.Workspace, error) {
	if version == 0 {
		for v := range m {
			version = max(version, v)
		}
	}
	ws, ok := m[version]
	if gateway != "public" || !ok {
		return 0, model.Workspace{}, model.Errorf(model.ENOTFOUND, "gateway %q has no published version %d", gateway, version)
	}
	return version, ws, nil
}

func TestParseTarget(t *testing.T) {
	tests := map[string]struct {
		ref replay.Ref
		bad bool
	}{
		"": {ref: replay.Ref{Draft: true}}, "draft": {ref: replay.Ref{Draft: true}}, "live": {}, "v1": {ref: replay.Ref{Version: 1}},
		"v42": {ref: replay.Ref{Version: 42}}, "7": {ref: replay.Ref{Version: 7}},
		"v0": {bad: true}, "v-1": {bad: true}, "v+1": {bad: true}, "v": {bad: true}, "v1 ": {bad: true}, "latest": {bad: true},
		"v99999999999999999999": {bad: true},
	}
	for in, tc := range tests {
		ref, err := ParseTarget(in)
		if (err != nil) != tc.bad || ref != tc.ref {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v, error %v", in, ref, err, tc.ref, tc.bad)
		}
	}
}

// running lists the instance keys of the running sandboxes, sorted.
func (s *Service) running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for key := range s.gateways {
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}

func route(ws *model.Workspace, name string) *model.Route {
	for i := range ws.Routes {
		if ws.Routes[i].Name == name {
			return &ws.Routes[i]
		}
	}
	return nil
}

// TestTargetVersions runs the same request against the draft, the live
// version and an older one, each in its own data plane fed over ADS with
// that version's translation, and checks the answers differ as the
// versions do, that a version whose upstream has other endpoints than the
// draft's leaves the draft's mocks alone, and that at most MaxVersions
// versions' sandboxes run.
func TestTargetVersions(t *testing.T) {
	draft := demo(t)
	draft.update(func(w *model.Workspace) {
		w.Routes = slices.DeleteFunc(w.Routes, func(r model.Route) bool { return r.Name == "web-canary" })
	})
	v1, v2 := demo(t).ws, demo(t).ws
	route(&v2, "web-canary").Then.Rewrite.PathPrefix = "/v3/"
	for i := range v2.Upstreams {
		if v2.Upstreams[i].Name == "web-v1" {
			v2.Upstreams[i].Static.Endpoints = v2.Upstreams[i].Static.Endpoints[:1]
		}
	}
	ads, addr, creds := startADS(t)
	s := New(Options{Store: draft, Versions: memVersions{1: v1, 2: v2}, MaxVersions: 1, ADS: ads, ADSAddr: addr, ADSCredentials: creds,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: 20 * time.Second})
	t.Cleanup(func() { _ = s.Close() })

	canary := &rules.Request{URL: "http://shop.example.com/cart", Headers: http.Header{"X-Canary": {"1"}}}
	static := &rules.Request{URL: "http://shop.example.com/static/app.js"}
	steps := []struct {
		target   string
		req      *rules.Request
		version  int64
		rule     string
		upstream string // "" for any of the weighted split
		path     string
		running  []string
	}{
		{target: "", req: canary, rule: "web", path: "/cart", running: []string{"public"}},
		{target: "live", req: canary, version: 2, rule: "web-canary", upstream: "web-v2", path: "/v3/cart", running: []string{"public", "public/v2"}},
		{target: "live", req: static, version: 2, rule: "static-assets", upstream: "web-v1", path: "/static/app.js", running: []string{"public", "public/v2"}},
		// The draft's web-v1 still has both its mocks.
		{target: "draft", req: static, rule: "static-assets", upstream: "web-v1", path: "/static/app.js", running: []string{"public", "public/v2"}},
		// A second version: the bound of one stops the other.
		{target: "v1", req: canary, version: 1, rule: "web-canary", upstream: "web-v2", path: "/v2/cart", running: []string{"public", "public/v1"}},
		{target: "v2", req: canary, version: 2, rule: "web-canary", upstream: "web-v2", path: "/v3/cart", running: []string{"public", "public/v2"}},
	}
	draftMocks := map[string]bool{}
	for i, st := range steps {
		res, err := s.Do(t.Context(), TestRequest{Gateway: "public", Target: st.target, Request: st.req})
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.target, err)
		}
		rule := ""
		if res.Rule != nil {
			rule = *res.Rule
		}
		if res.Version != st.version || rule != st.rule || res.RuleMismatch != nil || res.Received == nil || res.Received.Path != st.path ||
			st.upstream != "" && (res.Upstream == nil || *res.Upstream != st.upstream) {
			b, _ := json.Marshal(res)
			t.Fatalf("step %d (%s): version %d rule %q, want %d %q %s; %s", i, st.target, res.Version, rule, st.version, st.rule, st.path, b)
		}
		if got := s.running(); !slices.Equal(got, st.running) {
			t.Errorf("step %d (%s): running %v, want %v", i, st.target, got, st.running)
		}
		if res.Version == 0 && *res.Upstream == "web-v1" {
			draftMocks[res.Endpoint] = true
		}
	}
	// The draft's two web-v1 mocks answer still, whatever a version did.
	for len(draftMocks) < 2 {
		res, err := s.Do(t.Context(), TestRequest{Gateway: "public", Request: static})
		if err != nil || res.Response.Status != 200 {
			t.Fatalf("draft web-v1: %v %+v", err, res)
		}
		draftMocks[res.Endpoint] = true
	}
	// Stopping the gateway stops its versions' sandboxes too.
	if err := s.Stop("public"); err != nil {
		t.Fatal(err)
	}
	if got := s.running(); len(got) != 0 {
		t.Errorf("after Stop: %v running", got)
	}
}

func TestTargetRefused(t *testing.T) {
	ads, addr, creds := startADS(t)
	s := New(Options{Store: demo(t), Versions: memVersions{1: demo(t).ws}, ADS: ads, ADSAddr: addr, ADSCredentials: creds,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { _ = s.Close() })
	drafts := newService(t, demo(t))
	tests := map[string]struct {
		s    *Service
		body string
		code string
		says string
	}{
		"not a target":      {s, `{"gateway":"public","target":"latest","request":{"url":"/"}}`, model.EINVALID, `target: want live, draft or a published version such as v3, not "latest"`},
		"version 0":         {s, `{"gateway":"public","target":"v0","request":{"url":"/"}}`, model.EINVALID, "target"},
		"no such version":   {s, `{"gateway":"public","target":"v7","request":{"url":"/"}}`, model.ENOTFOUND, "no published version 7"},
		"no such gateway":   {s, `{"gateway":"nope","target":"live","request":{"url":"/"}}`, model.ENOTFOUND, `"nope"`},
		"no versions known": {drafts, `{"gateway":"public","target":"v1","request":{"url":"/"}}`, model.EINVALID, "drafts only"},
		"a number":          {s, `{"gateway":"public","target":1,"request":{"url":"/"}}`, model.EINVALID, "target"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.s.Send(t.Context(), json.RawMessage(tc.body))
			b, _ := json.Marshal(model.ErrorFields(err))
			if model.ErrorCode(err) != tc.code || !strings.Contains(err.Error()+string(b), tc.says) {
				t.Fatalf("error %v %s, want %s saying %q", err, b, tc.code, tc.says)
			}
		})
	}
	if got := s.running(); len(got) != 0 {
		t.Errorf("sandboxes started for refused requests: %v", got)
	}
}
