package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/diff"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

func TestHealthNeedsNoCredentials(t *testing.T) {
	a := newTestAPI(t)
	r := a.do(t, "", "GET", "/api/v1/health", nil).must(t, http.StatusOK)
	if got := strings.TrimSpace(string(r.body)); got != `{
  "status": "ok"
}` {
		t.Errorf("body = %s", got)
	}
}

func TestObjectLifecycle(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)

	// Read: whenText is the text form; a tree condition prints too.
	home := a.do(t, "viewer", "GET", "/api/v1/routes/home", nil).must(t, http.StatusOK).json(t)
	if home["whenText"] != `host == "shop.example.com"` || home["version"] != float64(1) || home["kind"] != "Route" {
		t.Fatalf("home = %v", home)
	}
	api := a.do(t, "viewer", "GET", "/api/v1/routes/api", nil).must(t, http.StatusOK).json(t)
	if !strings.Contains(api["whenText"].(string), `"/api"`) {
		t.Errorf("api whenText = %v", api["whenText"])
	}

	// Update with the version read: accepted, version moves on. Sending
	// back what GET returned (kind, whenText included) must work.
	home["priority"] = 5
	home["when"] = `host == "shop.example.com" && path.prefix("/")`
	upd := a.do(t, "editor", "PUT", "/api/v1/routes/home", home).must(t, http.StatusOK).json(t)
	if upd["version"] != float64(2) || upd["priority"] != float64(5) {
		t.Fatalf("updated = %v", upd)
	}

	// The same write again carries version 1, now stale.
	a.do(t, "editor", "PUT", "/api/v1/routes/home", home).must(t, http.StatusConflict)
	// If-Match works when the body has no version.
	delete(home, "version")
	a.do(t, "editor", "PUT", "/api/v1/routes/home", home, "If-Match", `"1"`).must(t, http.StatusConflict)
	a.do(t, "editor", "PUT", "/api/v1/routes/home", home).must(t, http.StatusBadRequest)
	a.do(t, "editor", "PUT", "/api/v1/routes/home", home, "If-Match", `"2"`).must(t, http.StatusOK)

	// Delete: stale version refused, right one accepted, then gone.
	a.do(t, "editor", "DELETE", "/api/v1/routes/home?version=1", nil).must(t, http.StatusConflict)
	a.do(t, "editor", "DELETE", "/api/v1/routes/home", nil, "If-Match", `"3"`).must(t, http.StatusNoContent)
	a.do(t, "viewer", "GET", "/api/v1/routes/home", nil).must(t, http.StatusNotFound)

	// Creating a name that exists conflicts.
	a.do(t, "editor", "POST", "/api/v1/upstreams", map[string]any{"name": "web",
		"static": map[string]any{"endpoints": []any{map[string]any{"address": "127.0.0.1", "port": 1}}}}).must(t, http.StatusConflict)
	// Deleting what a route still uses is refused.
	a.do(t, "editor", "DELETE", "/api/v1/upstreams/api", nil).must(t, http.StatusBadRequest)
}

func TestListFilters(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	tests := map[string]struct {
		query string
		want  []string
		total int
	}{
		"all routes":       {"", []string{"api", "home"}, 2},
		"by upstream":      {"?upstream=web", []string{"home"}, 1},
		"by gateway":       {"?gateway=public", []string{"api", "home"}, 2},
		"by other gateway": {"?gateway=nope", nil, 0},
		"search":           {"?q=hom", []string{"home"}, 1},
		"paged":            {"?limit=1&offset=1", []string{"home"}, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got struct {
				Items []struct{ Name string } `json:"items"`
				Total int                     `json:"total"`
			}
			r := a.do(t, "viewer", "GET", "/api/v1/routes"+tc.query, nil).must(t, http.StatusOK)
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, it := range got.Items {
				names = append(names, it.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") || got.Total != tc.total {
				t.Errorf("got %v total %d, want %v total %d", names, got.Total, tc.want, tc.total)
			}
		})
	}
	a.do(t, "viewer", "GET", "/api/v1/routes?limit=x&offset=-1", nil).must(t, http.StatusBadRequest)
}

