package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestGetFollowsCursors lists more objects than the server puts in one
// page: every one of them is printed, in every output format.
func TestGetFollowsCursors(t *testing.T) {
	e := newEnv(t)
	const n = 1_050 // past the server's largest page (1,000)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "kind: Upstream\nname: up-%04d\nstatic:\n  endpoints: [{address: 127.0.0.1, port: %d}]\n---\n", i, 10000+i)
	}
	file := writeFile(t, t.TempDir(), "many.yaml", b.String())
	if _, errOut, code := e.client(t, "apply", "-f", file); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}

	out, errOut, code := e.client(t, "get", "upstreams")
	if code != 0 {
		t.Fatalf("get: %s", errOut)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != n+1 { // and the header
		t.Fatalf("get printed %d rows, want %d and a header", len(rows)-1, n)
	}
	if !strings.HasPrefix(rows[n], "up-1049") {
		t.Errorf("last row %q, want up-1049", rows[n])
	}

	out, errOut, code = e.client(t, "get", "upstreams", "-o", "json")
	if code != 0 {
		t.Fatalf("get -o json: %s", errOut)
	}
	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("get -o json: %v", err)
	}
	if len(list.Items) != n || list.Total != n {
		t.Errorf("get -o json: %d items, total %d; want %d", len(list.Items), list.Total, n)
	}

	out, errOut, code = e.client(t, "get", "upstreams", "-o", "yaml")
	if code != 0 {
		t.Fatalf("get -o yaml: %s", errOut)
	}
	if got := len(loadPrinted(t, out).Workspace.Upstreams); got != n {
		t.Errorf("get -o yaml: %d upstreams, want %d", got, n)
	}
}
