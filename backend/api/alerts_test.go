package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/seal"
)

// fixedTraffic answers every window with the same traffic.
type fixedTraffic struct {
	mu sync.Mutex
	s  alert.Stats
}

func (f *fixedTraffic) Window(context.Context, string, string, time.Time, time.Time) (alert.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s, nil
}

// alertAPI is the test API with a real evaluator (not started: the test
// runs its rounds) over fixed traffic.
func alertAPI(t *testing.T) (*testAPI, *alert.Evaluator, *fixedTraffic) {
	t.Helper()
	src := &fixedTraffic{}
	var e *alert.Evaluator
	a := newTestAPI(t, func(d *Deps) {
		e = alert.New(alert.Options{Store: d.Store, Source: src, Delivery: alert.DeliveryOptions{Attempts: 1}})
		d.Alerts = e
	})
	t.Cleanup(e.Stop)
	a.seed(t)
	return a, e, src
}

// receiver is a webhook receiver that keeps what it got.
type receiver struct {
	mu     sync.Mutex
	auths  []string
	uris   []string
	bodies []map[string]any
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(req.Body).Decode(&body)
		r.mu.Lock()
		r.auths = append(r.auths, req.Header.Get("Authorization"))
		r.uris = append(r.uris, req.URL.RequestURI())
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func TestAlertRulesCRUD(t *testing.T) {
	a, _, _ := alertAPI(t)
	hook := newReceiver(t)
	a.do(t, "admin", "POST", "/api/v1/alerts/notifiers", map[string]any{"name": "ops", "type": "webhook",
		"webhook": map[string]any{"url": hook.srv.URL}}).must(t, http.StatusCreated)
	rule := map[string]any{"name": "api-latency", "gateway": "public", "rule": "api", "metric": "latency", "op": ">",
		"threshold": 250, "window": "5m", "for": "30s", "notifiers": []string{"ops"}}
	got := a.do(t, "editor", "POST", "/api/v1/alerts/rules", rule).must(t, http.StatusCreated).json(t)
	if got["percentile"] != "p99" || got["version"] != 1.0 || got["window"] != "5m0s" || got["updatedBy"] != "token:editor-token" {
		t.Errorf("created %v", got)
	}
	a.do(t, "editor", "POST", "/api/v1/alerts/rules", rule).must(t, http.StatusConflict)
	list := a.do(t, "viewer", "GET", "/api/v1/alerts/rules", nil).must(t, http.StatusOK).json(t)
	if items := list["items"].([]any); len(items) != 1 {
		t.Errorf("list %v", list)
	}
	rule["threshold"] = 500
	rule["version"] = 1
	a.do(t, "editor", "PUT", "/api/v1/alerts/rules/api-latency", rule).must(t, http.StatusOK)
	// The same version again is stale now.
	a.do(t, "editor", "PUT", "/api/v1/alerts/rules/api-latency", rule).must(t, http.StatusConflict)
	rule["version"] = 2
	rule["name"] = "other"
	a.do(t, "editor", "PUT", "/api/v1/alerts/rules/api-latency", rule).must(t, http.StatusBadRequest)
	if g := a.do(t, "viewer", "GET", "/api/v1/alerts/rules/api-latency", nil).must(t, http.StatusOK).json(t); g["threshold"] != 500.0 {
		t.Errorf("after update: %v", g)
	}
	// A notifier in use cannot go.
	p := a.do(t, "admin", "DELETE", "/api/v1/alerts/notifiers/ops", nil).must(t, http.StatusBadRequest)
	if !strings.Contains(string(p.body), "api-latency") {
		t.Errorf("delete of a used notifier: %s", p.body)
	}
	a.do(t, "editor", "DELETE", "/api/v1/alerts/rules/api-latency?version=1", nil).must(t, http.StatusConflict)
	a.do(t, "editor", "DELETE", "/api/v1/alerts/rules/api-latency?version=2", nil).must(t, http.StatusNoContent)
	a.do(t, "viewer", "GET", "/api/v1/alerts/rules/api-latency", nil).must(t, http.StatusNotFound)
	a.do(t, "admin", "DELETE", "/api/v1/alerts/notifiers/ops", nil).must(t, http.StatusNoContent)
	// Editors write rules, not notifiers.
	a.do(t, "editor", "POST", "/api/v1/alerts/notifiers", map[string]any{"name": "x", "type": "webhook",
		"webhook": map[string]any{"url": hook.srv.URL}}).must(t, http.StatusForbidden)
}

func TestAlertInputIsStrict(t *testing.T) {
	a, _, _ := alertAPI(t)
	tests := map[string]struct {
		path   string
		body   any
		fields []string
	}{
		"every problem of a rule": {"/api/v1/alerts/rules", map[string]any{"name": "Bad", "gateway": "public", "metric": "latency",
			"statusClass": "5xx", "percentile": "p95", "op": "==", "threshold": -1, "window": "10s", "minRequests": -1},
			[]string{"name", "statusClass", "percentile", "op", "threshold", "window", "minRequests"}},
		"unknown and miscased fields": {"/api/v1/alerts/rules", `{"name":"a","gateway":"public","metric":"requests","op":">","threshold":1,"window":"1m","Window":"2m","severity":"page"}`,
			[]string{"Window", "severity"}},
		"references": {"/api/v1/alerts/rules", map[string]any{"name": "a", "gateway": "public", "rule": "nope", "metric": "requests",
			"op": "<", "threshold": 1, "window": "1m", "notifiers": []string{"missing"}}, []string{"rule", "notifiers[0]"}},
		"no such gateway": {"/api/v1/alerts/rules", map[string]any{"name": "a", "gateway": "private", "metric": "requests",
			"op": "<", "threshold": 1, "window": "1m"}, []string{"gateway"}},
		"a rule of another gateway is not one": {"/api/v1/alerts/rules", map[string]any{"name": "a", "gateway": "public", "rule": "public",
			"metric": "requests", "op": "<", "threshold": 1, "window": "1m"}, []string{"rule"}},
		"every problem of a notifier": {"/api/v1/alerts/notifiers", map[string]any{"name": "m", "type": "email",
			"email":   map[string]any{"smarthost": "mail.example.com", "from": "not an address", "to": []string{}, "password": "x"},
			"webhook": map[string]any{"url": "ftp://x"}},
			[]string{"webhook", "email.smarthost", "email.from", "email.to", "email.username"}},
		"a webhook URL with a user": {"/api/v1/alerts/notifiers", map[string]any{"name": "w", "type": "webhook",
			"webhook": map[string]any{"url": "https://u:p@hooks.example.com/", "authorization": "Bearer x\r\nX-Evil: 1"}},
			[]string{"webhook.url", "webhook.authorization"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fields := a.do(t, "admin", "POST", tc.path, tc.body).must(t, http.StatusBadRequest).problemFields(t)
			for _, f := range tc.fields {
				if fields[f] == "" {
					t.Errorf("no problem at %s: %v", f, fields)
				}
			}
		})
	}
}

// TestNotifierCredentialsNeverLeave: what a notifier is told to send as
// credentials (the webhook URL, whose path and query carry tokens, its
// Authorization header, the SMTP password) is never in an answer to any
// role, is sealed in the database, is kept by an update that sends the
// URL's fingerprint back or leaves the others out, and reaches the
// receiver.
func TestNotifierCredentialsNeverLeave(t *testing.T) {
	a, _, _ := alertAPI(t)
	hook := newReceiver(t)
	const token, password = "Bearer hook-credential-7f3a", "smtp-password-91c2"
	const path = "/services/T01/B02/url-token-5c7e?key=url-query-9d1b"
	url := hook.srv.URL + path
	a.do(t, "admin", "POST", "/api/v1/alerts/notifiers", map[string]any{"name": "hook", "type": "webhook",
		"webhook": map[string]any{"url": url, "authorization": token}}).must(t, http.StatusCreated)
	created := a.do(t, "admin", "POST", "/api/v1/alerts/notifiers", map[string]any{"name": "mail", "type": "email",
		"email": map[string]any{"smarthost": "127.0.0.1:1", "from": "rd@example.com", "to": []string{"ops@example.com"},
			"username": "rd", "password": password}}).must(t, http.StatusCreated)
	answers := [][]byte{created.body}
	for _, role := range []string{"viewer", "editor", "admin"} {
		answers = append(answers, a.do(t, role, "GET", "/api/v1/alerts/notifiers", nil).must(t, http.StatusOK).body,
			a.do(t, role, "GET", "/api/v1/alerts/notifiers/hook", nil).must(t, http.StatusOK).body,
			a.do(t, role, "GET", "/api/v1/alerts/notifiers/mail", nil).must(t, http.StatusOK).body)
	}
	answers = append(answers, a.do(t, "admin", "GET", "/api/v1/audit", nil).must(t, http.StatusOK).body)
	for _, b := range answers {
		for _, secret := range []string{"hook-credential", password, "url-token", "url-query"} {
			if strings.Contains(string(b), secret) {
				t.Fatalf("a credential (%s) in an answer: %s", secret, b)
			}
		}
	}
	if !strings.Contains(string(answers[2]), `"authorizationSet": true`) || !strings.Contains(string(answers[3]), `"passwordSet": true`) {
		t.Errorf("the answers do not say the credentials are set: %s %s", answers[2], answers[3])
	}
	// A viewer sees where notifications go, and the URL's fingerprint.
	shown := a.do(t, "viewer", "GET", "/api/v1/alerts/notifiers/hook", nil).must(t, http.StatusOK).json(t)["webhook"].(map[string]any)
	if shown["origin"] != hook.srv.URL || shown["url"] != a.fp.Fingerprint(url) {
		t.Errorf("webhook shown as %v, want origin %s and url %s", shown, hook.srv.URL, a.fp.Fingerprint(url))
	}
	rows, err := a.store.DB().Query(`SELECT spec, secrets FROM alert_notifiers`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var spec, sealed string
		rows.Scan(&spec, &sealed)
		if !seal.IsSealed(sealed) || strings.Contains(spec, "url-token") || strings.Contains(spec, "url-query") {
			t.Errorf("at rest: spec %s, credentials %q", spec, sealed)
		}
		n++
	}
	rows.Close()
	if n != 2 {
		t.Errorf("%d notifiers at rest, want 2", n)
	}
	// An update that sends the URL's fingerprint back and leaves the
	// Authorization out keeps both: the test notification carries them.
	a.do(t, "admin", "PUT", "/api/v1/alerts/notifiers/hook", map[string]any{"type": "webhook", "version": 1,
		"webhook": map[string]any{"url": shown["url"]}}).must(t, http.StatusOK)
	d := a.do(t, "admin", "POST", "/api/v1/alerts/notifiers/hook/test", nil).must(t, http.StatusOK).json(t)
	if d["ok"] != true || d["attempts"] != 1.0 || d["event"] != "test" {
		t.Errorf("test delivery %v", d)
	}
	// A fingerprint the server does not know is refused on its field,
	// as is one on a new notifier: there is no URL to keep.
	other := a.fp.Fingerprint("https://elsewhere.example.com/hook")
	p := a.do(t, "admin", "PUT", "/api/v1/alerts/notifiers/hook", map[string]any{"type": "webhook", "version": 2,
		"webhook": map[string]any{"url": other}}).must(t, http.StatusBadRequest).problemFields(t)
	if !strings.Contains(p["webhook.url"], "unknown fingerprint") {
		t.Errorf("an unknown fingerprint: %v", p)
	}
	a.do(t, "admin", "POST", "/api/v1/alerts/notifiers", map[string]any{"name": "copy", "type": "webhook",
		"webhook": map[string]any{"url": shown["url"]}}).must(t, http.StatusBadRequest)
	// "" removes the Authorization; a new URL replaces the old one.
	a.do(t, "admin", "PUT", "/api/v1/alerts/notifiers/hook", map[string]any{"type": "webhook", "version": 2,
		"webhook": map[string]any{"url": hook.srv.URL + "/v2", "authorization": ""}}).must(t, http.StatusOK)
	a.do(t, "admin", "POST", "/api/v1/alerts/notifiers/hook/test", "").must(t, http.StatusOK)
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.auths) != 2 || hook.auths[0] != token || hook.auths[1] != "" {
		t.Errorf("the receiver got Authorization %q", hook.auths)
	}
	if len(hook.uris) != 2 || hook.uris[0] != path || hook.uris[1] != "/v2" {
		t.Errorf("the receiver was posted to %q, want %q then /v2", hook.uris, path)
	}
	if hook.bodies[0]["version"] != "4" || hook.bodies[0]["status"] != "firing" {
		t.Errorf("test body %v", hook.bodies[0])
	}
	// A failing notifier says why, without its password.
	d = a.do(t, "admin", "POST", "/api/v1/alerts/notifiers/mail/test", nil).must(t, http.StatusOK).json(t)
	if d["ok"] != false || d["error"] == "" || strings.Contains(fmt.Sprint(d), password) {
		t.Errorf("test of an unreachable server: %v", d)
	}
}

