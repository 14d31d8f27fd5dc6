package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/rules"
)

func TestLintCommand(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/lint.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	wantLines := []string{
		`edge: rule "shop-cart": error: never matches: rule "shop-all" before it matches every request this one does`,
		`    GET http://shop.example.com/cart/x is taken by rule "shop-all" before it reaches "shop-cart"`,
		`edge: rule "canary": warning: the prefix rewrite doubles a slash: GET http://canary.example.com/app/x reaches the upstream as /canary//x`,
		`    fix: set then.rewrite.pathPrefix to "/canary": rewrite "/app" to "/canary": the slash after "/app" is kept from the request`,
		`1 error, 1 warning, 0 notes`,
	}
	for _, src := range [][]string{{"lint"}, {"lint", "--gateway", "edge"}, {"lint", "-f", "testdata/lint.yaml"}} {
		var out, errOut string
		var code int
		if len(src) > 1 && src[1] == "-f" {
			out, errOut, code = e.run(t, "", src...)
		} else {
			out, errOut, code = e.client(t, src...)
		}
		if code != 1 {
			t.Errorf("%v: exit %d, want 1 for an error finding: %s", src, code, errOut)
		}
		if got := strings.Split(strings.TrimSpace(out), "\n"); strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
			t.Errorf("%v printed:\n%s\nwant:\n%s", src, out, strings.Join(wantLines, "\n"))
		}
	}
	if _, _, code := e.client(t, "lint", "--fail-on", "never"); code != 0 {
		t.Errorf("--fail-on never: exit %d", code)
	}
	if _, errOut, code := e.client(t, "lint", "--fail-on", "sometimes"); code != 1 || !strings.Contains(errOut, "--fail-on") {
		t.Errorf("bad --fail-on: %d %s", code, errOut)
	}
	out, _, _ := e.client(t, "lint", "-o", "json")
	var rep struct{ Items []rules.Finding }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Items) != 2 {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if w := rep.Items[0].Witness; w == nil || w.URL != "http://shop.example.com/cart/x" || w.TakenBy != "shop-all" || rep.Items[0].Gateway != "edge" {
		t.Errorf("json witness: %+v", rep.Items[0])
	}
	if _, errOut, code := e.client(t, "lint", "--gateway", "nope"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("unknown gateway: %d %s", code, errOut)
	}

	// Fixed: the warning alone fails only with --fail-on warning.
	if _, errOut, code := e.client(t, "delete", "route", "shop-cart"); code != 0 {
		t.Fatal(errOut)
	}
	if out, _, code := e.client(t, "lint"); code != 0 || !strings.HasSuffix(out, "0 errors, 1 warning, 0 notes\n") {
		t.Errorf("warning only: exit %d\n%s", code, out)
	}
	if _, _, code := e.client(t, "lint", "--fail-on", "warning"); code != 1 {
		t.Errorf("--fail-on warning with a warning: exit %d", code)
	}

	// A partial overlap is a note with the request that shows it, and
	// fails nothing but --fail-on info.
	file := writeFile(t, t.TempDir(), "canary.yaml", `kind: Gateway
name: edge
listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Upstream
name: web
static: {endpoints: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: api
gateway: edge
priority: 20
when: path.prefix("/api/")
then: {forward: [{upstream: web}]}
---
kind: Route
name: canary
gateway: edge
priority: 10
when: header["x-canary"] == "1"
then: {forward: [{upstream: web}]}
`)
	out, errOut, code := e.run(t, "", "lint", "-f", file)
	if code != 0 || !strings.Contains(out, `rule "canary": note: partly taken by rule "api" before it: GET http://`) ||
		!strings.Contains(out, "/api/") || !strings.Contains(out, "with x-canary: 1") || !strings.HasSuffix(out, "0 errors, 0 warnings, 1 note\n") {
		t.Errorf("lint of a partial overlap: exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := e.run(t, "", "lint", "-f", file, "--fail-on", "info"); code != 1 {
		t.Errorf("--fail-on info with a note: exit %d", code)
	}
}
