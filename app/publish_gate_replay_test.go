package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/publishgate"
	"github.com/routedeck/routedeck/internal/simtraffic"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// TestPublishGateHoldsBack runs the whole service with the demo gateway
// under a publish gate. Requests sent through a proxy of the published
// gateway (the simulated Envoy with the gateway's certificate, reporting
// over ALS) are captured; the replay engine judges the draft by them. An
// edit of one rule changes only that rule's requests and passes; an edit
// of the gateway's default answer changes a request no edited rule decides
// and is held back with the reason, until an admin overrides the gate,
// which is audited.
func TestPublishGateHoldsBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleEditor, auth.RoleAdmin)
	mustCall := func(role, method, path, body string, want int) string {
		t.Helper()
		code, out := call(role, method, path, body)
		if code != want {
			t.Fatalf("%s %s: %d %s", method, path, code, out)
		}
		return out
	}
	editObject := func(path string, edit func(map[string]any)) {
		t.Helper()
		var obj map[string]any
		if err := json.Unmarshal([]byte(mustCall("editor", "GET", path, "", 200)), &obj); err != nil {
			t.Fatal(err)
		}
		edit(obj)
		b, _ := json.Marshal(obj)
		mustCall("editor", "PUT", path, string(b), 200)
	}
	editObject("/gateways/public", func(g map[string]any) {
		g["publishGate"] = map[string]any{"window": "1h", "maxChangedPercent": 50, "blockOutsideEditedRules": true}
	})
	// Nothing is live: the gate has nothing to compare with.
	mustCall("editor", "POST", "/gateways/public/publish", "", 200)

	// A proxy of the published gateway, and traffic through it.
	is, err := svc.ca.IssueGateway("public", 0)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	dp, err := sim.Start(sim.DataPlaneOptions{ADS: svc.ADSAddr().String(), NodeID: "public-1", Cluster: "public",
		TLS: svc.ca.ClientTLS(cert), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	sent := []simtraffic.Request{
		{Host: "shop.example.com", Path: "/cart"},          // web, the weighted split
		{Host: "shop.example.com", Path: "/api/orders"},    // shop-api
		{Host: "any.example.com", Path: "/healthz"},        // healthz, a direct response
		{Host: "shop.example.com", Path: "/catalog/shoes"}, // old-catalog, a redirect
		{Host: "nobody.example.com", Path: "/x"},           // no rule: the default answer
	}
	simtraffic.Send(ctx, t, dp, svc.AccessLog(), "public", sent)

	check := func(live int64) publishgate.Check {
		t.Helper()
		var c publishgate.Check
		if err := json.Unmarshal([]byte(mustCall("editor", "POST", "/gateways/public/publish/check", "", 200)), &c); err != nil {
			t.Fatal(err)
		}
		if c.Live != live || c.Window != "1h0m0s" || c.Report == nil || c.Report.Total != len(sent) || c.Report.Fidelity.Requests != 0 {
			b, _ := json.Marshal(c.Report)
			t.Fatalf("check: %+v\n%s", c, b)
		}
		return c
	}

	// One rule edited: only its request changes.
	editObject("/routes/shop-api", func(r map[string]any) {
		r["then"].(map[string]any)["forward"] = []any{map[string]any{"upstream": "web-v2"}}
	})
	c := check(1)
	if c.Report.Changed != 1 || c.Verdict.Blocked || c.Verdict.Outside != 0 || strings.Join(c.Verdict.EditedRules, ",") != "shop-api" ||
		c.Verdict.ChangedPercent != 20 || c.Verdict.Gate == nil || *c.Verdict.Gate.MaxChangedPercent != 50 {
		t.Fatalf("one rule edited: %s; verdict %+v", c.Report.Summary, c.Verdict)
	}

	// The default answer changes: a request no edited rule decides.
	editObject("/gateways/public", func(g map[string]any) {
		g["defaultResponse"].(map[string]any)["status"] = 410
	})
	c = check(1)
	if c.Report.Changed != 2 || !c.Verdict.Blocked || c.Verdict.Outside != 1 || len(c.Verdict.Reasons) != 1 ||
		c.Verdict.Reasons[0].Limit != "blockOutsideEditedRules" || !strings.Contains(c.Verdict.Reasons[0].Message, "(no rule) → (no rule)") {
		t.Fatalf("default answer edited: %s; verdict %+v", c.Report.Summary, c.Verdict)
	}
	var problem struct {
		Status int
		Detail string
		Errors []struct{ Field, Message string }
	}
	if err := json.Unmarshal([]byte(mustCall("editor", "POST", "/gateways/public/publish", "", http.StatusConflict)), &problem); err != nil {
		t.Fatal(err)
	}
	if len(problem.Errors) != 1 || problem.Errors[0].Field != "publishGate.blockOutsideEditedRules" ||
		!strings.Contains(problem.Errors[0].Message, "1 changed request outside the edited rules") {
		t.Fatalf("refusal: %+v", problem)
	}
	mustCall("editor", "POST", "/gateways/public/publish", `{"overrideGate": true}`, http.StatusForbidden)
	if out := mustCall("admin", "POST", "/gateways/public/publish", `{"overrideGate": true}`, 200); !strings.Contains(out, `"version": 2`) {
		t.Fatalf("override: %s", out)
	}
	entries, err := svc.Store().ListAudit(ctx, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Action == "publish.gate-override" {
			found = e.Actor == "token:admin" && e.Target == "public" && strings.Contains(e.Detail, "outside the edited rules")
		}
	}
	if !found {
		t.Fatalf("no publish.gate-override audit entry: %+v", entries)
	}
	// Version 2 is live: the draft equals it, nothing changes.
	if c = check(2); c.Report.Changed != 0 || c.Verdict.Blocked {
		t.Fatalf("after the override: %+v", c)
	}
}
