package api

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/internal/testservers"
)

// Clear credentials of the matrix test. The password has characters that
// JSON escapes, so the search covers the escaped form too.
const (
	matrixPassword = `pw-7f3a<&>"alice`
	matrixHashed   = "{SHA}Gf0kSGJXmBqCA1n0h2JqDNF7nLg=" // already an htpasswd hash: still a credential
	matrixKeyOne   = "ak-5d21e0c9-partner-one"
	matrixKeyTwo   = "ak-90b7f4aa-partner-two"
	matrixHMAC     = "bWF0cml4LWhtYWMta2V5LW5ldmVyLXNob3du"
	matrixJWKS     = `{"keys":[{"kty":"oct","kid":"m1","alg":"HS256","k":"` + matrixHMAC + `"}]}`
)

// credentialRoutes creates a basic-auth route, an API-key route and a JWT
// route with an HMAC key on the seeded gateway, edits each once (so revisions have before and after) and
// publishes the gateway, so that every kind of answer has a credential
// to leak.
func (a *testAPI) credentialRoutes(t *testing.T) {
	t.Helper()
	forward := []any{map[string]any{"upstream": "web"}}
	a.do(t, "editor", "POST", "/api/v1/routes", map[string]any{
		"name": "members", "gateway": "public", "priority": 50, "when": `path.prefix("/members")`,
		"then": map[string]any{"forward": forward, "auth": map[string]any{"basic": map[string]any{
			"users": map[string]any{"alice": matrixPassword, "bob": matrixHashed}}}},
	}).must(t, http.StatusCreated)
	a.do(t, "editor", "POST", "/api/v1/routes", map[string]any{
		"name": "partners", "gateway": "public", "priority": 40, "when": `path.prefix("/partners")`,
		"then": map[string]any{"forward": forward, "auth": map[string]any{"apiKey": map[string]any{
			"header": "x-api-key", "keys": []any{matrixKeyOne, matrixKeyTwo}}}},
	}).must(t, http.StatusCreated)
	a.do(t, "editor", "POST", "/api/v1/routes", map[string]any{
		"name": "tokens", "gateway": "public", "priority": 30, "when": `path.prefix("/tokens")`,
		"then": map[string]any{"forward": forward, "auth": map[string]any{"jwt": map[string]any{
			"issuer": "shop", "jwks": matrixJWKS}}},
	}).must(t, http.StatusCreated)
	for _, name := range []string{"members", "partners", "tokens"} {
		got := a.do(t, "editor", "GET", "/api/v1/routes/"+name, nil).must(t, http.StatusOK).json(t)
		got["priority"] = got["priority"].(float64) + 1
		a.do(t, "editor", "PUT", "/api/v1/routes/"+name, got).must(t, http.StatusOK)
	}
	if _, err := a.store.Publish(t.Context(), "test", "public", "with credentials"); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// Credentials of the matrix's notifiers: a webhook URL whose path and
// query carry tokens, as Slack's and PagerDuty's do, its Authorization
// header and an SMTP password.
const (
	matrixHookPath  = "/services/T0MATRIX/B0MATRIX/hook-path-token-4e1d"
	matrixHookQuery = "hook-query-token-88af"
	matrixHookAuth  = "Bearer hook-auth-token-c3b0"
	matrixSMTPPass  = "smtp-matrix-password-02e7"
)

// credentialAlerts creates a webhook notifier and an email notifier with
// every kind of credential, and an alert rule that fires on the traffic
// src reports and notifies both. The webhook's receiver refuses with a
// status line that echoes the URL it was sent to, so the delivery that
// fails (recorded in the history, logged) has the URL to leak; the
// email's server is not there. It returns the webhook's full URL once
// both deliveries are recorded.
func (a *testAPI) credentialAlerts(t *testing.T, e *alert.Evaluator) string {
	t.Helper()
	echo := testservers.URLEcho(t)
	hookURL := echo.URL + matrixHookPath + "?key=" + matrixHookQuery
	a.do(t, "admin", "POST", "/api/v1/alerts/notifiers", map[string]any{"name": "hook", "type": "webhook",
		"webhook": map[string]any{"url": hookURL, "authorization": matrixHookAuth}}).must(t, http.StatusCreated)
	a.do(t, "admin", "POST", "/api/v1/alerts/notifiers", map[string]any{"name": "mail", "type": "email",
		"email": map[string]any{"smarthost": "127.0.0.1:1", "from": "rd@example.com", "to": []string{"ops@example.com"},
			"username": "rd", "password": matrixSMTPPass}}).must(t, http.StatusCreated)
	a.do(t, "editor", "POST", "/api/v1/alerts/rules", map[string]any{"name": "errors", "gateway": "public",
		"metric": "error-rate", "op": ">", "threshold": 5, "window": "1m", "notifiers": []string{"hook", "mail"}}).must(t, http.StatusCreated)
	e.Reload()
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Deliveries are recorded once tried; ask until both are there.
	for deadline := time.Now().Add(10 * time.Second); ; {
		in, err := a.store.OpenIncidents(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(in) == 1 && len(in[0].Deliveries) == 2 {
			for _, d := range in[0].Deliveries {
				if d.OK || d.Error == "" {
					t.Fatalf("delivery %+v, want a failure that says why", d)
				}
			}
			return hookURL
		}
		if time.Now().After(deadline) {
			t.Fatalf("open incidents %+v, want one with two deliveries", in)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// secretNeedles are the byte strings no answer may hold: each clear value
// as written and as JSON escapes it, the htpasswd hash Envoy gets for the
// clear password, and every base64 line of the private key.
func secretNeedles(key string) map[string]string {
	sum := sha1.Sum([]byte(matrixPassword))
	needles := map[string]string{
		"password hash": "{SHA}" + base64.StdEncoding.EncodeToString(sum[:]),
		"given hash":    matrixHashed,
		"api key 1":     matrixKeyOne,
		"api key 2":     matrixKeyTwo,
		"hmac key":      matrixHMAC,
		"webhook path":  matrixHookPath,
		"webhook query": matrixHookQuery,
		"webhook auth":  matrixHookAuth,
		"smtp password": matrixSMTPPass,
	}
	for _, v := range []string{matrixPassword, matrixHashed} {
		needles["password "+v] = v
		needles["escaped password "+v] = htmlEscaped(v)
		raw, _ := json.Marshal(v)
		needles["json password "+v] = strings.Trim(string(raw), `"`)
	}
	for i, line := range strings.Split(strings.TrimSpace(key), "\n") {
		if !strings.HasPrefix(line, "-----") {
			needles[fmt.Sprintf("private key line %d", i)] = line
		}
	}
	return needles
}

// TestNoRoleReadsACredential is the role matrix for secret values: after a
// TLS secret, a basic-auth route and an API-key route exist (edited and
// published) and alert notifiers with credentials have failed to deliver,
// every GET the API serves, with every name and id it knows, is called as
// each role, and no answer holds a credential, whatever its status; only
// an admin's export with ?secrets=true does. Read-only POSTs that echo
// rules are called too. Nothing the server logged holds one either.
func TestNoRoleReadsACredential(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var e *alert.Evaluator
	traffic := &fixedTraffic{s: alert.Stats{Requests: 10, Classes: map[string]uint64{"5xx": 10}}}
	a := newTestAPI(t, func(d *Deps) {
		d.Logger = logger
		e = alert.New(alert.Options{Store: d.Store, Source: traffic, Logger: logger, Delivery: alert.DeliveryOptions{Attempts: 1}})
		d.Alerts = e
	})
	t.Cleanup(e.Stop)
	_, key := a.seedHTTPS(t)
	a.credentialRoutes(t)
	hookURL := a.credentialAlerts(t, e)
	needles := secretNeedles(key)
	needles["webhook url"] = hookURL

	var revs struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(a.do(t, "viewer", "GET", "/api/v1/revisions?limit=1000", nil).must(t, http.StatusOK).body, &revs); err != nil {
		t.Fatal(err)
	}
	values := map[string][]string{
		"{version}": {"1"},
		"{id}":      nil,
	}
	for _, r := range revs.Items {
		values["{id}"] = append(values["{id}"], fmt.Sprint(r.ID))
	}
	names := map[string][]string{
		"gateways":  {"public"},
		"upstreams": {"web", "api"},
		"routes":    {"members", "partners", "tokens", "home"},
		"secrets":   {"shop-tls"},
		"tests":     {"none"},
		"rules":     {"errors"},
		"notifiers": {"hook", "mail"},
	}
	// Query strings that change what a GET answers.
	queries := map[string][]string{
		"/gateways/{name}/export/envoy": {"", "?version=1", "?type=secrets", "?type=routes&version=1", "?secrets=true"},
		"/revisions/{id}/diff":          {"", "?format=json"},
		"/routes":                       {"", "?gateway=public&limit=1000", "?q=members"},
		"/revisions":                    {"?kind=Route"},
	}

	var paths []string
	for op := range registered(t, a.h) {
		method, path, _ := strings.Cut(op, " ")
		if method != http.MethodGet {
			continue
		}
		expanded := []string{path}
		if before, _, ok := strings.Cut(path, "/{name}"); ok {
			coll := before[strings.LastIndex(before, "/")+1:]
			expanded = nil
			for _, n := range names[coll] {
				expanded = append(expanded, strings.Replace(path, "{name}", n, 1))
			}
		}
		for param, vals := range values {
			var next []string
			for _, p := range expanded {
				if !strings.Contains(p, param) {
					next = append(next, p)
					continue
				}
				for _, v := range vals {
					next = append(next, strings.Replace(p, param, v, 1))
				}
			}
			expanded = next
		}
		qs := queries[path]
		if qs == nil {
			qs = []string{""}
		}
		for _, p := range expanded {
			for _, q := range qs {
				paths = append(paths, p+q)
			}
		}
	}
	sort.Strings(paths)

	check := func(t *testing.T, what string, r reply) {
		t.Helper()
		for name, n := range needles {
			if strings.Contains(string(r.body), n) {
				t.Errorf("%s (status %d) shows the %s", what, r.status, name)
			}
		}
	}
	answered := map[string]bool{}
	for _, role := range auth.Roles {
		t.Run(role, func(t *testing.T) {
			for _, p := range paths {
				r := a.do(t, role, "GET", "/api/v1"+p, nil)
				if strings.Contains(p, "secrets=true") {
					// The one read of credentials there is: admins only,
					// audited (TestExportEnvoyWithSecrets).
					want := http.StatusForbidden
					if role == auth.RoleAdmin {
						want = http.StatusOK
					}
					r.must(t, want)
					if role == auth.RoleAdmin {
						continue
					}
				}
				check(t, "GET "+p, r)
				if r.status == http.StatusOK {
					answered[p] = true
				}
			}
			for _, body := range []map[string]any{
				{"gateway": "public", "request": map[string]any{"url": "http://shop.example.com/members/x"}},
				{"gateway": "public", "request": map[string]any{"url": "http://shop.example.com/partners/x"}},
				{"gateway": "public", "request": map[string]any{"url": "http://shop.example.com/tokens/x"}},
			} {
				check(t, "POST /evaluate", a.do(t, role, "POST", "/api/v1/evaluate", body).must(t, http.StatusOK))
			}
			route := a.do(t, role, "GET", "/api/v1/routes/members", nil).must(t, http.StatusOK)
			if !strings.Contains(string(route.body), a.fp.Fingerprint(matrixPassword)) {
				t.Errorf("route members does not show the password's fingerprint: %s", route.body)
			}
		})
	}
	for name, n := range needles {
		if strings.Contains(logs.String(), n) {
			t.Errorf("the server's log shows the %s", name)
		}
	}
	// The walk must have read every kind of answer that holds credentials,
	// or it proves nothing.
	for _, p := range []string{
		"/routes", "/routes/members", "/routes/partners", "/secrets/shop-tls", "/gateways/public/published/1",
		"/gateways/public/export/envoy", "/gateways/public/export/envoy?version=1",
		"/revisions/" + values["{id}"][0] + "/diff", "/audit",
		"/alerts/notifiers", "/alerts/notifiers/hook", "/alerts/notifiers/mail", "/alerts/history",
	} {
		if !answered[p] {
			t.Errorf("GET %s never answered 200", p)
		}
	}
}

// storedAuth reads route name's credentials from the store itself.
func (a *testAPI) storedAuth(t *testing.T, name string) *model.Auth {
	t.Helper()
	obj, err := a.store.Get(t.Context(), model.KindRoute, name)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*model.Route).Then.Auth
}

// TestCredentialsSurviveARoundTrip: what a client reads it can send back,
// by PUT or apply, and the stored credentials stay; a fingerprint the
// server does not know is refused on its field; a clear value replaces.
func TestCredentialsSurviveARoundTrip(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	a.credentialRoutes(t)
	want := map[string]string{"alice": matrixPassword, "bob": matrixHashed}

	got := a.do(t, "editor", "GET", "/api/v1/routes/members", nil).must(t, http.StatusOK).json(t)
	got["priority"] = 7
	a.do(t, "editor", "PUT", "/api/v1/routes/members", got).must(t, http.StatusOK)
	if users := a.storedAuth(t, "members").Basic.Users; !maps.Equal(users, want) {
		t.Fatalf("after PUT of what GET read, users = %v", users)
	}

	// apply of the list as read, less the view's extra fields, as `get -o
	// yaml` prints it.
	list := a.do(t, "viewer", "GET", "/api/v1/routes?limit=1000", nil).must(t, http.StatusOK).json(t)
	for _, it := range list["items"].([]any) {
		delete(it.(map[string]any), "kind")
		delete(it.(map[string]any), "whenText")
	}
	a.do(t, "editor", "POST", "/api/v1/apply", map[string]any{"routes": list["items"]}).must(t, http.StatusOK)
	if users := a.storedAuth(t, "members").Basic.Users; !maps.Equal(users, want) {
		t.Fatalf("after apply of what GET read, users = %v", users)
	}
	if keys := a.storedAuth(t, "partners").APIKey.Keys; !slices.Equal(keys, []string{matrixKeyOne, matrixKeyTwo}) {
		t.Fatalf("after apply of what GET read, keys = %v", keys)
	}

	// A fingerprint of another route's value, or of nothing, is unknown here.
	got = a.do(t, "editor", "GET", "/api/v1/routes/members", nil).must(t, http.StatusOK).json(t)
	basic := got["then"].(map[string]any)["auth"].(map[string]any)["basic"].(map[string]any)
	basic["users"].(map[string]any)["carol"] = a.fp.Fingerprint(matrixKeyOne)
	fields := a.do(t, "editor", "PUT", "/api/v1/routes/members", got).must(t, http.StatusBadRequest).problemFields(t)
	if !strings.Contains(fields["then.auth.basic.users.carol"], "unknown fingerprint") {
		t.Errorf("problems = %v", fields)
	}
	delete(got, "kind")
	delete(got, "whenText")
	ws := map[string]any{"routes": []any{got}}
	fields = a.do(t, "editor", "POST", "/api/v1/apply", ws).must(t, http.StatusBadRequest).problemFields(t)
	if !strings.Contains(fields["routes[0].then.auth.basic.users.carol"], "unknown fingerprint") {
		t.Errorf("apply problems = %v", fields)
	}
	a.do(t, "editor", "POST", "/api/v1/routes", map[string]any{
		"name": "copy", "gateway": "public", "then": map[string]any{"forward": []any{map[string]any{"upstream": "web"}},
			"auth": map[string]any{"apiKey": map[string]any{"header": "x-api-key", "keys": []any{a.fp.Fingerprint(matrixKeyOne)}}}},
	}).must(t, http.StatusBadRequest)

	// A clear value replaces; the others stay.
	basic["users"].(map[string]any)["carol"] = "carol-new-password"
	a.do(t, "editor", "PUT", "/api/v1/routes/members", got).must(t, http.StatusOK)
	want["carol"] = "carol-new-password"
	if users := a.storedAuth(t, "members").Basic.Users; !maps.Equal(users, want) {
		t.Fatalf("after adding carol, users = %v", users)
	}
}

// syncBuffer collects what the server logs while requests run.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
