package api

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/sandbox/envoy"
	"github.com/routedeck/routedeck/sandbox/session"
)

// sandboxSettingsReply decodes GET|PUT /sandbox/settings, keeping null
// apart from a missing or empty binary.
type sandboxSettingsReply struct {
	Engine      string `json:"engine"`
	EnvoyBinary string `json:"envoyBinary"`
	Status      struct {
		Engine      string          `json:"engine"`
		EnvoyBinary json.RawMessage `json:"envoyBinary"`
		EnvoyError  string          `json:"envoyError"`
		Error       string          `json:"error"`
	} `json:"status"`
}

// newSandboxSettingsAPI is the API over a real store with the real sandbox
// service reading its settings from that store, the way the app wires
// them. The sandbox looks Envoy up with envoy.Find, in an environment
// the test controls: no ROUTEDECK_ENVOY and pathDir ("" for an empty
// directory) as the whole PATH.
func newSandboxSettingsAPI(t *testing.T, pathDir string) *testAPI {
	t.Helper()
	if pathDir == "" {
		pathDir = t.TempDir()
	}
	t.Setenv(envoy.EnvBinary, "")
	t.Setenv("PATH", pathDir)
	var sb *session.Service
	a := newTestAPI(t, func(d *Deps) {
		sb = session.New(session.Options{Store: d.Store, Settings: d.Store, Logger: d.Logger})
		d.SandboxSettings = sb
	})
	t.Cleanup(func() { _ = sb.Close() })
	return a
}

// fakeEnvoyOnPath puts an executable named envoy in a directory of its own
// and returns the directory and the file. envoy.Find only needs it to be
// executable; nothing runs it here.
func fakeEnvoyOnPath(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "envoy")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

func TestSandboxSettings(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const noEnvoy = "no envoy binary: not on PATH and ROUTEDECK_ENVOY is not set"
	type want struct {
		engine, binary  string // saved
		status          string // engine now
		statusBinary    string // JSON: a quoted path or null
		envoyError      string
		problems        map[string]string // field -> message of a 400
		saved           *session.Settings // in the store afterwards; nil: nothing
		statusBinaryEnv bool              // statusBinary is the envoy on PATH
	}
	tests := map[string]struct {
		envoyOnPath bool
		put         any // nil: GET only
		want        want
	}{
		"nothing saved is the sim": {
			want: want{engine: "sim", status: "sim", statusBinary: "null", envoyError: noEnvoy}},
		"nothing saved, envoy on PATH found but not used": {envoyOnPath: true,
			want: want{engine: "sim", status: "sim", statusBinaryEnv: true}},
		"envoy at a configured path": {put: map[string]any{"engine": "envoy", "envoyBinary": self},
			want: want{engine: "envoy", binary: self, status: "envoy", statusBinary: self,
				saved: &session.Settings{Engine: "envoy", EnvoyBinary: self}}},
		"envoy on PATH": {envoyOnPath: true, put: map[string]any{"engine": "envoy"},
			want: want{engine: "envoy", status: "envoy", statusBinaryEnv: true,
				saved: &session.Settings{Engine: "envoy"}}},
		"auto without envoy runs the sim": {put: map[string]any{"engine": "auto"},
			want: want{engine: "auto", status: "sim", statusBinary: "null", envoyError: noEnvoy,
				saved: &session.Settings{Engine: "auto"}}},
		"auto with envoy on PATH runs envoy": {envoyOnPath: true, put: map[string]any{"engine": "auto"},
			want: want{engine: "auto", status: "envoy", statusBinaryEnv: true, saved: &session.Settings{Engine: "auto"}}},
		"back to the sim": {envoyOnPath: true, put: map[string]any{"engine": "sim"},
			want: want{engine: "sim", status: "sim", statusBinaryEnv: true, saved: &session.Settings{Engine: "sim"}}},
		"envoy with no binary anywhere": {put: map[string]any{"engine": "envoy"},
			want: want{problems: map[string]string{
				"engine": "no envoy binary found (set envoyBinary, ROUTEDECK_ENVOY, or put envoy on PATH)"}}},
		"every problem at once": {envoyOnPath: true, put: map[string]any{"engine": "docker", "envoyBinary": "/nonexistent/envoy"},
			want: want{problems: map[string]string{
				"engine":      `must be sim, envoy or auto, not "docker"`,
				"envoyBinary": `envoy binary "/nonexistent/envoy": exec: "/nonexistent/envoy": stat /nonexistent/envoy: no such file or directory`}}},
		"unknown field": {put: map[string]any{"engin": "envoy"},
			want: want{problems: map[string]string{}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var pathDir, envoyBin string
			if tc.envoyOnPath {
				pathDir, envoyBin = fakeEnvoyOnPath(t)
			}
			a := newSandboxSettingsAPI(t, pathDir)
			if tc.put != nil {
				r := a.do(t, "admin", "PUT", "/api/v1/sandbox/settings", tc.put)
				if tc.want.problems != nil {
					r.must(t, http.StatusBadRequest)
					if len(tc.want.problems) > 0 {
						if diff := cmp.Diff(tc.want.problems, r.problemFields(t)); diff != "" {
							t.Errorf("problems (-want +got):\n%s", diff)
						}
					}
				} else {
					r.must(t, http.StatusOK)
				}
			}
			var saved session.Settings
			err := a.store.GetSetting(t.Context(), session.SettingsKey, &saved)
			switch {
			case tc.want.saved == nil && model.ErrorCode(err) != model.ENOTFOUND:
				t.Errorf("store holds %+v (err %v), want nothing saved", saved, err)
			case tc.want.saved != nil && err != nil:
				t.Errorf("read the saved settings: %v", err)
			case tc.want.saved != nil && saved != *tc.want.saved:
				t.Errorf("store holds %+v, want %+v", saved, *tc.want.saved)
			}
			if tc.want.problems != nil {
				return
			}
			var got sandboxSettingsReply
			if err := json.Unmarshal(a.do(t, "viewer", "GET", "/api/v1/sandbox/settings", nil).must(t, http.StatusOK).body, &got); err != nil {
				t.Fatal(err)
			}
			wantBinary := tc.want.statusBinary
			if tc.want.statusBinaryEnv {
				wantBinary = envoyBin
			}
			if wantBinary != "null" {
				b, _ := json.Marshal(wantBinary)
				wantBinary = string(b)
			}
			if got.Engine != tc.want.engine || got.EnvoyBinary != tc.want.binary {
				t.Errorf("saved engine %q binary %q, want %q %q", got.Engine, got.EnvoyBinary, tc.want.engine, tc.want.binary)
			}
			if got.Status.Engine != tc.want.status || string(got.Status.EnvoyBinary) != wantBinary ||
				got.Status.EnvoyError != tc.want.envoyError || got.Status.Error != "" {
				t.Errorf("status %+v (binary %s), want engine %s binary %s envoyError %q",
					got.Status, got.Status.EnvoyBinary, tc.want.status, wantBinary, tc.want.envoyError)
			}
		})
	}
}

