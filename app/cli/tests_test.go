package cli

import (
	"strings"
	"testing"
)

func TestTestCommand(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}

	out, errOut, code := e.client(t, "test", "--gateway", "edge", "-f", "testdata/tests.yaml")
	if code != 1 {
		t.Fatalf("a failing test file: exit %d, want 1\n%s%s", code, out, errOut)
	}
	want := `PASS home (gateway edge)
FAIL canary (gateway edge)
    evaluator: status
        expected: 201
        actual:   200
1 passed, 1 failed (evaluator)
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	_, errOut, code = e.client(t, "test", "-f", "testdata/bad_tests.yaml")
	wantErr := []string{
		"testdata/bad_tests.yaml:1: name: invalid name",
		"testdata/bad_tests.yaml:5: expect.status: must be an HTTP status",
		"testdata/bad_tests.yaml:7: kind: \"Route\" is not RouteTest",
		"testdata/bad_tests.yaml:10: extra: unknown field",
	}
	for _, w := range wantErr {
		if code != 1 || !strings.Contains(errOut, w) {
			t.Errorf("bad file: exit %d, stderr lacks %q:\n%s", code, w, errOut)
		}
	}

	// No saved tests yet: nothing runs, nothing fails.
	if out, _, code := e.client(t, "test"); code != 0 || out != "0 passed, 0 failed (evaluator)\n" {
		t.Errorf("no tests: exit %d\n%s", code, out)
	}
	if _, errOut, code := e.client(t, "test", "--import-envoy", "testdata/router_check.yaml"); code != 1 || !strings.Contains(errOut, "--gateway") {
		t.Errorf("import without gateway: exit %d %s", code, errOut)
	}
	out, errOut, code = e.client(t, "test", "--gateway", "edge", "--import-envoy", "testdata/router_check.yaml")
	if code != 0 || out != "test shop-home created (version 1)\n" {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := e.client(t, "test", "--gateway", "edge"); code != 0 || !strings.Contains(out, "PASS shop-home") {
		t.Errorf("saved tests: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.client(t, "test", "--export-envoy")
	if code != 0 || !strings.Contains(out, `"cluster_name": "shop"`) || !strings.Contains(out, `"test_name": "shop-home"`) || errOut != "" {
		t.Errorf("export: exit %d\n%s%s", code, out, errOut)
	}
}
