package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPublishPrintsLintWarnings publishes a gateway with a rule that can
// never match: the publish goes through, and the operator is told which
// rule is dead and why.
func TestPublishPrintsLintWarnings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, e, _ := startServer(t, ctx)
	file := writeFile(t, t.TempDir(), "shadow.yaml", `kind: Gateway
name: edge
listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Upstream
name: web
static: {endpoints: [{address: 127.0.0.1, port: 9000}]}
---
kind: Route
name: all-api
gateway: edge
priority: 20
when: path.prefix("/api")
then: {forward: [{upstream: web}]}
---
kind: Route
name: orders
gateway: edge
priority: 10
when: path.prefix("/api/orders") && method == "GET"
then: {forward: [{upstream: web}]}
`)
	if _, errOut, code := e.client(t, "apply", "-f", file); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	out, errOut, code := e.client(t, "publish", "--gateway", "edge")
	if code != 0 || !strings.Contains(out, "published as version 1") {
		t.Fatalf("publish: exit %d %s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, `warning: rule orders never matches: rule "all-api"`) {
		t.Errorf("stderr lacks the lint warning:\n%s", errOut)
	}
	// Nothing changed since: nothing is published, and the output says so.
	out, errOut, code = e.client(t, "publish", "--gateway", "edge")
	if code != 0 || !strings.Contains(out, "gateway edge unchanged: the draft equals the live version 1, nothing published") {
		t.Fatalf("publish of an unchanged draft: exit %d %s%s", code, out, errOut)
	}
}
