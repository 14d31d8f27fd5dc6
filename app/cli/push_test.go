package cli

import (
	"context"
	"strings"
	"testing"
)

func TestManifests(t *testing.T) {
	e := newEnv(t)
	tests := map[string]struct {
		args     []string
		wantCode int
		want     []string // substrings of stdout, or of stderr on failure
	}{
		"from a file, nlb": {
			args:     []string{"-f", "testdata/shop.yaml", "--ads", "routedeck.infra:18000", "--aws-nlb", "--namespace", "edge", "--create-namespace", "--external-traffic-policy", "Local", "--replicas", "3"},
			wantCode: 0,
			want: []string{"kind: Namespace", "kind: ConfigMap", "kind: Deployment", "kind: Service", "containerPort: 8080",
				"service.beta.kubernetes.io/aws-load-balancer-type: nlb", "externalTrafficPolicy: Local", "replicas: 3", "path: /ready"},
		},
		"node port": {
			args:     []string{"-f", "testdata/shop.yaml", "--ads", "10.0.0.5:18000", "--service-type", "NodePort", "--image", "envoyproxy/envoy:v1.34.0"},
			wantCode: 0,
			want:     []string{"type: NodePort", "image: envoyproxy/envoy:v1.34.0"},
		},
		"bad service type": {
			args:     []string{"-f", "testdata/shop.yaml", "--ads", "a:1", "--service-type", "ClusterIP"},
			wantCode: 1,
			want:     []string{"serviceType", "ClusterIP"},
		},
		"no such gateway in the data dir": {
			args:     []string{"--ads", "a:1"},
			wantCode: 1,
			want:     []string{`gateway "edge"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.run(t, "", append([]string{"manifests", "--gateway", "edge"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.wantCode, out, errOut)
			}
			text := out
			if code != 0 {
				text = errOut
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
		})
	}

	t.Run("from the data directory", func(t *testing.T) {
		if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
			t.Fatalf("apply: %s", errOut)
		}
		out, errOut, code := e.run(t, "", "manifests", "--gateway", "edge", "--ads", "routedeck:18000")
		if code != 0 || !strings.Contains(out, "name: routedeck-edge") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
}

// TestExportCommands runs both exports against a running server: the
// routes on stdout, what did not translate on stderr.
func TestExportCommands(t *testing.T) {
	ctx := context.Background()
	_, e, _ := startServer(t, ctx)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	tests := map[string]struct {
		args       []string
		wantOut    string
		wantErrOut []string
	}{
		"gateway api": {[]string{"export", "gateway-api", "--gateway", "edge"}, "",
			[]string{`rule left out: rule shop-home: then.forward: no Kubernetes backend`, `rule left out: rule shop-canary: then.respond`}},
		"consul": {[]string{"export", "consul", "--gateway", "edge"}, "Kind: service-router",
			[]string{`rule shop-home: then.forward[0]: upstream "shop" is not a Consul service`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.client(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantOut, out)
			}
			for _, w := range tc.wantErrOut {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	t.Run("apply needs admin", func(t *testing.T) {
		_, errOut, code := e.client(t, "export", "consul", "--gateway", "edge", "--apply")
		if code != 1 || !strings.Contains(errOut, "403") {
			t.Errorf("editor applying: exit %d, %s", code, errOut)
		}
	})
}
