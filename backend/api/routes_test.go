package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// registered lists every method+path NewHandler serves under /api/v1, as
// OpenAPI paths ("/routes/{name}").
func registered(t *testing.T, h http.Handler) map[string]bool {
	t.Helper()
	routes, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("NewHandler does not return a chi router")
	}
	out := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/api/v1/") {
			return nil // the UI
		}
		path := strings.TrimSuffix(strings.TrimPrefix(route, "/api/v1"), "/")
		out[method+" "+path] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// openAPIOperations lists method+path and x-required-role of the document.
func openAPIOperations(t *testing.T) map[string]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	out := map[string]string{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				Role string `json:"x-required-role"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			out[strings.ToUpper(method)+" "+path] = op.Role
		}
	}
	return out
}

func TestOpenAPICoversRoutes(t *testing.T) {
	a := newTestAPI(t)
	routes := registered(t, a.h)
	ops := openAPIOperations(t)
	for r := range routes {
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is not documented in openapi.json", r)
		}
	}
	for op := range ops {
		if !routes[op] {
			t.Errorf("openapi.json documents %s, which is not served", op)
		}
	}
	doc := a.do(t, "viewer", "GET", "/api/v1/openapi.json", nil).must(t, http.StatusOK)
	if !json.Valid(doc.body) {
		t.Error("served document is not JSON")
	}
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestAuthEveryRoute walks every registered route and checks, for each, that
// it refuses anonymous callers (except health and login), refuses roles
// below the one the OpenAPI document declares, and lets the declared role
// through authorization. The declared roles themselves follow the policy:
// reads viewer, writes editor, users/tokens/audit, targets, sandbox
// settings, writes to clusters (deploy, export apply), the CA (a
// certificate opens a gateway's configuration) and backups (the whole
// database, password hashes included) admin.
func TestAuthEveryRoute(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	ops := openAPIOperations(t)
	policy := func(op string) string {
		method, path, _ := strings.Cut(op, " ")
		switch {
		case path == "/health" || path == "/auth/login":
			return "none"
		case strings.HasPrefix(path, "/users"), strings.HasPrefix(path, "/tokens"), path == "/audit", strings.HasPrefix(path, "/certs"),
			path == "/backup":
			return "admin"
		case method != "GET" && strings.HasPrefix(path, "/alerts/notifiers"):
			// Notifiers hold credentials and make the server connect out.
			return "admin"
		case method != "GET" && (path == "/targets" || path == "/sandbox/settings" ||
			strings.HasSuffix(path, "/deploy") || strings.Contains(path, "/export/")):
			// Settings (the sandbox's may start a local binary) and writes
			// to clusters outside routedeck.
			return "admin"
		case strings.HasSuffix(path, "/publish/check"), strings.HasSuffix(path, "/replay"):
			// Replay the recent requests a viewer may read; they publish
			// and store nothing.
			return "viewer"
		case method == "GET", path == "/auth/logout",
			// Reads include the published versions with their workspace
			// (GET /gateways/{name}/published/{version}): keys redacted.
			// Read-only questions that need a body.
			path == "/evaluate", path == "/validate", path == "/sandbox/requests",
			path == "/tests/run", path == "/sandbox/simulations", strings.HasSuffix(path, "/explain"):
			return "viewer"
		}
		return "editor"
	}
	lower := map[string][]string{"viewer": nil, "editor": {"viewer"}, "admin": {"viewer", "editor"}}
	names := make([]string, 0, len(ops))
	for op := range registered(t, a.h) {
		names = append(names, op)
	}
	sort.Strings(names)
	for _, op := range names {
		t.Run(op, func(t *testing.T) {
			role := ops[op]
			if want := policy(op); role != want {
				t.Errorf("documented role %q, policy says %q", role, want)
			}
			method, path, _ := strings.Cut(op, " ")
			path = "/api/v1" + pathParam.ReplaceAllStringFunc(path, func(p string) string {
				switch p {
				case "{id}":
					return "999999" // never delete the tokens the walk uses
				case "{version}":
					return "1"
				}
				return "public"
			})
			var body any
			if method != "GET" && method != "DELETE" {
				body = "{}"
			}
			if role == "none" {
				if r := a.do(t, "", method, path, body); r.status == 401 && path == "/api/v1/health" {
					t.Errorf("health wants credentials")
				}
				return
			}
			if r := a.do(t, "", method, path, body); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("anonymous: status %d (WWW-Authenticate %q), want 401", r.status, r.header.Get("WWW-Authenticate"))
			}
			for _, low := range lower[role] {
				if r := a.do(t, low, method, path, body); r.status != http.StatusForbidden {
					t.Errorf("%s: status %d, want 403", low, r.status)
				}
			}
			if r := a.do(t, role, method, path, body); r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
				t.Errorf("%s: status %d, want authorization to pass: %s", role, r.status, r.body)
			}
		})
	}
}
