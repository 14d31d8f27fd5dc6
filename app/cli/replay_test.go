package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/internal/simtraffic"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// The replay fixtures: gateway shop's live version and a draft that
// changes some of its rules, and a HAR file recorded by headless Chromium.
const (
	replayLive  = "../../sandbox/replay/testdata/live.yaml"
	replayDraft = "../../sandbox/replay/testdata/draft.yaml"
	replayHAR   = "../../sandbox/replay/testdata/shop.har"
)

// TestReplayCapturedFailOnChange is the CI use of replay end to end:
// requests sent through a proxy of the published gateway (the simulated
// Envoy, started from the bootstrap routedeck writes, reporting its access
// log over ALS) are captured; with the draft equal to live, `replay
// --since 1h --fail-on-change` exits 0; after an edit it exits 1 and says
// what changed; after the edit is undone it exits 0 again.
func TestReplayCapturedFailOnChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	svc, e, admin := startServer(t, ctx)
	if _, errOut, code := e.client(t, "apply", "-f", replayLive); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	if _, errOut, code := e.client(t, "publish", "--gateway", "shop"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	certDir, confDir := filepath.Join(t.TempDir(), "tls"), filepath.Join(t.TempDir(), "envoy")
	for _, args := range [][]string{
		{"certs", "issue", "--gateway", "shop", "--out", certDir},
		{"bootstrap", "--gateway", "shop", "--node", "shop-1", "--ads", svc.ADSAddr().String(), "--cert-dir", certDir, "--out", confDir},
	} {
		var out, errOut strings.Builder
		all := append(args, "--data-dir", e.dataDir, "--server", e.url, "--token", admin.token)
		if code := Run(ctx, all, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
	}
	data, err := os.ReadFile(filepath.Join(confDir, BootstrapFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := xds.ParseBootstrapYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := sim.FromBootstrap(b)
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	dp, err := sim.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	sent := []simtraffic.Request{
		{Host: "shop.example.com", Path: "/static/app.js"},
		{Host: "shop.example.com", Path: "/api/cart/items"},
		{Host: "shop.example.com", Path: "/legacy/catalog"},
		{Host: "partner.example.com", Path: "/legacy/catalog"},
		{Host: "shop.example.com", Path: "/docs/intro"},
		{Host: "shop.example.com", Path: "/blog/2026/launch"},
	}
	simtraffic.Send(ctx, t, dp, svc.AccessLog(), "shop", sent)

	replayCmd := func(extra ...string) (replay.Report, string, int) {
		t.Helper()
		out, errOut, code := e.client(t, append([]string{"replay", "--gateway", "shop", "--since", "1h", "--fail-on-change"}, extra...)...)
		if code != 0 && code != 1 || code == 1 && errOut != "" {
			t.Fatalf("replay: exit %d: %s", code, errOut)
		}
		var rep replay.Report
		if len(extra) > 0 && extra[0] == "-o" {
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("-o json: %v\n%s", err, out)
			}
		}
		return rep, out, code
	}
	rep, _, code := replayCmd("-o", "json")
	if code != 0 || rep.Total != len(sent) || rep.Changed != 0 || rep.From.Version != 1 || rep.Source.Kind != replay.SourceCaptured ||
		rep.Fidelity.Requests != 0 || len(rep.Engines) != 2 {
		t.Fatalf("draft equal to live: exit %d, report %+v", code, rep)
	}

	if _, errOut, code := e.client(t, "apply", "-f", replayDraft); code != 0 {
		t.Fatalf("apply the draft: %s", errOut)
	}
	out, _, code := e.client(t, "replay", "--gateway", "shop", "--since", "1h", "--fail-on-change")
	for _, want := range []string{
		"gateway shop: live (v1) -> draft, 6 requests from captured requests since",
		"3 of 6 requests would change",
		"static -> static: 1 of 1 request changed (other-upstream 1)",
		"cart -> cart: 1 of 1 request changed (rewrite-changed 1)",
		"/cart/items host shop.example.com",
		"/v2/cart/items host shop.example.com",
		"home -> docs: 1 of 1 request changed (other-rule 1, now-redirect 1)",
		"after:  docs: 302 redirect to https://docs.example.com/docs/intro",
		"note: captured requests keep no request headers",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("replay output does not say %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("--fail-on-change with changes: exit %d, want 1", code)
	}
	// legacy is still in the draft (apply does not delete): undo the
	// edit by applying live again and deleting the new rule.
	if _, errOut, code := e.client(t, "apply", "-f", replayLive); code != 0 {
		t.Fatalf("apply live: %s", errOut)
	}
	if _, errOut, code := e.client(t, "delete", "route", "docs"); code != 0 {
		t.Fatalf("delete docs: %s", errOut)
	}
	if rep, _, code = replayCmd("-o", "json"); code != 0 || rep.Changed != 0 {
		t.Errorf("after the undo: exit %d, %s", code, rep.Summary)
	}
}

// TestReplayFilesAndProblems: replays of a HAR file and of an access
// log, versions by number, and the exit status and wording of what is
// refused: flags, a file that does not parse (every problem as
// FILE:LINE), a version that does not exist.
func TestReplayFilesAndProblems(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, e, _ := startServer(t, ctx)
	if _, errOut, code := e.client(t, "apply", "-f", replayLive); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	if _, errOut, code := e.client(t, "publish", "--gateway", "shop"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	if _, errOut, code := e.client(t, "apply", "-f", replayDraft); code != 0 {
		t.Fatalf("apply the draft: %s", errOut)
	}

	out, errOut, code := e.client(t, "replay", "--gateway", "shop", "--har", replayHAR, "--from", "v1", "-o", "json")
	if code != 0 {
		t.Fatalf("replay --har: exit %d: %s", code, errOut)
	}
	var rep replay.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	// legacy is still in this draft: /legacy/catalog does not change.
	if rep.Source.Kind != replay.SourceHAR || rep.Total != 9 || rep.Changed != 7 || rep.From.Ref != "v1" || rep.To.Ref != "draft" {
		t.Errorf("HAR replay: %+v", rep)
	}
	if strings.Contains(out, "do-not-show") || strings.Contains(out, "s3cr3t") {
		t.Errorf("credentials of the HAR file in the report:\n%s", out)
	}

	dir := t.TempDir()
	good := writeFile(t, dir, "good.log", `[2026-12-07T18:00:00.120Z] "GET /static/app.js HTTP/1.1" 200 - 0 5120 3 2 "-" "curl/8" "id-1" "shop.example.com" "10.0.0.11:8080"`+"\n")
	out, errOut, code = e.client(t, "replay", "--gateway", "shop", "--log", good, "--fail-on-change")
	if code != 1 || errOut != "" || !strings.Contains(out, "1 of 1 request would change") || !strings.Contains(out, "(envoy format)") {
		t.Errorf("replay --log: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.client(t, "replay", "--gateway", "shop", "--log", good, "--from", "draft", "--fail-on-change")
	if code != 0 || !strings.Contains(out, "0 of 1 request would change") {
		t.Errorf("draft to draft: exit %d\n%s%s", code, out, errOut)
	}

	bad := writeFile(t, dir, "bad.log", "\n"+
		`[2026-12-07T18:00:00.120Z] "GET /static/app.js HTTP/1.1" 200 - 0 5120 3 2 "-" "curl/8" "id-1" "shop.example.com" "-"`+"\n"+
		`[yesterday] "GET / HTTP/1.1" 200 - 0 0 0 - "-" "-" "-" "shop.example.com" "-"`+"\n"+
		`[2026-12-07T18:00:00.120Z] "GET nohost HTTP/1.1" 200 - 0 0 0 - "-" "-" "-" "shop.example.com" "-"`+"\n")
	tests := map[string]struct {
		args []string
		want []string
	}{
		"two sources":     {args: []string{"--since", "1h", "--tests"}, want: []string{"source: give one of --since, --har, --log and --tests"}},
		"no gateway":      {args: []string{"--tests", "--gateway", ""}, want: []string{"--gateway: required"}},
		"format alone":    {args: []string{"--tests", "--format", "json"}, want: []string{"--format: only with --log"}},
		"bad version":     {args: []string{"--tests", "--from", "yesterday"}, want: []string{`--from: want live, draft or a published version such as v3, not "yesterday"`}},
		"bad window":      {args: []string{"--since", "forever"}, want: []string{"--since: want a duration"}},
		"no such version": {args: []string{"--tests", "--from", "v7"}, want: []string{`from: gateway "shop" has no version 7: its versions are v1 to v1`}},
		"no such file":    {args: []string{"--log", filepath.Join(dir, "missing.log")}, want: []string{"missing.log: no such file"}},
		"bad lines": {args: []string{"--log", bad}, want: []string{
			bad + `:3: start time "yesterday" is not an RFC 3339 time`,
			bad + `:4: path "nohost" does not start with /`,
			"the access log cannot be replayed: 2 problems",
		}},
		"bad json": {args: []string{"--log", bad, "--format", "json"}, want: []string{bad + ":2: not a JSON object", bad + ":4: not a JSON object"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.client(t, append([]string{"replay", "--gateway", "shop"}, tc.args...)...)
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
		})
	}
}
