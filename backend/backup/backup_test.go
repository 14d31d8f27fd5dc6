package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

var ctx = context.Background()

func noEnv(string) string { return "" }

// dataDir makes a data directory with a gateway in its database and a CA
// file, as a server leaves it, and returns it with its store.
func dataDir(t *testing.T) (string, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	st := storetest.MustOpenAt(t, filepath.Join(dir, DBFile), storetest.Keys(t, dir))
	gw := &model.Gateway{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}
	if err := st.Create(ctx, "test", gw); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CAFile), []byte(`{"cas":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, st
}

func archive(t *testing.T, src Source, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := Write(ctx, &b, src, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rewrite unpacks an archive, lets edit change its members (name ->
// content, in order), and packs it again without touching the manifest.
func rewrite(t *testing.T, raw []byte, edit func(names []string, files map[string][]byte) []string) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		files[h.Name] = b
	}
	names = edit(names, files)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Size: int64(len(files[n])), Mode: 0o600})
		tw.Write(files[n])
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

func TestRestoreRefusesDamagedArchives(t *testing.T) {
	dir, st := dataDir(t)
	good := archive(t, Source{DataDir: dir, Store: st}, Options{})
	keyFile := seal.KeyFile(dir)
	tests := map[string]struct {
		raw  []byte
		want string
	}{
		"not gzip":  {raw: []byte("PK\x03\x04 a zip file"), want: "not a routedeck backup"},
		"truncated": {raw: good[:len(good)/2], want: ""},
		"flipped byte in the database": {raw: rewrite(t, good, func(n []string, f map[string][]byte) []string {
			f[DBFile][len(f[DBFile])/2] ^= 1
			return n
		}), want: "does not match its checksum"},
		"member missing": {raw: rewrite(t, good, func(n []string, f map[string][]byte) []string {
			return n[:len(n)-1]
		}), want: "truncated"},
		"extra member": {raw: rewrite(t, good, func(n []string, f map[string][]byte) []string {
			f["../../etc/passwd"] = []byte("root")
			return append(n, "../../etc/passwd")
		}), want: "not in its manifest"},
		"unknown manifest field": {raw: rewrite(t, good, func(n []string, f map[string][]byte) []string {
			f[manifestName] = bytes.Replace(f[manifestName], []byte(`"format"`), []byte(`"extra": 1, "format"`), 1)
			return n
		}), want: "extra"},
		"manifest names a foreign file": {raw: rewrite(t, good, func(n []string, f map[string][]byte) []string {
			f[manifestName] = bytes.Replace(f[manifestName], []byte(`"name": "pki/ca.json"`), []byte(`"name": "../ca.json"`), 1)
			return n
		}), want: `"../ca.json" is not a file of a data directory`},
		"manifest first": {raw: rewrite(t, good, func(n []string, f map[string][]byte) []string {
			return append(n[1:], n[0])
		}), want: "must start with manifest.json"},
		"database not sqlite": {raw: func() []byte {
			// A consistent archive whose database is garbage: checksums
			// match, the integrity check does not.
			var b bytes.Buffer
			m := Manifest{Format: Format, FormatVersion: FormatVersion, SchemaVersion: 4}
			tmp := t.TempDir()
			os.WriteFile(filepath.Join(tmp, DBFile), bytes.Repeat([]byte("garbage!"), 1024), 0o600)
			fi, _ := hashFile(filepath.Join(tmp, DBFile))
			fi.Name = DBFile
			m.Files = []FileInfo{fi}
			if err := writeArchive(&b, tmp, m); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		}(), want: "not a database"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "new")
			_, err := Restore(ctx, bytes.NewReader(tc.raw), target, RestoreOptions{KeyFile: keyFile, Getenv: noEnv})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if _, err := os.Stat(target); err == nil {
				t.Error("a refused restore created the data directory")
			}
			left, _ := os.ReadDir(filepath.Dir(target))
			if len(left) != 0 {
				t.Errorf("a refused restore left %v beside the data directory", left[0].Name())
			}
		})
	}
}

func TestRestoreKeys(t *testing.T) {
	dir, st := dataDir(t)
	raw := archive(t, Source{DataDir: dir, Store: st}, Options{})
	other := t.TempDir()
	storetest.Keys(t, other) // a key file of another data directory
	keys, err := seal.Open(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		opts RestoreOptions
		want string // "" restores
	}{
		"no key":                 {opts: RestoreOptions{Getenv: noEnv}, want: "does not include its master key"},
		"another key":            {opts: RestoreOptions{KeyFile: seal.KeyFile(other), Getenv: noEnv}, want: keys.CurrentID()},
		"the key file":           {opts: RestoreOptions{KeyFile: seal.KeyFile(dir), Getenv: noEnv}},
		"key in the environment": {opts: RestoreOptions{Getenv: envKey(t, dir)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "new")
			_, err := Restore(ctx, bytes.NewReader(raw), target, tc.opts)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			restored, err := store.Open(ctx, filepath.Join(target, DBFile), keys)
			if err != nil {
				t.Fatal(err)
			}
			defer restored.Close()
			if _, err := restored.Get(ctx, model.KindGateway, "edge"); err != nil {
				t.Error(err)
			}
		})
	}
}

// envKey is an environment holding dir's master key.
func envKey(t *testing.T, dir string) func(string) string {
	raw, err := os.ReadFile(seal.KeyFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for _, line := range strings.Split(string(raw), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			key = line
			break
		}
	}
	return func(name string) string {
		if name == seal.EnvMasterKey {
			return key
		}
		return ""
	}
}

// TestRestoreForce replaces a stopped server's files, and its old WAL
// does not survive to be replayed into the restored database.
func TestRestoreForce(t *testing.T) {
	dir, _ := dataDir(t)
	raw := archive(t, Source{DataDir: dir}, Options{IncludeKey: true})
	target := t.TempDir()
	os.WriteFile(filepath.Join(target, DBFile), []byte("old"), 0o600)
	os.WriteFile(filepath.Join(target, DBFile+"-wal"), []byte("old wal"), 0o600)
	if _, err := Restore(ctx, bytes.NewReader(raw), target, RestoreOptions{Getenv: noEnv}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore into a full directory: %v", err)
	}
	if _, err := Restore(ctx, bytes.NewReader(raw), target, RestoreOptions{Force: true, Getenv: noEnv}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(target, DBFile+"-wal")); err == nil {
		t.Error("the old WAL is still there")
	}
	restored := storetest.MustOpenAt(t, filepath.Join(target, DBFile), storetest.Keys(t, target))
	if _, err := restored.Get(ctx, model.KindGateway, "edge"); err != nil {
		t.Error(err)
	}
}

// TestIncludeKeyFromEnvironment: a key that lives in the environment is
// not copied into a backup.
func TestIncludeKeyFromEnvironment(t *testing.T) {
	dir, _ := dataDir(t)
	var b bytes.Buffer
	_, err := Write(ctx, &b, Source{DataDir: dir, Getenv: envKey(t, dir)}, Options{IncludeKey: true})
	if err == nil || !strings.Contains(err.Error(), seal.EnvMasterKey) {
		t.Fatalf("err = %v", err)
	}
	if b.Len() != 0 {
		t.Error("a failed backup wrote to its output")
	}
}
