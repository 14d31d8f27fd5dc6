package cli

import (
	"bytes"
	"context"
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

func TestBootstrap(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"bootstrap", "--gateway", "public", "--node", "n1", "--ads", "routedeck.infra:18000"}, strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"cluster: public", "id: n1", "routedeck.infra"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bootstrap lacks %q:\n%s", want, out.String())
		}
	}
	code = Run(context.Background(), []string{"bootstrap", "--gateway", "public", "--ads", "nope"}, strings.NewReader(""), &out, &errOut)
	if code != 1 {
		t.Errorf("bad --ads accepted")
	}
}
