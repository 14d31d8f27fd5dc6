package storetest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/seal"
)

// needles returns the forms in which value could sit in a file: as is,
// JSON-escaped, base64 (at each byte alignment, so a value inside a longer
// encoded text is found too) and hex; for a PEM key also its DER bytes and
// a line of its body.
func needles(value string) map[string][]byte {
	out := map[string][]byte{}
	add := func(form string, b []byte) {
		if len(b) >= 8 {
			out[form] = b
		}
	}
	raw := []byte(value)
	if blk, _ := pem.Decode(raw); blk != nil {
		der := blk.Bytes
		mid := der[len(der)/2 : len(der)/2+32]
		add("DER", mid)
		add("DER hex", []byte(hex.EncodeToString(mid)))
		lines := strings.Split(strings.TrimSpace(value), "\n")
		add("PEM body line", []byte(lines[len(lines)/2]))
		raw = []byte(lines[len(lines)/2])
	}
	add("raw", raw)
	j, _ := json.Marshal(string(raw))
	add("JSON", j[1:len(j)-1])
	for shift := range 3 {
		enc := base64.StdEncoding.EncodeToString(raw[shift:])
		// Drop the characters that depend on what follows the value.
		enc = strings.TrimRight(enc, "=")
		add("base64+"+string(rune('0'+shift)), []byte(enc[:len(enc)-2]))
		url := base64.RawURLEncoding.EncodeToString(raw[shift:])
		add("base64url+"+string(rune('0'+shift)), []byte(url[:len(url)-2]))
	}
	add("hex", []byte(hex.EncodeToString(raw)))
	add("HEX", []byte(strings.ToUpper(hex.EncodeToString(raw))))
	return out
}

// ScanForSecrets fails t for every secret (name -> value) found in any
// file of data directory dir but the master key file: the database, its
// WAL and shared-memory files. Values are looked for as they are and in
// the encodings a store might use: JSON-escaped, base64, hex, and for a PEM
// private key its DER bytes.
func ScanForSecrets(t testing.TB, dir string, secrets map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	scanned := 0
	for _, e := range entries {
		if e.IsDir() || e.Name() == seal.KeyFileName {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		scanned++
		for what, v := range secrets {
			for form, n := range needles(v) {
				if bytes.Contains(data, n) {
					t.Errorf("%s: the %s, %s form, is in the file", e.Name(), what, form)
				}
			}
		}
	}
	if scanned == 0 {
		t.Fatal("no database file to scan")
	}
}
