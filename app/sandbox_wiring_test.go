package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
)

// TestSandboxTestsAndSimulations runs the demo through the service as a user would:
// route tests report both engines, a test the simulated Envoy disagrees
// with fails there, and a traffic simulation answers with the split.
func TestSandboxTestsAndSimulations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, call := apiService(t, ctx, auth.RoleEditor)
	post := func(path, body string, out any) {
		t.Helper()
		code, b := call(auth.RoleEditor, "POST", path, body)
		if code != 200 {
			t.Fatalf("POST %s: %d %s", path, code, b)
		}
		if err := json.Unmarshal([]byte(b), out); err != nil {
			t.Fatal(err)
		}
	}

	var rep struct {
		Engines []string
		Passed  int
		Items   []struct {
			Name    string
			Message string
		}
	}
	post("/tests/run", `{"gateway": "public", "tests": [
		{"name": "api", "request": {"url": "http://shop.example.com/api/orders"},
		 "expect": {"rule": "shop-api", "upstream": "api", "status": 200, "requestHeaders": {"host": "shop.example.com"}}},
		{"name": "wrong-path", "request": {"url": "http://shop.example.com/api/orders"}, "expect": {"path": "/nowhere"}}]}`, &rep)
	if strings.Join(rep.Engines, ",") != "evaluator,sim" || rep.Passed != 1 || len(rep.Items) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if msg := rep.Items[1].Message; !strings.Contains(msg, "evaluator: path") || !strings.Contains(msg, "sim: path") {
		t.Errorf("a wrong path is not reported by both engines: %s", msg)
	}

	var sim struct {
		PerUpstream map[string]int
		Statuses    map[string]int
		Failed      int
	}
	post("/sandbox/simulations", `{"gateway": "public", "requests": 200, "concurrency": 8,
		"mix": [{"weight": 1, "request": {"url": "http://shop.example.com/"}}]}`, &sim)
	total := 0
	for _, n := range sim.PerUpstream {
		total += n
	}
	if total != 200 || sim.Statuses["200"] != 200 || sim.Failed != 0 {
		t.Errorf("simulation %+v", sim)
	}
}

// TestDeletedGatewaySandboxStops deletes a gateway whose sandbox runs: the
// sandbox (its data plane and listeners) stops instead of lingering.
func TestDeletedGatewaySandboxStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleEditor)
	if code, b := call(auth.RoleEditor, "POST", "/gateways", `{"name": "lab", "listeners": [{"name": "http", "port": 9000, "protocol": "HTTP"}]}`); code != 201 && code != 200 {
		t.Fatalf("create gateway: %d %s", code, b)
	}
	code, b := call(auth.RoleEditor, "POST", "/sandbox/requests", `{"gateway": "lab", "request": {"url": "http://lab.example/"}}`)
	var reply struct{ Engine string }
	if err := json.Unmarshal([]byte(b), &reply); code != 200 || err != nil || reply.Engine != "sim" {
		t.Fatalf("sandbox request: %d %s", code, b)
	}
	if got := svc.sandbox.Running(); !slices.Contains(got, "lab") {
		t.Fatalf("running sandboxes %v, want lab among them", got)
	}
	code, b = call(auth.RoleEditor, "GET", "/gateways/lab", "")
	var gw struct{ Version int64 }
	if err := json.Unmarshal([]byte(b), &gw); code != 200 || err != nil {
		t.Fatalf("get gateway: %d %s", code, b)
	}
	if code, b := call(auth.RoleEditor, "DELETE", "/gateways/lab", fmt.Sprintf(`{"version": %d}`, gw.Version)); code/100 != 2 {
		t.Fatalf("delete gateway: %d %s", code, b)
	}
	// The delete's event reaches the sandbox runner, which stops the
	// sandbox.
	for slices.Contains(svc.sandbox.Running(), "lab") {
		select {
		case <-ctx.Done():
			t.Fatalf("lab's sandbox still runs after the gateway was deleted: %v", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