func TestInvalidBodies(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	tests := map[string]struct {
		method, path string
		body         string
		status       int
		fields       []string // every field the problem must name
	}{
		"unknown field": {"POST", "/api/v1/gateways", `{"name":"g","listners":[]}`, 400, []string{"listners"}},
		"wrong type with path": {"POST", "/api/v1/gateways",
			`{"name":"g","listeners":[{"name":"h","port":"x","protocol":"HTTP"}]}`, 400, []string{"listeners[0].port"}},
		"bad condition text": {"POST", "/api/v1/routes",
			`{"name":"r","gateway":"public","when":"host == ","then":{"forward":[{"upstream":"web"}]}}`, 400, []string{"when"}},
		"unknown upstream, object-relative path": {"POST", "/api/v1/routes",
			`{"name":"r","gateway":"public","then":{"forward":[{"upstream":"nope"}]}}`, 400, []string{"then.forward[0].upstream"}},
		"kind mismatch":    {"POST", "/api/v1/routes", `{"kind":"Gateway","name":"r"}`, 400, []string{"kind"}},
		"not json":         {"POST", "/api/v1/routes", `{"name":`, 400, nil},
		"empty body":       {"POST", "/api/v1/routes", ``, 400, nil},
		"two values":       {"POST", "/api/v1/upstreams", `{} {}`, 400, nil},
		"name vs url":      {"PUT", "/api/v1/routes/home", `{"name":"other","version":1,"gateway":"public","then":{"forward":[{"upstream":"web"}]}}`, 400, []string{"name"}},
		"unknown in apply": {"POST", "/api/v1/apply", `{"routes":[{"name":"x","gatway":"public"}]}`, 400, []string{"routes[0].gatway"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, "admin", tc.method, tc.path, tc.body).must(t, tc.status)
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			fields := r.problemFields(t)
			for _, f := range tc.fields {
				if _, ok := fields[f]; !ok {
					t.Errorf("problem does not name %q: %s", f, r.body)
				}
			}
		})
	}
}

func TestApplyIsAllOrNothing(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	bad := map[string]any{
		"upstreams": []any{map[string]any{"name": "fresh", "static": map[string]any{"endpoints": []any{map[string]any{"address": "127.0.0.1", "port": 9003}}}}},
		"routes": []any{
			map[string]any{"name": "ok", "gateway": "public", "then": map[string]any{"forward": []any{map[string]any{"upstream": "fresh"}}}},
			map[string]any{"name": "broken", "gateway": "public", "when": `path.prefix(`, "then": map[string]any{"forward": []any{map[string]any{"upstream": "fresh"}}}},
			map[string]any{"name": "dangling", "gateway": "public", "then": map[string]any{"forward": []any{map[string]any{"upstream": "missing"}}}},
		},
	}
	r := a.do(t, "editor", "POST", "/api/v1/apply", bad).must(t, http.StatusBadRequest)
	if _, ok := r.problemFields(t)["routes[1].when"]; !ok {
		t.Errorf("problem should name routes[1].when: %s", r.body)
	}
	a.do(t, "viewer", "GET", "/api/v1/upstreams/fresh", nil).must(t, http.StatusNotFound)
	a.do(t, "viewer", "GET", "/api/v1/routes/ok", nil).must(t, http.StatusNotFound)

	// Fix the syntax: the reference problem is reported against the input.
	bad["routes"].([]any)[1].(map[string]any)["when"] = `path.prefix("/b")`
	r = a.do(t, "editor", "POST", "/api/v1/validate", bad).must(t, http.StatusBadRequest)
	if _, ok := r.problemFields(t)["routes[2].then.forward[0].upstream"]; !ok {
		t.Errorf("problem should name routes[2].then.forward[0].upstream: %s", r.body)
	}
	bad["routes"] = bad["routes"].([]any)[:2]
	a.do(t, "viewer", "POST", "/api/v1/validate", bad).must(t, http.StatusOK)
	a.do(t, "viewer", "GET", "/api/v1/routes/ok", nil).must(t, http.StatusNotFound)
	r = a.do(t, "editor", "POST", "/api/v1/apply", bad).must(t, http.StatusOK)
	if !strings.Contains(string(r.body), `"created"`) {
		t.Errorf("apply result: %s", r.body)
	}
	a.do(t, "viewer", "GET", "/api/v1/routes/ok", nil).must(t, http.StatusOK)
}