// TestSandboxSettingsEnvoyGone: Envoy chosen, then uninstalled. GET still
// answers, says the sandbox means envoy and why requests fail.
func TestSandboxSettingsEnvoyGone(t *testing.T) {
	dir, bin := fakeEnvoyOnPath(t)
	a := newSandboxSettingsAPI(t, dir)
	a.do(t, "admin", "PUT", "/api/v1/sandbox/settings", map[string]any{"engine": "envoy"}).must(t, http.StatusOK)
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	var got sandboxSettingsReply
	if err := json.Unmarshal(a.do(t, "viewer", "GET", "/api/v1/sandbox/settings", nil).must(t, http.StatusOK).body, &got); err != nil {
		t.Fatal(err)
	}
	const want = "the sandbox engine is envoy, but no envoy binary: not on PATH and ROUTEDECK_ENVOY is not set"
	if got.Engine != "envoy" || got.Status.Engine != "envoy" || string(got.Status.EnvoyBinary) != "null" || got.Status.Error != want {
		t.Errorf("got %+v (binary %s), want envoy saved and running, binary null, error %q", got, got.Status.EnvoyBinary, want)
	}
}

// TestSandboxSettingsNotWired: a server built without a sandbox answers
// 501, after refusing a malformed body.
func TestSandboxSettingsNotWired(t *testing.T) {
	a := newTestAPI(t)
	a.do(t, "viewer", "GET", "/api/v1/sandbox/settings", nil).must(t, http.StatusNotImplemented)
	a.do(t, "admin", "PUT", "/api/v1/sandbox/settings", `{"engine": 1}`).must(t, http.StatusBadRequest)
	a.do(t, "admin", "PUT", "/api/v1/sandbox/settings", map[string]any{"engine": "sim"}).must(t, http.StatusNotImplemented)
}
