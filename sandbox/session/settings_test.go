package session

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
)

// fakeFind finds "envoy" (and the binary named at) in /opt/envoy/bin when
// installed; a configured name other than "envoy" is never found.
func fakeFind(installed bool) func(string) (string, error) {
	return func(configured string) (string, error) {
		switch {
		case configured == "" && installed:
			return "/opt/envoy/bin/envoy", nil
		case configured == "":
			return "", model.Errorf(model.ENOTFOUND, "no envoy binary: not on PATH and ROUTEDECK_ENVOY is not set")
		case configured == "/opt/envoy/bin/envoy":
			return configured, nil
		}
		return "", model.Errorf(model.ENOTFOUND, "envoy binary %q: not found", configured)
	}
}

func TestCheckSettings(t *testing.T) {
	tests := map[string]struct {
		set       Settings
		installed bool
		want      []model.FieldError
	}{
		"empty is the sim":           {set: Settings{}},
		"sim needs no envoy":         {set: Settings{Engine: EngineSim}},
		"auto without envoy is fine": {set: Settings{Engine: EngineAuto}},
		"envoy on PATH":              {set: Settings{Engine: EngineEnvoy}, installed: true},
		"envoy at a configured path": {set: Settings{Engine: EngineEnvoy, EnvoyBinary: "/opt/envoy/bin/envoy"}},
		"envoy nowhere": {set: Settings{Engine: EngineEnvoy}, want: []model.FieldError{
			{Field: "engine", Message: "no envoy binary found (set envoyBinary, ROUTEDECK_ENVOY, or put envoy on PATH)"}}},
		"configured binary missing, even with envoy on PATH": {set: Settings{Engine: EngineEnvoy, EnvoyBinary: "envoy-1.99"}, installed: true,
			want: []model.FieldError{{Field: "envoyBinary", Message: `envoy binary "envoy-1.99": not found`}}},
		"configured binary missing with auto": {set: Settings{Engine: EngineAuto, EnvoyBinary: "envoy-1.99"},
			want: []model.FieldError{{Field: "envoyBinary", Message: `envoy binary "envoy-1.99": not found`}}},
		"every problem at once": {set: Settings{Engine: "docker", EnvoyBinary: "envoy-1.99"}, want: []model.FieldError{
			{Field: "engine", Message: `must be sim, envoy or auto, not "docker"`},
			{Field: "envoyBinary", Message: `envoy binary "envoy-1.99": not found`}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(Options{Logger: quiet(), FindEnvoy: fakeFind(tc.installed)})
			err := s.CheckSettings(tc.set)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckSettings: %v, want no problems", err)
				}
				return
			}
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("error %v, want %s", err, model.EINVALID)
			}
			if diff := cmp.Diff(tc.want, model.ErrorFields(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettingsStatus(t *testing.T) {
	path := func(s string) *string { return &s }
	tests := map[string]struct {
		saved     *Settings
		installed bool
		want      EngineStatus
	}{
		"nothing saved, no envoy": {want: EngineStatus{Engine: EngineSim,
			EnvoyError: "no envoy binary: not on PATH and ROUTEDECK_ENVOY is not set"}},
		"nothing saved, envoy installed but not chosen": {installed: true,
			want: EngineStatus{Engine: EngineSim, EnvoyBinary: path("/opt/envoy/bin/envoy")}},
		"auto with envoy": {saved: &Settings{Engine: EngineAuto}, installed: true,
			want: EngineStatus{Engine: EngineEnvoy, EnvoyBinary: path("/opt/envoy/bin/envoy")}},
		"auto without envoy": {saved: &Settings{Engine: EngineAuto},
			want: EngineStatus{Engine: EngineSim, EnvoyError: "no envoy binary: not on PATH and ROUTEDECK_ENVOY is not set"}},
		"envoy at a configured path": {saved: &Settings{Engine: EngineEnvoy, EnvoyBinary: "/opt/envoy/bin/envoy"},
			want: EngineStatus{Engine: EngineEnvoy, EnvoyBinary: path("/opt/envoy/bin/envoy")}},
		// Envoy was uninstalled after the settings were saved: the sandbox
		// still means envoy, and says why requests fail.
		"envoy chosen, gone since": {saved: &Settings{Engine: EngineEnvoy}, want: EngineStatus{Engine: EngineEnvoy,
			EnvoyError: "no envoy binary: not on PATH and ROUTEDECK_ENVOY is not set",
			Error:      "the sandbox engine is envoy, but no envoy binary: not on PATH and ROUTEDECK_ENVOY is not set"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			settings := &memSettings{}
			if tc.saved != nil {
				settings.put(*tc.saved)
			}
			s := New(Options{Logger: quiet(), Settings: settings, FindEnvoy: fakeFind(tc.installed)})
			set, st, err := s.SettingsStatus(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			wantSet := Settings{}
			if tc.saved != nil {
				wantSet = *tc.saved
			}
			if diff := cmp.Diff(wantSet, set); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, st); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if got := s.Engine(t.Context()); got != st.Engine {
				t.Errorf("status says %s, Engine() says %s", st.Engine, got)
			}
		})
	}
}
