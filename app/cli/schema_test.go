package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSchemaCommand(t *testing.T) {
	e := newEnv(t)
	out, _, code := e.run(t, "", "schema", "upstream")
	if code != 0 || !strings.Contains(out, "static: # optional\n  endpoints:\n    - # each:\n      address: string\n      port: integer\n") {
		t.Errorf("schema upstream:\n%s", out)
	}
	for _, kind := range []string{"gateway", "upstream", "route", "secret", "routetest"} {
		out, errOut, code := e.run(t, "", "schema", kind)
		// Every field has a type the outline knows, and nothing the
		// server sets is offered for a file.
		if code != 0 || strings.Contains(out, ": any") || strings.Contains(out, "object}") || strings.Contains(out, "updatedAt") {
			t.Errorf("schema %s (%d): %s\n%s", kind, code, errOut, out)
		}
		raw, _, code := e.run(t, "", "schema", kind, "-o", "json")
		var s map[string]any
		if err := json.Unmarshal([]byte(raw), &s); code != 0 || err != nil || s["additionalProperties"] != false || s["properties"].(map[string]any)["name"] == nil {
			t.Errorf("schema %s -o json (%d, %v):\n%s", kind, code, err, raw)
		}
	}
	if out, _, _ := e.run(t, "", "schema", "route"); !strings.Contains(out, "when: condition (text such as") || !strings.Contains(out, "then:\n  forward: # optional") {
		t.Errorf("schema route:\n%s", out)
	}
	if _, errOut, code := e.run(t, "", "schema", "listener"); code != 1 || !strings.Contains(errOut, "unknown kind") {
		t.Errorf("unknown kind: %d %s", code, errOut)
	}
}
