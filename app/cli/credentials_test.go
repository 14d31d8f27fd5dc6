package cli

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/store"
)

// Clear credentials the CLI must never print. The password has characters
// JSON and YAML escape or quote.
const (
	cliPassword = `pw-51c9<&>"alice`
	cliHashed   = "{SHA}Yp3bY0xMlX1bV2r8mVnq1k2c5Hk="
	cliKeyOne   = "ak-3e8d7c61-partner-one"
	cliKeyTwo   = "ak-c04a9b12-partner-two"
)

// credentialFile is a manifest with a TLS secret, the gateway serving it,
// a basic-auth route and an API-key route.
func credentialFile(t *testing.T, cert, key string) string {
	t.Helper()
	indent := func(s string) string {
		return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
	}
	return writeFile(t, t.TempDir(), "credentials.yaml", `kind: Secret
name: shop-tls
tls:
  certificate: |
`+indent(cert)+`
  privateKey: |
`+indent(key)+`
---
kind: Gateway
name: edge
listeners:
  - {name: http, port: 8080, protocol: HTTP}
  - {name: https, port: 8443, protocol: HTTPS, tls: {certificates: [{secret: shop-tls}]}}
---
kind: Upstream
name: shop
static: {endpoints: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: members
gateway: edge
when: path.prefix("/members")
then:
  forward: [{upstream: shop}]
  auth: {basic: {users: {alice: '`+cliPassword+`', bob: '`+cliHashed+`'}}}
---
kind: Route
name: partners
gateway: edge
when: path.prefix("/partners")
then:
  forward: [{upstream: shop}]
  auth: {apiKey: {header: x-api-key, keys: [`+cliKeyOne+`, `+cliKeyTwo+`]}}
`)
}

// cliNeedles are the byte strings no output may hold: each clear value as
// written and as JSON escapes it, the htpasswd hash of the clear password,
// and every base64 line of the private key.
func cliNeedles(key string) map[string]string {
	sum := sha1.Sum([]byte(cliPassword))
	needles := map[string]string{
		"password":      cliPassword,
		"password hash": "{SHA}" + base64.StdEncoding.EncodeToString(sum[:]),
		"given hash":    cliHashed,
		"api key 1":     cliKeyOne,
		"api key 2":     cliKeyTwo,
	}
	for i, v := range []string{cliPassword, cliHashed} {
		raw, _ := json.Marshal(v)
		needles[fmt.Sprintf("JSON password %d", i)] = strings.Trim(string(raw), `"`)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		needles[fmt.Sprintf("unescaped JSON password %d", i)] = strings.Trim(strings.TrimSpace(b.String()), `"`)
	}
	for i, line := range strings.Split(strings.TrimSpace(key), "\n") {
		if !strings.HasPrefix(line, "-----") {
			needles[fmt.Sprintf("private key line %d", i)] = line
		}
	}
	return needles
}

