package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/diff"
	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/internal/bombs"
)

// laughs returns "key:" and under it a "billion laughs" list, indented by
// indent: the item on the fifth line stands for 10^4 condition mappings.
func laughs(key, indent string, levels int) string {
	return indent + key + ":\n" + bombs.Laughs(indent, "{field: path, op: prefix, value: /lol}", levels)
}

// TestHostileInputFiles runs every command that reads a YAML or JSON file
// on inputs built to exhaust memory: alias bombs, nesting past the depth
// limit, an alias inside its own anchor, a megabyte of nodes two bytes
// each, a file past the size cap and stdin that never ends. Each must fail at once with one error naming the
// file, the line where there is one, and the limit; store nothing; and
// allocate about the size cap at most.
func TestHostileInputFiles(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	w := func(name, body string) string { return writeFile(t, dir, name, body) }
	route := "kind: Gateway\nname: public\nlisteners: [{name: http, port: 8080, protocol: HTTP}]\n---\nkind: Route\nname: lol\ngateway: public\nthen: {respond: {status: 200}}\nwhen:\n  any:\n"
	bomb := w("bomb.yaml", route+strings.TrimPrefix(laughs("x", "  ", 30), "  x:\n"))
	deep := w("deep.yaml", route+"  - "+strings.Repeat("{not: ", input.MaxDepth)+"{}"+strings.Repeat("}", input.MaxDepth)+"\n")
	loop := w("loop.yaml", route+"  - &w {all: [*w]}\n")
	dense := w("dense.yaml", route+"  - ["+strings.Repeat("a,", input.MaxSeparators)+"a]\n")
	big := filepath.Join(dir, "big.yaml")
	if f, err := os.Create(big); err != nil {
		t.Fatal(err)
	} else {
		f.Truncate(input.MaxBytes + 1)
		f.Close()
	}
	tests := w("tests.yaml", "kind: RouteTest\nname: t\ngateway: public\nrequest: {url: http://a/}\n"+laughs("expect", "", 30))
	envoyTests := w("envoy-tests.yaml", "tests:\n- test_name: t\n  input: {authority: a, path: /, method: GET}\n  validate: {cluster_name: c}\n"+laughs("runtime", "", 30))
	kong := w("kong.yml", "_format_version: \"3.0\"\n"+laughs("services", "", 30))
	openapi := w("openapi.yaml", "openapi: 3.0.0\ninfo: {title: t, version: \"1\"}\n"+laughs("paths", "", 30))
	httproute := w("httproute.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n"+laughs("rules", "  ", 30))
	routeConfig := w("rc.yaml", "name: rc\n"+laughs("virtual_hosts", "", 30))
	good := "../../sandbox/checktool/testdata/corpus/Headers.yaml"
	goodTests := "../../sandbox/checktool/testdata/corpus/Headers.golden.proto.json"

	limit := fmt.Sprintf("larger than %d MiB, the limit for an input file", input.MaxBytes>>20)
	aliases := fmt.Sprintf("YAML aliases expand to more than %d nodes, the limit", input.MaxAliasNodes)
	depth := fmt.Sprintf("YAML nested deeper than %d levels, the limit", input.MaxDepth)
	server := []string{"--server", e.url, "--token", e.token}
	cases := map[string]struct {
		args  []string
		stdin io.Reader
		want  string
	}{
		"apply: alias bomb":            {args: []string{"apply", "-f", bomb}, want: bomb + ":16: when.any[5][0]: " + aliases},
		"validate: alias bomb":         {args: []string{"validate", "-f", bomb}, want: bomb + ":16: when.any[5][0]: " + aliases},
		"validate offline: alias bomb": {args: []string{"validate", "--offline", "-f", bomb}, want: bomb + ":16: when.any[5][0]: " + aliases},
		"diff: alias bomb":             {args: []string{"diff", "-f", bomb}, want: bomb + ":16: when.any[5][0]: " + aliases},
		"apply: too deep":              {args: []string{"apply", "-f", deep}, want: deep + ":11: when.any[0].not.not.not.not.not.not.not.not.not...: " + depth},
		"validate: alias in its anchor": {args: []string{"validate", "--offline", "-f", loop},
			want: loop + ":11: when.any[0].all[0]: YAML alias *w is inside the node it refers to"},
		"validate offline: too dense": {args: []string{"validate", "--offline", "-f", dense},
			want: dense + fmt.Sprintf(":11: YAML has more than %d separators", input.MaxSeparators)},
		"apply: past the size cap":        {args: []string{"apply", "-f", big}, want: big + ": " + limit},
		"apply: endless stdin":            {args: []string{"apply", "-f", "-"}, stdin: &bombs.Endless{}, want: "<stdin>: " + limit},
		"validate offline: endless stdin": {args: []string{"validate", "--offline", "-f", "-"}, stdin: &bombs.Endless{}, want: "<stdin>: " + limit},
		"test: endless stdin":             {args: []string{"test", "-f", "-"}, stdin: &bombs.Endless{}, want: "<stdin>: " + limit},
		"import ingress: endless stdin":   {args: []string{"import", "ingress", "-f", "-", "--gateway", "public"}, stdin: &bombs.Endless{}, want: "<stdin>: " + limit},
		"test: alias bomb":                {args: []string{"test", "-f", tests}, want: tests + ":11: expect[5][0]: " + aliases},
		"test: imported envoy alias bomb": {args: []string{"test", "--import-envoy", envoyTests, "--gateway", "public"}, want: envoyTests + ": line 11: runtime[5][0]: " + aliases},
		"import kong: alias bomb":         {args: []string{"import", "kong", "-f", kong, "--gateway", "public"}, want: kong + ":8: services[5][0]: " + aliases},
		"import openapi: alias bomb":      {args: []string{"import", "openapi", "-f", openapi, "--gateway", "public", "--upstream", "u"}, want: openapi + ":9: paths[5][0]: " + aliases},
		"import gateway-api: alias bomb":  {args: []string{"import", "gateway-api", "-f", httproute, "--gateway", "public"}, want: httproute + ":11: spec.rules[5][0]: " + aliases},
		"check: route config bomb":        {args: []string{"check", "-c", routeConfig, "-t", goodTests}, want: routeConfig + ":8: virtual_hosts[5][0]: " + aliases},
		"check: test file bomb":           {args: []string{"check", "-c", good, "-t", envoyTests}, want: envoyTests + ":11: runtime[5][0]: " + aliases},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			stdin := tc.stdin
			if stdin == nil {
				stdin = strings.NewReader("")
			}
			args := tc.args
			if tc.args[0] != "check" { // check takes only its router_check_tool flags
				args = append(append(append([]string{}, tc.args...), "--data-dir", e.dataDir), server...)
			}
			var out, errOut bytes.Buffer
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			code := Run(context.Background(), args, stdin, &out, &errOut)
			runtime.ReadMemStats(&after)
			if code != 1 {
				t.Errorf("exit %d, want 1; stdout %q", code, out.String())
			}
			msg := errOut.String() + out.String()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, msg)
			}
			if f, ok := tc.stdin.(*bombs.Endless); ok && f.N > input.MaxBytes+1<<20 {
				t.Errorf("read %d bytes of endless stdin", f.N)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*input.MaxBytes+32<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
			if e.exists(t, "Route", "lol") || e.exists(t, "Gateway", "public") {
				t.Errorf("something was stored")
			}
		})
	}
}

// TestDiffTooLarge compares an upstream too large to diff with the server's:
// diff -f says it changed, as the revision does, instead of a diff.
func TestDiffTooLarge(t *testing.T) {
	e := newEnv(t)
	file := writeFile(t, t.TempDir(), "long.yaml", "kind: Gateway\nname: public\nlisteners: [{name: http, port: 8080, protocol: HTTP}]\n---\n"+
		// Descriptions are bounded far below the diff caps; endpoints,
		// two lines each in the object's YAML, fit the object size bound.
		"kind: Upstream\nname: long\nstatic:\n  endpoints:\n"+strings.Repeat("  - {address: a, port: 1}\n", diff.MaxLines/2+1))
	out, errOut, code := e.client(t, "diff", "-f", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := fmt.Sprintf("Upstream/long changed, too large to diff (over %d lines or %d MiB)\n", diff.MaxLines, diff.MaxBytes>>20)
	if !strings.Contains(out, want) || !strings.Contains(out, "+kind: Gateway") {
		t.Errorf("diff -f printed:\n%.500s", out)
	}
}
