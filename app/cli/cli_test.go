package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// env is a real API server over a data directory, plus an editor token
// created the way an operator would: `routedeck token create`.
type env struct {
	dataDir string
	url     string
	token   string
	store   *store.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	for _, k := range []string{EnvServer, EnvToken, EnvDataDir} {
		t.Setenv(k, "")
	}
	e := &env{dataDir: t.TempDir()}
	st, err := app.OpenStore(context.Background(), e.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	srv := httptest.NewServer(api.NewHandler(api.Deps{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Fingerprinter: st.Keys()}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	out, errOut, code := e.run(t, "", "token", "create", "--name", "ci", "--role", "editor")
	if code != 0 {
		t.Fatalf("token create: %s", errOut)
	}
	e.token = strings.TrimSpace(out)
	return e
}

// run executes a command line in-process and returns stdout, stderr and
// the exit status.
func (e *env) run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--data-dir", e.dataDir)
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// client runs a client command against the server with the env's token.
func (e *env) client(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return e.run(t, "", append(args, "--server", e.url, "--token", e.token)...)
}

func (e *env) exists(t *testing.T, kind, name string) bool {
	t.Helper()
	_, err := e.store.Get(context.Background(), kind, name)
	if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatal(err)
	}
	return err == nil
}

func TestApplyGetRoundTrip(t *testing.T) {
	e := newEnv(t)
	out, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml")
	if code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	want := "Gateway/edge created (version 1)\nUpstream/shop created (version 1)\nRoute/shop-home created (version 1)\nRoute/shop-canary created (version 1)\n"
	if out != want {
		t.Errorf("apply output:\n%s\nwant:\n%s", out, want)
	}

	// get -o yaml prints the file format: applying it again changes nothing.
	yml, errOut, code := e.client(t, "get", "routes", "-o", "yaml")
	if code != 0 {
		t.Fatalf("get: %s", errOut)
	}
	if !strings.Contains(yml, `when: host == "shop.example.com" && path.prefix("/")`) || strings.Contains(yml, "version") {
		t.Errorf("get -o yaml:\n%s", yml)
	}
	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = e.client(t, "apply", "-f", file)
	if code != 0 || strings.Count(out, "unchanged") != 2 {
		t.Errorf("re-apply of get output: %s %s", out, errOut)
	}
	diffOut, _, code := e.client(t, "diff", "-f", file)
	if code != 0 || diffOut != "" {
		t.Errorf("diff of identical objects: %q", diffOut)
	}

	tests := map[string]struct {
		args []string
		want []string
	}{
		"table":       {[]string{"get", "route"}, []string{"NAME", "shop-canary", "respond 200", "shop-home", "forward shop"}},
		"one as json": {[]string{"get", "rt", "shop-home", "-o", "json"}, []string{`"whenText"`, `"version": 1`}},
		"gateways":    {[]string{"get", "gateways"}, []string{"edge", "http:8080/HTTP"}},
		"upstream":    {[]string{"get", "upstream", "shop", "-o", "yaml"}, []string{"kind: Upstream", "port: 9001"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.client(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestApplyBadFileReportsEveryProblemAndStoresNothing(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatal(errOut)
	}
	tests := map[string]struct {
		file string
		want []string
		none []string // objects that must not exist afterwards
	}{
		"structure and syntax, found locally": {
			file: "testdata/broken.yaml",
			want: []string{
				"testdata/broken.yaml:5: static.endpoints[0].port: expected an integer, got \"nine\"",
				"testdata/broken.yaml:10: when: 1:27: expected a field",
				"testdata/broken.yaml:16: gatway: unknown field",
			},
			none: []string{"Upstream/fresh", "Route/fresh-route", "Route/typo"},
		},
		"local and server problems together": {
			file: "testdata/mixed.yaml",
			want: []string{
				"testdata/mixed.yaml:6: when.value: invalid regex",
				"testdata/mixed.yaml:8: then.forward[0].upstream: unknown upstream \"nowhere\"",
			},
			none: []string{"Route/mixed"},
		},
		"references, found by the server": {
			file: "testdata/dangling.yaml",
			want: []string{"testdata/dangling.yaml:13: then.forward[1].upstream: "},
			none: []string{"Upstream/lonely", "Route/dangling"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.client(t, "apply", "-f", tc.file)
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("want %d problems, got:\n%s", len(tc.want), errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			for _, obj := range tc.none {
				kind, name, _ := strings.Cut(obj, "/")
				if e.exists(t, kind, name) {
					t.Errorf("%s was stored", obj)
				}
			}
		})
	}
	// validate reports the same problems: structural ones hide nothing
	// else, in other documents or in their own.
	_, errOut, _ := e.client(t, "validate", "--offline", "-f", "testdata/broken.yaml")
	if !strings.Contains(errOut, "broken.yaml:5") {
		t.Errorf("validate --offline: %s", errOut)
	}
}

func TestConditionSyntaxErrorHasLine(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(t.TempDir(), "cond.yaml")
	doc := "kind: Gateway\nname: g\nlisteners: [{name: h, port: 80, protocol: HTTP}]\n---\nkind: Upstream\nname: u\nstatic: {endpoints: [{address: 127.0.0.1, port: 1}]}\n---\nkind: Route\nname: r\ngateway: g\nwhen: host == \"a\" &&\nthen: {forward: [{upstream: u}]}\n"
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := e.client(t, "apply", "-f", file)
	if code != 1 || !strings.Contains(errOut, "cond.yaml:12: when: ") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if e.exists(t, model.KindGateway, "g") {
		t.Error("gateway stored although the file is invalid")
	}
}

func TestStaleWritesConflict(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatal(errOut)
	}
	// Someone else updates the route: version 2.
	if _, _, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatal("second apply failed")
	}
	obj, _ := e.store.Get(context.Background(), model.KindRoute, "shop-home")
	r := obj.(*model.Route)
	r.Priority = 99
	if err := e.store.Update(context.Background(), "other", r); err != nil {
		t.Fatal(err)
	}
	// A PUT carrying the version read before that is refused.
	c := &client{base: e.url, token: e.token, http: http.DefaultClient}
	stale := map[string]any{"name": "shop-home", "version": 1, "gateway": "edge", "then": map[string]any{"forward": []any{map[string]any{"upstream": "shop"}}}}
	err := c.do(context.Background(), "PUT", "/routes/shop-home", stale, nil)
	if model.ErrorCode(err) != model.ECONFLICT || !strings.Contains(err.Error(), "409") {
		t.Errorf("stale PUT: %v", err)
	}
	_, errOut, code := e.client(t, "delete", "route", "shop-home", "--version", "1")
	if code != 1 || !strings.Contains(errOut, "409") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stale delete: exit %d %q", code, errOut)
	}
	if !e.exists(t, model.KindRoute, "shop-home") {
		t.Fatal("stale delete deleted")
	}
	out, _, code := e.client(t, "delete", "route", "shop-home")
	if code != 0 || out != "Route/shop-home deleted\n" {
		t.Errorf("delete: %d %q", code, out)
	}
}

func TestTokensAndCredentials(t *testing.T) {
	e := newEnv(t)
	tok, errOut, code := e.run(t, "", "token", "create", "--name", "reader", "--role", "viewer")
	tok = strings.TrimSpace(tok)
	if code != 0 || !strings.HasPrefix(tok, "rd_") || strings.Contains(tok, "\n") {
		t.Fatalf("token create: %q %s", tok, errOut)
	}
	tests := map[string]struct {
		args     []string
		code     int
		contains string
	}{
		"new viewer token lists": {[]string{"get", "routes", "--server", e.url, "--token", tok}, 0, "NAME"},
		"viewer cannot apply":    {[]string{"apply", "-f", "testdata/shop.yaml", "--server", e.url, "--token", tok}, 1, "403"},
		"bad token":              {[]string{"get", "routes", "--server", e.url, "--token", "rd_nope"}, 1, "401"},
		"no token":               {[]string{"get", "routes", "--server", e.url}, 1, "no token"},
		"bad role":               {[]string{"token", "create", "--name", "x", "--role", "root"}, 1, "--role"},
		"unknown kind":           {[]string{"get", "widgets", "--server", e.url, "--token", tok}, 1, "unknown kind"},
		"bad output":             {[]string{"get", "routes", "-o", "xml", "--server", e.url, "--token", tok}, 1, "-o"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.contains) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.contains, out, errOut)
			}
			if code != 0 && strings.Count(errOut, "\n") != 1 {
				t.Errorf("error is not one line: %q", errOut)
			}
		})
	}
}

