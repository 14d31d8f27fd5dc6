package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
)

const backupWorkspace = `kind: Gateway
name: edge
listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Upstream
name: web
static: {endpoints: [{address: 127.0.0.1, port: 9000}]}
---
kind: Route
name: admin
gateway: edge
priority: 20
when: path.prefix("/admin")
then: {forward: [{upstream: web}], auth: {basic: {users: {ops: "s3cret-passw0rd"}}}}
---
kind: Route
name: shop
gateway: edge
priority: 10
when: path.prefix("/%s")
then: {forward: [{upstream: web}]}
`

// TestBackupRestoreServesSameVersions backs a running server up through
// its API, restores the file into a new data directory, starts a server
// there and checks it is the same server: the same published versions
// with the same content, ADS serving the same snapshot version, the same
// CA, and a publish of the restored draft recognised as equal to the live
// version (their digests match).
func TestBackupRestoreServesSameVersions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dirA := t.TempDir()
	svcA, e := startServerIn(t, ctx, dirA)
	for i, prefix := range []string{"shop", "store"} {
		file := writeFile(t, t.TempDir(), "ws.yaml", strings.Replace(backupWorkspace, "%s", prefix, 1))
		if _, errOut, code := e.client(t, "apply", "-f", file); code != 0 {
			t.Fatalf("apply: %s", errOut)
		}
		if out, errOut, code := e.client(t, "publish", "--gateway", "edge"); code != 0 || !strings.Contains(out, "version "+string(rune('1'+i))) {
			t.Fatalf("publish: %s%s", out, errOut)
		}
	}
	waitVersion(t, svcA, "edge", "")
	adminTok := roleToken(t, svcA, auth.RoleAdmin)
	out := filepath.Join(t.TempDir(), "routedeck.backup")

	// Editors may not take backups; admins may, never with the key.
	if _, errOut, code := e.client(t, "backup", "--out", out); code == 0 || !strings.Contains(errOut, "403") {
		t.Fatalf("editor backup: exit %d %s", code, errOut)
	}
	if _, errOut, code := e.run(t, "", "backup", "--out", out, "--include-key", "--server", e.url, "--token", adminTok); code == 0 ||
		!strings.Contains(errOut, "--include-key needs --offline") {
		t.Fatalf("backup --include-key over the API: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused backup left a file")
	}
	_, errOut, code := e.run(t, "", "backup", "--out", out, "--access-log", "--server", e.url, "--token", adminTok)
	if code != 0 || !strings.Contains(errOut, "master key is NOT in the backup") {
		t.Fatalf("backup: exit %d %s", code, errOut)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cret-passw0rd") {
		t.Fatal("the backup holds a password in clear")
	}

	// Without the key nothing is restored, and the directory is not made.
	dataB := filepath.Join(t.TempDir(), "restored")
	if _, errOut, code := runCmd(t, "restore", "--from", out, "--data-dir", dataB); code == 0 || !strings.Contains(errOut, "--key-file") {
		t.Fatalf("restore without a key: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(dataB); err == nil {
		t.Fatal("a refused restore created the data directory")
	}
	keyA := seal.KeyFile(dirA)
	if _, errOut, code := runCmd(t, "restore", "--from", out, "--data-dir", dataB, "--key-file", keyA); code != 0 {
		t.Fatalf("restore: %s", errOut)
	}
	// A second restore into the same, now full, directory is refused.
	if _, errOut, code := runCmd(t, "restore", "--from", out, "--data-dir", dataB, "--key-file", keyA); code == 0 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("restore into a full directory: exit %d %s", code, errOut)
	}

	svcB, eB := startServerIn(t, ctx, dataB)
	waitVersion(t, svcB, "edge", svcA.ADS().Version("edge"))

	pubA, pubB := published(t, svcA.Store(), "edge"), published(t, svcB.Store(), "edge")
	if len(pubA) != 2 {
		t.Fatalf("server A has %d published versions, want 2", len(pubA))
	}
	if diff := cmp.Diff(pubA, pubB); diff != "" {
		t.Errorf("published versions differ after the restore (-A +B):\n%s", diff)
	}
	infoA, _ := svcA.ServerInfo(ctx)
	infoB, _ := svcB.ServerInfo(ctx)
	if infoA.ADS.CA == "" || infoA.ADS.CA != infoB.ADS.CA {
		t.Error("the restored server has another CA: every proxy certificate would be refused")
	}
	// The restored draft's digest equals the live version's: publishing
	// it changes nothing.
	if out, errOut, code := eB.client(t, "publish", "--gateway", "edge"); code != 0 ||
		!strings.Contains(out, "unchanged: the draft equals the live version 2") {
		t.Fatalf("publish on the restored server: exit %d %s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dataB, app.AccessLogFile)); err != nil {
		t.Errorf("--access-log: %v", err)
	}
}

// TestBackupOfflineIncludeKey backs a data directory up beside its running
// server, key included, and restores it with no other key at hand.
func TestBackupOfflineIncludeKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dirA := t.TempDir()
	svcA, e := startServerIn(t, ctx, dirA)
	file := writeFile(t, t.TempDir(), "ws.yaml", strings.Replace(backupWorkspace, "%s", "shop", 1))
	if _, errOut, code := e.client(t, "apply", "-f", file); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	out := filepath.Join(t.TempDir(), "with-key.backup")
	_, errOut, code := runCmd(t, "backup", "--offline", "--include-key", "--out", out, "--data-dir", dirA)
	if code != 0 || !strings.Contains(errOut, "INCLUDES the master key") {
		t.Fatalf("offline backup: exit %d %s", code, errOut)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	dataB := filepath.Join(t.TempDir(), "b")
	if _, errOut, code := runCmd(t, "restore", "--from", out, "--data-dir", dataB); code != 0 {
		t.Fatalf("restore: %s", errOut)
	}
	st, err := app.OpenStoreEnv(ctx, dataB, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want, _ := svcA.Store().Get(ctx, "Route", "admin")
	got, err := st.Get(ctx, "Route", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("restored route differs (-want +got):\n%s", diff)
	}
}

// runCmd executes a command line in-process as it is, with no
// --data-dir added.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut strings.Builder
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

// startServerIn serves dataDir and returns the server and an editor's
// env for client commands.
func startServerIn(t *testing.T, ctx context.Context, dataDir string) (*app.Service, *env) {
	t.Helper()
	for _, k := range []string{EnvServer, EnvToken, EnvDataDir} {
		t.Setenv(k, "")
	}
	svc := app.New(app.Config{DataDir: dataDir, Listen: "127.0.0.1:0", NoDemo: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard, Getenv: func(string) string { return "" }})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	return svc, &env{dataDir: t.TempDir(), url: "http://" + svc.Addr().String(), token: roleToken(t, svc, auth.RoleEditor)}
}

func published(t *testing.T, st *store.Store, gateway string) []store.Published {
	t.Helper()
	var out []store.Published
	for v := int64(1); ; v++ {
		p, err := st.GetPublished(context.Background(), gateway, v)
		if err != nil {
			return out
		}
		out = append(out, p)
	}
}

// waitVersion waits until svc's ADS serves gateway, at version want if
// it is not empty.
func waitVersion(t *testing.T, svc *app.Service, gateway, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := svc.ADS().Version(gateway)
		if got != "" && (want == "" || got == want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ADS serves %s at %q, want %q", gateway, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
