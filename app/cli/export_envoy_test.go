package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/auth"
)

// TestExportEnvoy prints a running server's Envoy resources for a gateway,
// and feeds the route configuration it prints to routedeck check.
func TestExportEnvoy(t *testing.T) {
	ctx := context.Background()
	svc, e, _ := startServer(t, ctx)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	// The export runs with the role it needs.
	e.token = roleToken(t, svc, auth.RoleViewer)
	if _, err := svc.Store().Publish(ctx, "test", "edge", "v1"); err != nil {
		t.Fatalf("publish: %v", err)
	}

	tests := map[string]struct {
		args     []string
		wantCode int
		want     []string // substrings of stdout, or of stderr on failure
		notWant  []string
	}{
		"all, yaml": {
			want: []string{"# type.googleapis.com/envoy.config.listener.v3.Listener http\n", "\n---\n# type.googleapis.com/envoy.config.route.v3.RouteConfiguration edge\n",
				"# type.googleapis.com/envoy.config.cluster.v3.Cluster shop\n", "# type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment shop\n",
				"port_value: 9001", "route_config_name: edge"},
		},
		"published version, clusters as json": {
			args:    []string{"--version", "1", "--type", "clusters", "-o", "json"},
			want:    []string{`"type": "type.googleapis.com/envoy.config.cluster.v3.Cluster"`, `"name": "shop"`},
			notWant: []string{"Listener", "RouteConfiguration"},
		},
		"unknown version":   {args: []string{"--version", "9"}, wantCode: 1, want: []string{"404", "version 9"}},
		"unknown type":      {args: []string{"--type", "vhosts"}, wantCode: 1, want: []string{"400", "type"}},
		"unknown output":    {args: []string{"-o", "xml"}, wantCode: 1, want: []string{"-o", "xml"}},
		"gateway not there": {args: []string{"--gateway", "nope"}, wantCode: 1, want: []string{"404", "nope"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.client(t, append([]string{"export", "envoy", "--gateway", "edge"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.wantCode, out, errOut)
			}
			text := out
			if code != 0 {
				text = errOut
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("output has %q:\n%s", w, text)
				}
			}
			if strings.Contains(name, "json") && code == 0 && !json.Valid([]byte(out)) {
				t.Errorf("not JSON:\n%s", out)
			}
		})
	}

	// The route configuration goes straight into routedeck check: the
	// expectations that hold pass, a wrong one fails.
	routes, errOut, code := e.client(t, "export", "envoy", "--gateway", "edge", "--type", "routes")
	if code != 0 {
		t.Fatalf("export routes: exit %d: %s", code, errOut)
	}
	if n := strings.Count(routes, "\n---\n"); n != 0 {
		t.Fatalf("want one document, got %d separators:\n%s", n, routes)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "routes.yaml")
	write(t, config, routes)
	checks := map[string]struct {
		tests    string
		wantCode int
	}{
		"expectations hold": {wantCode: 0, tests: `tests:
- test_name: shop home
  input: {authority: shop.example.com, path: /cart, method: GET}
  validate: {cluster_name: shop, path_redirect: ""}
- test_name: canary answers itself
  input: {authority: other.example.com, path: /, method: GET, additional_request_headers: [{key: x-canary, value: "1"}]}
  validate: {cluster_name: ""}
`},
		"wrong cluster": {wantCode: 1, tests: `tests:
- test_name: shop home
  input: {authority: shop.example.com, path: /, method: GET}
  validate: {cluster_name: checkout}
`},
	}
	for name, tc := range checks {
		t.Run("check: "+name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			write(t, file, tc.tests)
			// check takes router_check_tool's flags only: no --data-dir.
			var out, errOut bytes.Buffer
			code := Run(context.Background(), []string{"check", "-c", config, "-t", file, "--details"}, strings.NewReader(""), &out, &errOut)
			if code != tc.wantCode {
				t.Errorf("check: exit %d, want %d\n%s%s\nconfig:\n%s", code, tc.wantCode, out.String(), errOut.String(), routes)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
