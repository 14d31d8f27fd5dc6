package app

import (
	"context"
	"encoding/json"
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