func TestUserAdd(t *testing.T) {
	e := newEnv(t)
	_, errOut, code := e.run(t, "long enough\n", "user", "add", "--name", "ana", "--role", "editor", "--password-stdin")
	if code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	resp, err := http.Post(e.url+"/api/v1/auth/login", "application/json", strings.NewReader(`{"name":"ana","password":"long enough"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("login with the added user: %d", resp.StatusCode)
	}
	if _, errOut, code := e.run(t, "x\n", "user", "add", "--name", "bo", "--role", "viewer", "--password-stdin"); code != 1 || !strings.Contains(errOut, "8 characters") {
		t.Errorf("short password: %d %s", code, errOut)
	}
	// 8 MiB without a line end: read no further than the cap, refused.
	if _, errOut, code := e.run(t, strings.Repeat("p", 8<<20), "user", "add", "--name", "bo", "--role", "viewer", "--password-stdin"); code != 1 || !strings.Contains(errOut, "at most 1024 bytes") {
		t.Errorf("endless password: %d %s", code, errOut)
	}
	if _, errOut, code := e.run(t, "", "user", "add", "--name", "bo", "--role", "viewer"); code != 1 || !strings.Contains(errOut, "--password-stdin") {
		t.Errorf("without --password-stdin: %d %s", code, errOut)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	var walk func(c *cobra.Command, path []string)
	var paths [][]string
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(NewRoot(nil, io.Discard, io.Discard), nil)
	if len(paths) < 12 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, p := range paths {
		t.Run(strings.Join(append([]string{"routedeck"}, p...), " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), append(p, "--help"), strings.NewReader(""), &out, &errOut)
			if code != 0 || !strings.Contains(out.String(), "Usage:") {
				t.Errorf("exit %d: %s%s", code, out.String(), errOut.String())
			}
		})
	}
}