func TestAlertStatesAndHistory(t *testing.T) {
	a, e, src := alertAPI(t)
	ctx := context.Background()
	a.do(t, "editor", "POST", "/api/v1/alerts/rules", map[string]any{"name": "errors", "gateway": "public",
		"metric": "error-rate", "op": ">", "threshold": 5, "window": "1m"}).must(t, http.StatusCreated)
	a.do(t, "editor", "POST", "/api/v1/alerts/rules", map[string]any{"name": "quiet", "gateway": "public",
		"metric": "requests", "op": "<", "threshold": 1, "window": "1m", "disabled": true}).must(t, http.StatusCreated)
	src.s = alert.Stats{Requests: 10, Classes: map[string]uint64{"5xx": 4, "2xx": 6}}
	e.Reload()
	if err := e.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	states := a.do(t, "viewer", "GET", "/api/v1/alerts/states", nil).must(t, http.StatusOK).json(t)["items"].([]any)
	if len(states) != 2 || states[0].(map[string]any)["state"] != "firing" || states[0].(map[string]any)["value"] != 40.0 ||
		states[1].(map[string]any)["state"] != "disabled" {
		t.Errorf("states %v", states)
	}
	src.s = alert.Stats{Requests: 10, Classes: map[string]uint64{"2xx": 10}}
	if err := e.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	hist := a.do(t, "viewer", "GET", "/api/v1/alerts/history?rule=errors", nil).must(t, http.StatusOK).json(t)
	items := hist["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("history %v", hist)
	}
	in := items[0].(map[string]any)
	if in["value"] != 40.0 || in["resolvedValue"] != 0.0 || in["resolvedAt"] == nil || !strings.Contains(in["summary"].(string), "5xx rate") {
		t.Errorf("incident %v", in)
	}
	a.do(t, "viewer", "GET", "/api/v1/alerts/history?rule=errors&limit=0&sort=x", nil).must(t, http.StatusBadRequest)
	a.do(t, "viewer", "GET", "/api/v1/alerts/states?x=1", nil).must(t, http.StatusBadRequest)
}
