package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/store"
)

// TestPublishRunsRouteTests saves a failing route test for the demo gateway
// and checks that publish refuses with the failure listed, that only an
// admin may force it, that forcing is audited, and that a passing test lets
// an ordinary publish through.
func TestPublishRunsRouteTests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleEditor, auth.RoleAdmin)

	test := `{"name": "api-to-api", "gateway": "public", "version": %s,
		"request": {"url": "http://shop.example.com/api/cart"},
		"expect": {"rule": "shop-api", "upstream": "%s"}}`
	if code, body := call("editor", "POST", "/tests", strings.Replace(strings.Replace(test, "%s", "0", 1), "%s", "web-v1", 1)); code != 201 {
		t.Fatalf("create test: %d %s", code, body)
	}

	code, body := call("editor", "POST", "/gateways/public/publish", "")
	if code != http.StatusConflict {
		t.Fatalf("publish with a failing test: %d %s", code, body)
	}
	var problem struct {
		Detail string `json:"detail"`
		Errors []struct{ Field, Message string }
	}
	if err := json.Unmarshal([]byte(body), &problem); err != nil {
		t.Fatal(err)
	}
	// Both engines see the failure: the evaluator and the simulated Envoy.
	if problem.Detail != "1 of 1 route tests failed" || len(problem.Errors) != 2 ||
		problem.Errors[0].Field != "tests.api-to-api.upstream" || problem.Errors[0].Message != `evaluator: expected "web-v1", got "api"` ||
		problem.Errors[1].Field != "tests.api-to-api.upstream" || problem.Errors[1].Message != `sim: expected "web-v1", got "api"` {
		t.Errorf("problem: %s", body)
	}
	if code, body := call("editor", "POST", "/gateways/public/publish", `{"force": true}`); code != http.StatusForbidden {
		t.Errorf("editor force: %d %s", code, body)
	}
	if code, body := call("admin", "POST", "/gateways/public/publish", `{"force": true}`); code != 200 || !strings.Contains(body, `"version": 1`) {
		t.Fatalf("admin force: %d %s", code, body)
	}
	entries, err := svc.Store().ListAudit(ctx, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var forced *store.AuditEntry
	for i := range entries {
		if entries[i].Action == "publish.force" {
			forced = &entries[i]
		}
	}
	if forced == nil || forced.Actor != "token:admin" || forced.Target != "public" || !strings.Contains(forced.Detail, "tests.api-to-api.upstream") {
		t.Errorf("publish.force audit entry: %+v", forced)
	}

	if code, body := call("editor", "PUT", "/tests/api-to-api", strings.Replace(strings.Replace(test, "%s", "1", 1), "%s", "api", 1)); code != 200 {
		t.Fatalf("fix test: %d %s", code, body)
	}
	// The tests run before the draft is compared with the live version:
	// they pass now, and the draft is the forced version 1, so nothing
	// new is published.
	if code, body := call("editor", "POST", "/gateways/public/publish", ""); code != 200 || !strings.Contains(body, `"version": 1`) ||
		!strings.Contains(body, `"unchanged": true`) {
		t.Errorf("publish with passing tests of an unchanged draft: %d %s", code, body)
	}
}