func TestRevisions(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	home := a.do(t, "viewer", "GET", "/api/v1/routes/home", nil).must(t, http.StatusOK).json(t)
	home["priority"] = 7
	a.do(t, "editor", "PUT", "/api/v1/routes/home", home).must(t, http.StatusOK)

	var list struct {
		Items []struct {
			ID     int64  `json:"id"`
			Action string `json:"action"`
			Actor  string `json:"actor"`
		} `json:"items"`
		Total int `json:"total"`
	}
	r := a.do(t, "viewer", "GET", "/api/v1/revisions?kind=Route&name=home", nil).must(t, http.StatusOK)
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	if list.Total != 2 || list.Items[0].Action != "update" || list.Items[0].Actor != "token:editor-token" {
		t.Fatalf("revisions: %s", r.body)
	}
	id := list.Items[0].ID
	path := "/api/v1/revisions/" + jsonNumber(id)
	a.do(t, "viewer", "GET", path, nil).must(t, http.StatusOK)
	diff := a.do(t, "viewer", "GET", path+"/diff", nil).must(t, http.StatusOK)
	if !strings.HasPrefix(diff.header.Get("Content-Type"), "text/plain") || !strings.Contains(string(diff.body), "+priority: 7") {
		t.Errorf("diff (%s):\n%s", diff.header.Get("Content-Type"), diff.body)
	}
	dj := a.do(t, "viewer", "GET", path+"/diff", nil, "Accept", "application/json").must(t, http.StatusOK).json(t)
	if !strings.Contains(dj["diff"].(string), "+priority: 7") || dj["diffTooLarge"] != false {
		t.Errorf("json diff: %v", dj)
	}
	a.do(t, "viewer", "GET", "/api/v1/revisions/999999/diff", nil).must(t, http.StatusNotFound)
	a.do(t, "viewer", "GET", "/api/v1/revisions/abc", nil).must(t, http.StatusNotFound)
}

