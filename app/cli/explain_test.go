package cli

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// TestExplainCommand asks the live version, a published one and the draft
// of gateway edge about the same requests, and explains logged requests.
// Versions v1 to v4 are the seeded rules; the draft drops shop-canary.
func TestExplainCommand(t *testing.T) {
	e, report := logsEnv(t)
	ctx := context.Background()
	for range 4 {
		if _, err := e.store.Publish(ctx, "test", "edge", ""); err != nil {
			t.Fatal(err)
		}
	}
	canary, err := e.store.Get(ctx, model.KindRoute, "shop-canary")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Delete(ctx, "test", model.KindRoute, "shop-canary", canary.ObjectMeta().Version); err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		args []string
		want []string // each in the output, in this order
	}{
		"live, winner and near miss": {[]string{"GET", "http://shop.example.com/cart"}, []string{
			"GET http://shop.example.com/cart against v4 of gateway edge",
			"Rule shop-home matched after 1 rule(s) that did not.",
			`✓ host == "shop.example.com"`, `✓ path.prefix("/")`, "⇒ forward to shop as shop.example.com /cart",
			"Near misses", "shop-canary (priority 20): no match", `✗ header["x-canary"] == "1"`, "✓ method in"}},
		"header picks the canary": {[]string{"--version", "v2", "http://shop.example.com/cart", "-H", "X-Canary: 1"}, []string{
			"against v2 of gateway edge", "Rule shop-canary matched.", `✓ header["x-canary"] == "1"`, "⇒ respond 200"}},
		"the draft has no canary": {[]string{"--version", "draft", "HEAD", "http://shop.example.com/cart", "-H", "x-canary:1"}, []string{
			"HEAD http://shop.example.com/cart against draft of gateway edge", "Rule shop-home matched."}},
		"404 with its near miss": {[]string{"http://other.example.com/"}, []string{
			"No rule matched (2 tried): the gateway's default response answers.",
			"Near misses", "shop-home (priority 10): no match", `✗ host == "shop.example.com"`, `✓ path.prefix("/")`}},
		"full trace": {[]string{"--trace", "http://other.example.com/"}, []string{
			"Trace (2 rules, in evaluation order):", "shop-canary (priority 20): no match", "shop-home (priority 10): no match"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.client(t, append([]string{"explain", "--gateway", "edge"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (after what came before):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}

	out, errOut, code := e.client(t, "explain", "--gateway", "edge", "--version", "v1", "-o", "json", "/cart", "-H", "host: shop.example.com")
	var reply struct {
		Rule    string `json:"rule"`
		Version string `json:"version"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &reply) != nil || reply.Rule != "shop-home" || reply.Version != "v1" {
		t.Fatalf("-o json: exit %d %q %s", code, out, errOut)
	}

	// Logged requests, explained against the version that served them
	// (the proxy reported version 4).
	now := time.Now()
	missing := reqEntry(now, "", 404, "/missing")
	missing.Request.Authority = "other.example.com"
	report(missing, reqEntry(now, "rule/shop-canary/0", 200, "/c"))
	out, _, code = e.client(t, "logs", "--gateway", "edge", "-o", "json")
	ids := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var en struct {
			ID   int64  `json:"id"`
			Path string `json:"path"`
		}
		if code != 0 || json.Unmarshal([]byte(line), &en) != nil {
			t.Fatalf("logs: %q", out)
		}
		ids[en.Path] = en.ID
	}
	out, errOut, code = e.client(t, "explain", "--gateway", "edge", "--entry", strconv.FormatInt(ids["/missing"], 10))
	if code != 0 || !strings.Contains(out, `Served by no rule with version "4"; explained against v4 of gateway edge.`) ||
		!strings.Contains(out, "No rule matched") || !strings.Contains(out, "shop-home (priority 10): no match") || strings.Contains(out, "disagrees") {
		t.Fatalf("--entry of a 404: exit %d %s\n%s", code, errOut, out)
	}
	// The log keeps no x-canary header: the evaluator cannot see what
	// made the proxy pick the canary, and says so.
	out, _, code = e.client(t, "explain", "--gateway", "edge", "--entry", strconv.FormatInt(ids["/c"], 10))
	if code != 0 || !strings.Contains(out, "The evaluator disagrees with the proxy") || !strings.Contains(out, `served this request with rule "shop-canary"`) {
		t.Fatalf("--entry of the canary: exit %d\n%s", code, out)
	}

	for name, tc := range map[string]struct {
		args []string
		want []string
	}{
		"no gateway":       {[]string{"explain", "/"}, []string{"--gateway: required"}},
		"no URL":           {[]string{"explain", "--gateway", "edge"}, []string{"URL: required"}},
		"bad version":      {[]string{"explain", "--gateway", "edge", "--version", "latest", "/"}, []string{`--version: want live, draft or a published version such as v3, not "latest"`}},
		"bad header":       {[]string{"explain", "--gateway", "edge", "/", "-H", "nocolon", "-H", "a b: c"}, []string{`-H[0]: "nocolon": want 'name: value'`, "-H: "}},
		"bad method":       {[]string{"explain", "--gateway", "edge", "GE T", "/"}, []string{"METHOD: "}},
		"all at once":      {[]string{"explain", "-o", "yaml", "--version", "x"}, []string{"--gateway: required", "-o:", "--version:", "URL: required"}},
		"version not kept": {[]string{"explain", "--gateway", "edge", "--version", "v9", "/"}, []string{"400", `gateway "edge" has no version 9: its versions are v1 to v4`}},
		"unknown gateway":  {[]string{"explain", "--gateway", "nope", "/"}, []string{"404"}},
		"entry and URL":    {[]string{"explain", "--gateway", "edge", "--entry", "1", "/"}, []string{"--entry: "}},
		"no such entry":    {[]string{"explain", "--gateway", "edge", "--entry", "99999"}, []string{"404", "no request log entry 99999"}},
		"sandbox no entry": {[]string{"explain", "--gateway", "edge", "--sandbox", "/"}, []string{"--sandbox: only with --entry"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := e.client(t, tc.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
		})
	}
}
