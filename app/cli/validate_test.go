package cli

import (
	"strings"
	"testing"
)

// TestValidateOnePass: unknown fields, an unknown gateway, a condition that
// does not parse and a rule that can never match are all reported in one
// run, each at its line, offline and against a server, whether they are
// in different documents or in one.
func TestValidateOnePass(t *testing.T) {
	e := newEnv(t)
	files := map[string][]string{
		"testdata/rounds.yaml": {
			"testdata/rounds.yaml:5: static.endpoints[0].colour: unknown field",
			`testdata/rounds.yaml:9: gateway: unknown gateway "nowhere"`,
			"testdata/rounds.yaml:17: when: 1:21: expected a field",
			`testdata/rounds.yaml:37: rule "dead": lint error: never matches: rule "all" before it matches every request this one does (GET http://a.com/x/x is taken by rule "all")`,
		},
		// Inside one document too: an unknown field and a bad duration
		// do not hide its unknown gateway and its broken condition.
		"testdata/onepass.yaml": {
			`testdata/onepass.yaml:9: gateway: unknown gateway "nowhere"`,
			"testdata/onepass.yaml:10: colour: unknown field",
			"testdata/onepass.yaml:11: when: 1:21: expected a field",
			`testdata/onepass.yaml:14: then.timeout: invalid duration "soon": use units like 250ms, 5s, 1m`,
		},
	}
	for file, want := range files {
		for _, args := range [][]string{{"validate", "--offline", "-f", file}, {"validate", "-f", file, "--server", e.url, "--token", e.token}} {
			_, errOut, code := e.run(t, "", args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != 1 || len(lines) != len(want) {
				t.Errorf("%v: exit %d, %d lines, want %d:\n%s", args, code, len(lines), len(want), errOut)
				continue
			}
			for i, w := range want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("%v line %d:\n%s\nwant prefix:\n%s", args, i+1, lines[i], w)
				}
			}
		}
	}

	// A valid file with a lint finding passes and prints the finding;
	// --strict fails on it.
	file := writeFile(t, t.TempDir(), "ok.yaml", `kind: Gateway
name: edge
listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Upstream
name: web
static: {endpoints: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: canary
gateway: edge
when: path.prefix("/app")
then:
  forward: [{upstream: web}]
  rewrite: {pathPrefix: "/canary/"}
`)
	out, errOut, code := e.run(t, "", "validate", "--offline", "-f", file)
	if code != 0 || !strings.Contains(out, `:12: rule "canary": lint warning: the prefix rewrite doubles a slash`) ||
		!strings.Contains(out, `fix: set then.rewrite.pathPrefix to "/canary"`) || !strings.HasSuffix(out, "ok.yaml: 3 objects valid\n") {
		t.Errorf("valid file with a warning (%d):\n%s%s", code, out, errOut)
	}
	if _, _, code := e.run(t, "", "validate", "--offline", "--strict", "-f", file); code != 1 {
		t.Errorf("--strict with a finding: exit %d", code)
	}
	// A prefix rewrite without its path condition is a problem of when,
	// said with the fix, at the line of when.
	rw := writeFile(t, t.TempDir(), "rewrite.yaml", `kind: Route
name: canary
gateway: edge
when: host == "shop.example.com"
then:
  forward: [{upstream: web}]
  rewrite: {pathPrefix: /v2/}
`)
	if _, errOut, code := e.run(t, "", "validate", "--offline", "-f", rw); code != 1 ||
		!strings.Contains(errOut, `rewrite.yaml:4: when: has no path condition for then.rewrite.pathPrefix to replace: add one, such as path.prefix("/"), or rewrite with then.rewrite.pathRegex, which needs none`) {
		t.Errorf("rewrite without a path condition (%d):\n%s", code, errOut)
	}
	one := writeFile(t, t.TempDir(), "one.yaml", "kind: Gateway\nname: solo\nlisteners: [{name: http, port: 8080, protocol: HTTP}]\n")
	if out, _, _ := e.run(t, "", "validate", "--offline", "-f", one); !strings.HasSuffix(out, "one.yaml: 1 object valid\n") {
		t.Errorf("plural: %q", out)
	}
}
