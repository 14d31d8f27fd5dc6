package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func mustGenerate(t *testing.T) *Keyring {
	t.Helper()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealRoundTrip(t *testing.T) {
	k := mustGenerate(t)
	tests := map[string][]byte{
		"empty":    {},
		"password": []byte("s3cret!"),
		"pem":      []byte("-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n"),
		"binary":   {0, 1, 2, 255, 254},
		"large":    bytes.Repeat([]byte("x"), 1<<16),
	}
	for name, plain := range tests {
		t.Run(name, func(t *testing.T) {
			sealed, err := k.Seal(plain)
			if err != nil {
				t.Fatal(err)
			}
			if !IsSealed(sealed) {
				t.Fatalf("IsSealed(%q) = false", sealed)
			}
			if !strings.HasPrefix(sealed, Prefix+k.CurrentID()+":") {
				t.Fatalf("sealed %q does not name key %s", sealed, k.CurrentID())
			}
			if len(plain) > 3 && strings.Contains(sealed, string(plain)) {
				t.Fatal("sealed value contains the plaintext")
			}
			got, err := k.Unseal(sealed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("Unseal = %q, want %q", got, plain)
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	k := mustGenerate(t)
	a, _ := k.Seal([]byte("same"))
	b, _ := k.Seal([]byte("same"))
	if a == b {
		t.Fatal("two seals of the same value are equal: equal secrets would be visible in the database")
	}
}

func TestUnsealRefuses(t *testing.T) {
	k := mustGenerate(t)
	other := mustGenerate(t)
	sealed, err := k.Seal([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	id, blob, _ := parse(sealed)
	flip := func(i int) string {
		b := append([]byte(nil), blob...)
		b[i] ^= 1
		return Prefix + id + ":" + base64.StdEncoding.EncodeToString(b)
	}
	// Another well-formed id must not be accepted for this key.
	forgedID := Prefix + strings.Repeat("0", keyIDLen) + ":" + strings.SplitN(sealed, ":", 4)[3]

	tests := map[string]struct {
		ring  *Keyring
		value string
		want  error
	}{
		"other key":           {other, sealed, ErrUnknownKey},
		"no prefix":           {k, "pw", ErrCorrupt},
		"bad base64":          {k, Prefix + id + ":!!!", ErrCorrupt},
		"short id":            {k, Prefix + "abcd:AAAA", ErrCorrupt},
		"truncated":           {k, Prefix + id + ":" + base64.StdEncoding.EncodeToString(blob[:20]), ErrCorrupt},
		"wrapped key flipped": {k, flip(nonceSize + 1), ErrCorrupt},
		"ciphertext flipped":  {k, flip(len(blob) - 1), ErrCorrupt},
		"id swapped":          {k, forgedID, ErrUnknownKey},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.ring.Unseal(tc.value)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unseal error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestIsSealed(t *testing.T) {
	tests := map[string]bool{
		"":                                false,
		"hunter2":                         false,
		"rdseal:v1:":                      false,
		"rdseal:v1:0123456789abcdef":      false,
		"rdseal:v1:0123456789abcdef:AAAA": true,
		"rdseal:v1:0123456789abcdeg:AAAA": false,
		"rdseal:v2:0123456789abcdef:AAAA": false,
	}
	for in, want := range tests {
		if got := IsSealed(in); got != want {
			t.Errorf("IsSealed(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	key, _ := NewKey()
	a, _ := New(key)
	b, _ := New(key)
	other := mustGenerate(t)

	fp := a.Fingerprint("s3cret")
	if !IsFingerprint(fp) || len(fp) != len("fp:")+12 {
		t.Fatalf("Fingerprint = %q, want fp: and 12 hex", fp)
	}
	if got := b.Fingerprint("s3cret"); got != fp {
		t.Errorf("same key, other keyring: %q, want %q", got, fp)
	}
	if got := a.Fingerprint("s3cret2"); got == fp {
		t.Error("two values share a fingerprint")
	}
	if got := other.Fingerprint("s3cret"); got == fp {
		t.Error("two keys give the same fingerprint: it is not keyed")
	}
	if strings.Contains(fp, a.CurrentID()) {
		t.Error("fingerprint shows the key id")
	}
}

func TestRotation(t *testing.T) {
	old := mustGenerate(t)
	sealedOld, _ := old.Seal([]byte("pw"))

	rotated, newKey, err := old.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	if rotated.CurrentID() == old.CurrentID() {
		t.Fatal("rotation kept the current key")
	}
	if got := rotated.IDs(); len(got) != 2 || got[1] != old.CurrentID() {
		t.Fatalf("IDs = %v, want new then %s", got, old.CurrentID())
	}
	resealed, changed, err := rotated.Reseal(sealedOld)
	if err != nil || !changed {
		t.Fatalf("Reseal = %v, %v", changed, err)
	}
	if again, changed, _ := rotated.Reseal(resealed); changed || again != resealed {
		t.Fatal("a value under the current key was resealed again")
	}

	only := rotated.CurrentOnly()
	if _, err := only.Unseal(sealedOld); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old value after dropping the old key: %v, want ErrUnknownKey", err)
	}
	fresh, _ := New(newKey)
	if got, err := fresh.Unseal(resealed); err != nil || string(got) != "pw" {
		t.Fatalf("new key alone: %q, %v", got, err)
	}
}

func TestOpenCreatesKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	noEnv := func(string) string { return "" }

	k1, err := Open(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(KeyFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	if k1.Source().File != KeyFile(dir) {
		t.Fatalf("Source = %v", k1.Source())
	}
	sealed, _ := k1.Seal([]byte("pw"))

	k2, err := Open(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if k2.CurrentID() != k1.CurrentID() || k2.Fingerprint("x") != k1.Fingerprint("x") {
		t.Fatal("second start got another key")
	}
	if got, err := k2.Unseal(sealed); err != nil || string(got) != "pw" {
		t.Fatalf("second start: %q, %v", got, err)
	}
}

func TestOpenFromEnv(t *testing.T) {
	dir := t.TempDir()
	cur, _ := NewKey()
	prev, _ := NewKey()
	prevRing, _ := New(prev)
	sealedPrev, _ := prevRing.Seal([]byte("old"))

	tests := map[string]struct {
		env     string
		wantErr bool
	}{
		"one key":       {env: EncodeKey(cur)},
		"with previous": {env: EncodeKey(cur) + "," + EncodeKey(prev)},
		"padded":        {env: " " + EncodeKey(cur) + " \n"},
		"not base64":    {env: "not a key", wantErr: true},
		"wrong length":  {env: base64.StdEncoding.EncodeToString([]byte("short")), wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			k, err := Open(dir, func(n string) string {
				if n == EnvMasterKey {
					return tc.env
				}
				return ""
			})
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if strings.Contains(err.Error(), tc.env) {
					t.Fatalf("error %q echoes the variable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := New(cur)
			if k.CurrentID() != want.CurrentID() || !k.Source().Env {
				t.Fatalf("got key %s from %v", k.CurrentID(), k.Source())
			}
			if strings.Contains(tc.env, ",") {
				if got, err := k.Unseal(sealedPrev); err != nil || string(got) != "old" {
					t.Fatalf("previous key: %q, %v", got, err)
				}
			}
		})
	}
	if _, err := os.Stat(KeyFile(dir)); !os.IsNotExist(err) {
		t.Fatal("a key file was written although the key came from the environment")
	}
}

func TestWriteFileReplacesKeys(t *testing.T) {
	dir := t.TempDir()
	noEnv := func(string) string { return "" }
	k, err := Open(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	sealedOld, _ := k.Seal([]byte("old"))
	rotated, _, err := k.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	if err := rotated.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	both, err := Open(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if both.CurrentID() != rotated.CurrentID() {
		t.Fatal("key file does not seal with the new key")
	}
	if _, err := both.Unseal(sealedOld); err != nil {
		t.Fatalf("old value while both keys are kept: %v", err)
	}
	if err := rotated.CurrentOnly().WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	only, err := Open(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(only.IDs()) != 1 {
		t.Fatalf("IDs = %v after dropping the old key", only.IDs())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data directory holds %d files, want the key file alone (temporary files left?)", len(entries))
	}
}