// TestRevisionTooLargeToDiff reads a revision whose object was past the
// diff caps: the JSON flags it and both forms carry the recorded note.
func TestRevisionTooLargeToDiff(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	obj, err := a.store.Get(context.Background(), model.KindRoute, "home")
	if err != nil {
		t.Fatal(err)
	}
	home := obj.(*model.Route)
	// Descriptions are bounded far below the diff caps; many headers are
	// not (each is a line of the revision's YAML).
	set := make(map[string]string, diff.MaxLines+1)
	for i := range diff.MaxLines + 1 {
		set["x-h-"+strconv.Itoa(i)] = "1"
	}
	home.Then.Headers = &model.HeaderPolicy{Request: &model.HeaderMutation{Set: set}}
	if err := a.store.Update(context.Background(), "test", home); err != nil {
		t.Fatal(err)
	}
	revs, _, err := a.store.ListRevisions(context.Background(), store.RevisionFilter{Kind: model.KindRoute, Name: "home", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/revisions/" + jsonNumber(revs[0].ID) + "/diff"
	note := "Route/home changed, too large to diff"
	dj := a.do(t, "viewer", "GET", path, nil, "Accept", "application/json").must(t, http.StatusOK).json(t)
	if dj["diffTooLarge"] != true || !strings.HasPrefix(dj["diff"].(string), note) {
		t.Errorf("json: %v", dj)
	}
	if text := a.do(t, "viewer", "GET", path, nil).must(t, http.StatusOK); !strings.HasPrefix(string(text.body), note) {
		t.Errorf("text: %s", text.body)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestTokensAndUsers(t *testing.T) {
	a := newTestAPI(t)
	r := a.do(t, "admin", "POST", "/api/v1/tokens", map[string]any{"name": "ci", "role": "viewer"}).must(t, http.StatusCreated).json(t)
	tok, _ := r["token"].(string)
	if !strings.HasPrefix(tok, "rd_") {
		t.Fatalf("token response: %v", r)
	}
	a.tokens["ci"] = tok
	a.do(t, "ci", "GET", "/api/v1/routes", nil).must(t, http.StatusOK)
	a.do(t, "ci", "POST", "/api/v1/routes", map[string]any{"name": "x"}).must(t, http.StatusForbidden)

	list := a.do(t, "admin", "GET", "/api/v1/tokens", nil).must(t, http.StatusOK)
	if strings.Contains(string(list.body), tok) || strings.Contains(string(list.body), "hash") {
		t.Errorf("token list leaks secrets: %s", list.body)
	}
	a.do(t, "admin", "DELETE", "/api/v1/tokens/"+jsonNumber(int64(r["id"].(float64))), nil).must(t, http.StatusNoContent)
	a.do(t, "ci", "GET", "/api/v1/routes", nil).must(t, http.StatusUnauthorized)

	bad := a.do(t, "admin", "POST", "/api/v1/users", map[string]any{"name": "", "role": "root", "password": "short"}).must(t, http.StatusBadRequest)
	if f := bad.problemFields(t); len(f) != 3 {
		t.Errorf("want name, role and password problems, got %v", f)
	}
	a.do(t, "admin", "POST", "/api/v1/users", map[string]any{"name": "ana", "role": "editor", "password": "long enough"}).must(t, http.StatusCreated)
	users := a.do(t, "admin", "GET", "/api/v1/users", nil).must(t, http.StatusOK)
	if !strings.Contains(string(users.body), `"ana"`) || strings.Contains(string(users.body), "argon2") {
		t.Errorf("users: %s", users.body)
	}
	audit := a.do(t, "admin", "GET", "/api/v1/audit", nil).must(t, http.StatusOK)
	if !strings.Contains(string(audit.body), "token") {
		t.Errorf("audit: %s", audit.body)
	}
}

func TestSessionLogin(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	a.do(t, "admin", "POST", "/api/v1/users", map[string]any{"name": "ana", "role": "editor", "password": "long enough"}).must(t, http.StatusCreated)
	a.do(t, "", "POST", "/api/v1/auth/login", map[string]any{"name": "ana", "password": "wrong!!!"}).must(t, http.StatusUnauthorized)
	a.do(t, "", "POST", "/api/v1/auth/login", map[string]any{"name": "bob", "password": "long enough"}).must(t, http.StatusUnauthorized)
	r := a.do(t, "", "POST", "/api/v1/auth/login", map[string]any{"name": "ana", "password": "long enough"}).must(t, http.StatusOK)
	csrf, _ := r.json(t)["csrfToken"].(string)
	setCookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"routedeck_session=", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, want)
		}
	}
	cookie := strings.Split(setCookie, ";")[0]
	me := a.do(t, "", "GET", "/api/v1/auth/me", nil, "Cookie", cookie).must(t, http.StatusOK).json(t)
	if me["name"] != "ana" || me["role"] != "editor" || me["csrfToken"] != csrf {
		t.Errorf("me = %v", me)
	}
	up := map[string]any{"name": "s", "static": map[string]any{"endpoints": []any{map[string]any{"address": "127.0.0.1", "port": 1}}}}
	a.do(t, "", "POST", "/api/v1/upstreams", up, "Cookie", cookie).must(t, http.StatusForbidden)
	a.do(t, "", "POST", "/api/v1/upstreams", up, "Cookie", cookie, "X-CSRF-Token", "nope").must(t, http.StatusForbidden)
	created := a.do(t, "", "POST", "/api/v1/upstreams", up, "Cookie", cookie, "X-CSRF-Token", csrf).must(t, http.StatusCreated).json(t)
	if created["updatedBy"] != "ana" {
		t.Errorf("actor = %v", created["updatedBy"])
	}
	a.do(t, "", "POST", "/api/v1/auth/logout", nil, "Cookie", cookie, "X-CSRF-Token", csrf).must(t, http.StatusNoContent)
	a.do(t, "", "GET", "/api/v1/auth/me", nil, "Cookie", cookie).must(t, http.StatusUnauthorized)
}

func TestLoginThrottled(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	guard := auth.NewLoginGuard()
	guard.SetClock(func() time.Time { return now })
	a := newTestAPI(t, func(d *Deps) { d.LoginGuard = guard })
	a.seed(t)
	for _, name := range []string{"ana", "bob"} {
		a.do(t, "admin", "POST", "/api/v1/users", map[string]any{"name": name, "role": "editor", "password": "long enough"}).must(t, http.StatusCreated)
	}
	login := func(name, password string, header ...string) reply {
		return a.do(t, "", "POST", "/api/v1/auth/login", map[string]any{"name": name, "password": password}, header...)
	}
	for range 6 {
		login("ana", "wrong!!!").must(t, http.StatusUnauthorized)
	}
	// Locked now: even the right password is refused, and saying another
	// client address in a header changes nothing.
	r := login("ana", "long enough", "X-Forwarded-For", "203.0.113.9").must(t, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if d, _ := r.json(t)["detail"].(string); !strings.Contains(d, "try again in 1 s") {
		t.Errorf("detail = %q", d)
	}
	// Unknown names count like wrong passwords, so names cannot be probed
	// past the lock either.
	for range 6 {
		login("nobody", "long enough").must(t, http.StatusUnauthorized)
	}
	login("nobody", "long enough").must(t, http.StatusTooManyRequests)
	// Another user at the same address is not held back by ana's lock.
	login("bob", "long enough").must(t, http.StatusOK)

	now = now.Add(time.Second)
	login("ana", "long enough").must(t, http.StatusOK)
	// Success forgot ana's failures: a typo is a plain 401 again.
	login("ana", "wrong!!!").must(t, http.StatusUnauthorized)
	login("ana", "long enough").must(t, http.StatusOK)
}

func TestNotWiredAnswers501(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	a.do(t, "editor", "POST", "/api/v1/gateways/public/publish", nil).must(t, http.StatusNotImplemented)
	a.do(t, "editor", "POST", "/api/v1/gateways/public/publish", `{"force":true}`).must(t, http.StatusForbidden)
	a.do(t, "viewer", "GET", "/api/v1/gateways/public/proxies", nil).must(t, http.StatusNotImplemented)
	a.do(t, "viewer", "POST", "/api/v1/sandbox/requests", `{"gateway":"public"}`).must(t, http.StatusNotImplemented)
	pub := a.do(t, "viewer", "GET", "/api/v1/gateways/public/published", nil).must(t, http.StatusOK).json(t)
	if pub["total"] != float64(0) {
		t.Errorf("published = %v", pub)
	}
	eps := a.do(t, "viewer", "GET", "/api/v1/upstreams/web/endpoints", nil).must(t, http.StatusOK)
	if !strings.Contains(string(eps.body), `"source": "static"`) {
		t.Errorf("endpoints: %s", eps.body)
	}
}

func TestUnknownEndpointIsProblem(t *testing.T) {
	a := newTestAPI(t)
	r := a.do(t, "viewer", "GET", "/api/v1/nothing", nil).must(t, http.StatusNotFound)
	if r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("content type %q", r.header.Get("Content-Type"))
	}
	a.do(t, "viewer", "PATCH", "/api/v1/routes", nil).must(t, http.StatusMethodNotAllowed)
}

func TestBodyLimit(t *testing.T) {
	a := newTestAPI(t, func(d *Deps) { d.MaxBodyBytes = 64 })
	big := `{"name":"` + strings.Repeat("x", 200) + `"}`
	a.do(t, "editor", "POST", "/api/v1/gateways", big).must(t, http.StatusRequestEntityTooLarge)
}

func TestPanicBecomesProblem(t *testing.T) {
	var logs bytes.Buffer
	s := &server{log: slog.New(slog.NewJSONHandler(&logs, nil))}
	h := s.logger(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/x", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "boom") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("response %d leaks or is wrong: %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("log lacks panic and stack: %s", logs.String())
	}
	if n := strings.Count(logs.String(), `"msg":"http request"`); n != 1 {
		t.Errorf("%d access log lines, want 1", n)
	}
}

func TestRequestID(t *testing.T) {
	a := newTestAPI(t)
	tests := map[string]struct {
		sent string
		keep bool
	}{
		"none":      {"", false},
		"kept":      {"edge-42.a_b", true},
		"injection": {"a b\"c", false},
		"too long":  {strings.Repeat("x", 65), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hdr []string
			if tc.sent != "" {
				hdr = []string{"X-Request-Id", tc.sent}
			}
			r := a.do(t, "", "GET", "/api/v1/routes", nil, hdr...).must(t, http.StatusUnauthorized)
			id := r.header.Get("X-Request-Id")
			var p Problem
			_ = json.Unmarshal(r.body, &p)
			if id == "" || p.RequestID != id || (id == tc.sent) != tc.keep {
				t.Errorf("sent %q, header %q, problem %q", tc.sent, id, p.RequestID)
			}
		})
	}
}