// TestCredentialsNeverPrinted runs every command that prints objects,
// revisions or Envoy resources (get, export, diff) as each role against a
// real server holding a TLS secret, a basic-auth route and an API-key
// route, published; no output shows a credential. Only an admin's
// export --with-secrets does.
func TestCredentialsNeverPrinted(t *testing.T) {
	ctx := context.Background()
	svc, e, _ := startServer(t, ctx)
	cert, key := secrettest.Pair(t, "shop.example.com")
	file := credentialFile(t, cert, key)
	if out, errOut, code := e.client(t, "apply", "-f", file); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	if _, err := svc.Store().Publish(ctx, "test", "edge", "v1"); err != nil {
		t.Fatalf("publish: %v", err)
	}
	revs, _, err := svc.Store().ListRevisions(ctx, store.RevisionFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	commands := [][]string{
		{"get", "routes"}, {"get", "routes", "-o", "yaml"}, {"get", "routes", "-o", "json"},
		{"get", "route", "members", "-o", "yaml"}, {"get", "route", "partners", "-o", "json"},
		{"get", "secrets"}, {"get", "secret", "shop-tls", "-o", "yaml"}, {"get", "secret", "shop-tls", "-o", "json"},
		{"export", "envoy", "--gateway", "edge"}, {"export", "envoy", "--gateway", "edge", "-o", "json"},
		{"export", "envoy", "--gateway", "edge", "--version", "1"}, {"export", "envoy", "--gateway", "edge", "--type", "secrets"},
		{"export", "envoy", "--gateway", "edge", "--with-secrets"},
		{"diff", "-f", file},
	}
	for _, r := range revs {
		commands = append(commands, []string{"diff", "--revision", fmt.Sprint(r.ID)})
	}
	needles := cliNeedles(key)
	for _, role := range auth.Roles {
		t.Run(role, func(t *testing.T) {
			e.token = roleToken(t, svc, role)
			for _, args := range commands {
				out, errOut, code := e.client(t, args...)
				cmd := strings.Join(args, " ")
				withSecrets := strings.Contains(cmd, "--with-secrets")
				switch {
				case withSecrets && role == auth.RoleAdmin:
					// The audited exception: the key is printed.
					if code != 0 || !strings.Contains(out, needles["private key line 1"]) {
						t.Errorf("%s as admin: exit %d, key not printed: %s", cmd, code, errOut)
					}
					continue
				case withSecrets:
					if code == 0 || !strings.Contains(errOut, "403") {
						t.Errorf("%s as %s: exit %d, want 403: %s", cmd, role, code, errOut)
					}
				case code != 0:
					t.Errorf("%s: exit %d: %s", cmd, code, errOut)
				}
				for name, n := range needles {
					if strings.Contains(out, n) || strings.Contains(errOut, n) {
						t.Errorf("%s prints the %s", cmd, name)
					}
				}
			}
		})
	}
}

// TestCredentialsRoundTripThroughAFile: `get -o yaml`, edited, applied:
// the credentials the file names by fingerprint stay, the one written in
// clear replaces the stored one, and a fingerprint the server does not
// know is refused with its file line.
func TestCredentialsRoundTripThroughAFile(t *testing.T) {
	ctx := context.Background()
	svc, e, _ := startServer(t, ctx)
	cert, key := secrettest.Pair(t, "shop.example.com")
	if out, errOut, code := e.client(t, "apply", "-f", credentialFile(t, cert, key)); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	stored := func(t *testing.T) map[string]string {
		t.Helper()
		obj, err := svc.Store().Get(ctx, model.KindRoute, "members")
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*model.Route).Then.Auth.Basic.Users
	}
	yml, errOut, code := e.client(t, "get", "routes", "-o", "yaml")
	if code != 0 {
		t.Fatalf("get: %s", errOut)
	}
	dir := t.TempDir()
	out, errOut, code := e.client(t, "apply", "-f", writeFile(t, dir, "back.yaml", yml))
	if code != 0 || strings.Count(out, "unchanged") != 2 {
		t.Fatalf("apply of get output: %s%s", out, errOut)
	}
	if got := stored(t); !maps.Equal(got, map[string]string{"alice": cliPassword, "bob": cliHashed}) {
		t.Fatalf("users after the round trip = %v", got)
	}
	if out, _, _ := e.client(t, "diff", "-f", filepath.Join(dir, "back.yaml")); out != "" {
		t.Errorf("diff of get output: %q", out)
	}

	// alice gets a new password in clear; bob keeps his by fingerprint.
	var aliceFP string
	for _, line := range strings.Split(yml, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "alice: "); ok {
			aliceFP = v
		}
	}
	if !model.IsFingerprint(aliceFP) {
		t.Fatalf("alice's password reads %q in get -o yaml:\n%s", aliceFP, yml)
	}
	edited := writeFile(t, dir, "edited.yaml", strings.Replace(yml, "alice: "+aliceFP, "alice: new-password", 1))
	diffOut, _, _ := e.client(t, "diff", "-f", edited)
	if !strings.Contains(diffOut, "-        alice: "+aliceFP) || !strings.Contains(diffOut, "+        alice: "+fileSecret) || strings.Contains(diffOut, "new-password") {
		t.Errorf("diff of the edited file:\n%s", diffOut)
	}
	if out, errOut, code := e.client(t, "apply", "-f", edited); code != 0 {
		t.Fatalf("apply of the edited file: %s%s", out, errOut)
	}
	if got := stored(t); !maps.Equal(got, map[string]string{"alice": "new-password", "bob": cliHashed}) {
		t.Fatalf("users after the edit = %v", got)
	}

	// The old fingerprint names nothing stored any more.
	_, errOut, code = e.client(t, "apply", "-f", writeFile(t, dir, "stale.yaml", yml))
	if code == 0 || !strings.Contains(errOut, "then.auth.basic.users.alice") || !strings.Contains(errOut, "unknown fingerprint") ||
		!strings.Contains(errOut, "stale.yaml:") {
		t.Errorf("apply of a stale fingerprint: exit %d\n%s", code, errOut)
	}
}

// TestHelpNeverPrintsTheToken runs --help for every command with a token
// in the environment: the token is never printed, and client commands
// still use it.
func TestHelpNeverPrintsTheToken(t *testing.T) {
	e := newEnv(t)
	t.Setenv(EnvToken, e.token)
	var walk func(c *cobra.Command) [][]string
	walk = func(c *cobra.Command) [][]string {
		out := [][]string{strings.Fields(c.CommandPath())[1:]}
		for _, sub := range c.Commands() {
			out = append(out, walk(sub)...)
		}
		return out
	}
	paths := walk(NewRoot(nil, &bytes.Buffer{}, &bytes.Buffer{}))
	if len(paths) < 20 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, p := range paths {
		out, errOut, _ := e.run(t, "", append(p, "--help")...)
		if strings.Contains(out+errOut, e.token) {
			t.Errorf("routedeck %s --help prints the token", strings.Join(p, " "))
		}
		if len(p) == 1 && p[0] == "get" && !strings.Contains(out, "$"+EnvToken) {
			t.Errorf("get --help does not name %s:\n%s", EnvToken, out)
		}
	}
	if out, errOut, code := e.run(t, "", "get", "routes", "--server", e.url); code != 0 || !strings.Contains(out, "NAME") {
		t.Errorf("get with the token from the environment: exit %d %s%s", code, out, errOut)
	}
}
