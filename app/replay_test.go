package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/replay"
)

// TestReplayAPI: POST /gateways/{name}/replay on the server routedeck
// serve runs, with the demo workspace: a viewer replays an access log
// from the draft to itself (nothing changes) through both engines; the
// problems of a file come back as field errors with their line; live on
// a gateway never published, and an unknown gateway, are 404.
func TestReplayAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, call := apiService(t, ctx, auth.RoleViewer)
	log := `{"method":"GET","path":"/api/orders","authority":"shop.example.com"}` + "\n" +
		`{"method":"GET","path":"/","authority":"shop.example.com"}` + "\n"
	body, _ := json.Marshal(replay.Request{Source: replay.Source{Log: log}, From: "draft", To: "draft"})
	code, b := call(auth.RoleViewer, "POST", "/gateways/public/replay", string(body))
	if code != 200 {
		t.Fatalf("replay: %d %s", code, b)
	}
	var rep replay.Report
	if err := json.Unmarshal([]byte(b), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total != 2 || rep.Changed != 0 || rep.Summary != "0 of 2 requests would change" || rep.Source.Format != replay.FormatJSON ||
		strings.Join(rep.Engines, ",") != "evaluator,sim" || rep.Fidelity.Requests != 0 || rep.From.Ref != "draft" {
		t.Errorf("report: %s", b)
	}

	body, _ = json.Marshal(replay.Request{Source: replay.Source{Log: "{\"method\":\"GET\"}\nnot json\n", Format: replay.FormatJSON}, From: "draft"})
	code, b = call(auth.RoleViewer, "POST", "/gateways/public/replay", string(body))
	if code != 400 || !strings.Contains(b, `"field":"source.log"`) || !strings.Contains(b, "line 1: no path") || !strings.Contains(b, "line 2: not a JSON object") {
		t.Errorf("bad log: %d %s", code, b)
	}
	code, b = call(auth.RoleViewer, "POST", "/gateways/public/replay", `{"source":{"since":"1h"}}`)
	if code != 400 || !strings.Contains(b, `"field":"from"`) || !strings.Contains(b, "never been published") {
		t.Errorf("live before any publish: %d %s", code, b)
	}
	if code, b = call(auth.RoleViewer, "POST", "/gateways/nope/replay", `{"source":{"since":"1h"},"from":"draft"}`); code != 404 {
		t.Errorf("unknown gateway: %d %s", code, b)
	}
}
