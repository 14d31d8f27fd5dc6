package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckKeepsRouterCheckToolVerdicts(t *testing.T) {
	const corpus = "../../sandbox/checktool/testdata/corpus/"
	tests := map[string]struct {
		args []string
		code int
		out  string
	}{
		"passing tests":  {[]string{"-c", corpus + "Headers.yaml", "-t", corpus + "Headers.golden.proto.json"}, 0, ""},
		"failing tests":  {[]string{"-c", corpus + "Headers.yaml", "-t", corpus + "HeadersFailures.golden.proto.json", "--only-show-failures"}, 1, "test type: cluster_name"},
		"missing inputs": {[]string{"--details"}, 1, "mandatory"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), append([]string{"check"}, tc.args...), strings.NewReader(""), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.out) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.out, out.String(), errOut.String())
			}
			if strings.Contains(errOut.String(), "routedeck: exit status") {
				t.Errorf("exit status leaked as an error message: %s", errOut.String())
			}
		})
	}
}

func TestBootstrapOffline(t *testing.T) {
	e := newEnv(t)
	tests := map[string]struct {
		args []string
		code int
		want []string
	}{
		"from a file": {[]string{"--gateway", "edge", "-f", "testdata/shop.yaml", "--node", "n1", "--ads", "routedeck.infra:18000"}, 0,
			[]string{"cluster: edge", "id: n1", "address: routedeck.infra", "port_value: 18000"}},
		"default address":                       {[]string{"--gateway", "edge", "-f", "testdata/shop.yaml"}, 0, []string{"address: 127.0.0.1", "port_value: 18000"}},
		"unknown gateway in the file":           {[]string{"--gateway", "nope", "-f", "testdata/shop.yaml"}, 1, []string{`has no gateway "nope"`}},
		"unknown gateway in the data directory": {[]string{"--gateway", "nope"}, 1, []string{`gateway "nope"`, "not found"}},
		"bad address":                           {[]string{"--gateway", "edge", "-f", "testdata/shop.yaml", "--ads", "nope"}, 1, []string{"ads: want HOST:PORT"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.run(t, "", append([]string{"bootstrap"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
	t.Run("no data directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "none")
		var out, errOut bytes.Buffer
		code := Run(context.Background(), []string{"bootstrap", "--gateway", "edge", "--data-dir", dir}, strings.NewReader(""), &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "no data directory") {
			t.Errorf("exit %d: %s", code, errOut.String())
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("bootstrap created the data directory %s", dir)
		}
	})
}
