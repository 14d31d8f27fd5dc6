package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
)

// TestSandboxSettingsSwitchEngine chooses the sandbox engine through the
// API of a running service: what PUT saves is what the sandbox then runs
// (GET's status and the engines route tests report), and a binary that
// is not there is refused by field.
func TestSandboxSettingsSwitchEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, call := apiService(t, ctx, auth.RoleAdmin, auth.RoleEditor)
	settings := func(method, body string, wantCode int) (v struct {
		Engine string
		Status struct {
			Engine      string
			EnvoyBinary *string
		}
	}) {
		t.Helper()
		code, b := call(auth.RoleAdmin, method, "/sandbox/settings", body)
		if code != wantCode {
			t.Fatalf("%s /sandbox/settings %s: %d %s, want %d", method, body, code, b, wantCode)
		}
		if code == 200 {
			if err := json.Unmarshal([]byte(b), &v); err != nil {
				t.Fatal(err)
			}
		} else if !strings.Contains(b, `"field":"envoyBinary"`) {
			t.Errorf("refusal does not name envoyBinary: %s", b)
		}
		return v
	}
	engines := func() string {
		t.Helper()
		code, b := call(auth.RoleEditor, "POST", "/tests/run", `{"gateway": "public", "tests": [
			{"name": "home", "request": {"url": "http://shop.example.com/"}, "expect": {"status": 200}}]}`)
		var rep struct{ Engines []string }
		if code != 200 || json.Unmarshal([]byte(b), &rep) != nil {
			t.Fatalf("POST /tests/run: %d %s", code, b)
		}
		return strings.Join(rep.Engines, ",")
	}

	if v := settings("GET", "", 200); v.Engine != "sim" || v.Status.Engine != "sim" {
		t.Errorf("a fresh service: %+v, want the sim", v)
	}
	settings("PUT", `{"engine": "envoy", "envoyBinary": "`+filepath.Join(t.TempDir(), "envoy")+`"}`, 400)

	// Only found, never run: the status reads the choice, not the process.
	bin := filepath.Join(t.TempDir(), "envoy")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	v := settings("PUT", `{"engine": "auto", "envoyBinary": "`+bin+`"}`, 200)
	if v.Engine != "auto" || v.Status.Engine != "envoy" || v.Status.EnvoyBinary == nil || *v.Status.EnvoyBinary != bin {
		t.Errorf("auto with a binary: %+v, want envoy running %s", v, bin)
	}
	if v := settings("PUT", `{"engine": "sim"}`, 200); v.Status.Engine != "sim" {
		t.Errorf("back to the sim: %+v", v)
	}
	if got := engines(); got != "evaluator,sim" {
		t.Errorf("route tests ran on %s, want evaluator,sim", got)
	}
}
