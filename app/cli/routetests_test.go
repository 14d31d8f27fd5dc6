package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRouteTestsAsObjects: route tests are applied, listed, shown, edited
// and deleted like the other kinds.
func TestRouteTestsAsObjects(t *testing.T) {
	e := newEnv(t)
	out, errOut, code := e.client(t, "apply", "-f", "testdata/weighted.yaml")
	if code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	for _, want := range []string{"Route/split created (version 1)", "RouteTest/split-canary created (version 1)", "RouteTest/split-any created (version 1)"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = e.client(t, "apply", "-f", "testdata/weighted.yaml")
	if code != 0 || strings.Count(out, "unchanged") != 6 {
		t.Errorf("re-apply: every object and test unchanged, got:\n%s", out)
	}

	out, errOut, code = e.client(t, "get", "routetests")
	if code != 0 || !strings.Contains(out, "split-any") || !strings.Contains(out, "upstream in stable|canary") ||
		!strings.Contains(out, "GET http://shop.example.com/cart") {
		t.Errorf("get routetests (%d): %s%s", code, out, errOut)
	}

	// get -o yaml prints documents apply takes back unchanged.
	yml, errOut, code := e.client(t, "get", "routetest", "split-canary", "-o", "yaml")
	if code != 0 || !strings.HasPrefix(yml, "kind: RouteTest\nname: split-canary\n") || strings.Contains(yml, "version") {
		t.Fatalf("get -o yaml (%d): %s%s", code, yml, errOut)
	}
	file := writeFile(t, t.TempDir(), "test.yaml", yml)
	if out, errOut, code := e.client(t, "apply", "-f", file); code != 0 || out != "RouteTest/split-canary unchanged (version 1)\n" {
		t.Errorf("re-apply of get output (%d): %s%s", code, out, errOut)
	}

	// edit: an editor that changes the expected status saves version 2.
	editor := writeFile(t, t.TempDir(), "editor.sh", "#!/bin/sh\nsed -i 's/status: 200/status: 201/' \"$1\"\n")
	if err := os.Chmod(editor, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", editor)
	out, errOut, code = e.client(t, "edit", "routetest", "split-canary")
	if code != 0 || out != "RouteTest/split-canary updated\n" {
		t.Fatalf("edit (%d): %s%s", code, out, errOut)
	}
	st, err := e.store.GetRouteTest(context.Background(), "split-canary")
	if err != nil || st.Version != 2 || !strings.Contains(string(st.Spec), `"status":201`) {
		t.Errorf("after edit: %+v %v", st, err)
	}
	// An editor that saves nothing new stores nothing.
	t.Setenv("EDITOR", "true")
	if _, errOut, code := e.client(t, "edit", "route", "split"); code != 0 || !strings.Contains(errOut, "unchanged: nothing saved") {
		t.Errorf("unchanged edit (%d): %s", code, errOut)
	}
	// An edit the server refuses is kept for another try.
	bad := writeFile(t, t.TempDir(), "bad.sh", "#!/bin/sh\nsed -i 's/status: 201/status: 42/' \"$1\"\n")
	if err := os.Chmod(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDITOR", bad)
	_, errOut, code = e.client(t, "edit", "routetest", "split-canary")
	kept := strings.TrimSpace(errOut[strings.LastIndex(errOut, "kept in ")+len("kept in "):])
	if code == 0 || !strings.Contains(errOut, "expect.status: must be an HTTP status") || filepath.Dir(kept) != os.TempDir() {
		t.Errorf("refused edit (%d): %s", code, errOut)
	} else if data, err := os.ReadFile(kept); err != nil || !strings.Contains(string(data), "status: 42") {
		t.Errorf("kept edit %s: %v", kept, err)
	} else {
		os.Remove(kept)
	}

	out, errOut, code = e.client(t, "delete", "routetest", "split-any")
	if code != 0 || out != "RouteTest/split-any deleted\n" {
		t.Fatalf("delete routetest (%d): %s%s", code, out, errOut)
	}
	if _, errOut, code := e.client(t, "get", "routetest", "split-any"); code == 0 || !strings.Contains(errOut, "404") {
		t.Errorf("get of a deleted test (%d): %s", code, errOut)
	}
}

// TestApplyReportsTestsAndObjectsTogether: problems of RouteTest documents
// and of the other documents come in one run, in line order.
func TestApplyReportsTestsAndObjectsTogether(t *testing.T) {
	e := newEnv(t)
	file := writeFile(t, t.TempDir(), "mixed.yaml", `kind: RouteTest
name: t1
gateway: edge
request: {url: "/"}
expect: {status: 42}
---
kind: Route
name: r1
gateway: edge
when: path.prefix("/")
then: {forward: [{upstream: web}], bogus: 1}
`)
	_, errOut, code := e.client(t, "apply", "-f", file)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code == 0 || len(lines) < 2 || !strings.Contains(lines[0], "mixed.yaml:5: expect.status") || !strings.Contains(errOut, "mixed.yaml:11:") {
		t.Errorf("apply of a file with a bad test and a bad route (%d):\n%s", code, errOut)
	}
	if e.exists(t, "Route", "r1") {
		t.Error("a file with problems stored a route")
	}
}

// TestWeightedRouteTestThroughSandbox runs a test saved from one request on
// a 50/50 rule through the real sandbox many times: the simulated Envoy
// picks either upstream, and the test passes every time.
func TestWeightedRouteTestThroughSandbox(t *testing.T) {
	ctx := context.Background()
	_, e, _ := startServer(t, ctx)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/weighted.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	engines := ""
	for i := 0; i < 16; i++ {
		out, errOut, code := e.client(t, "test", "--gateway", "edge")
		if code != 0 {
			t.Fatalf("run %d (%d):\n%s%s", i, code, out, errOut)
		}
		engines = out[strings.LastIndex(out, "("):]
	}
	if !strings.Contains(engines, "sim") {
		t.Errorf("tests did not run through the sandbox: %s", engines)
	}
}
