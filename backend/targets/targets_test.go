package targets

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	return storetest.MustOpen(t)
}

func TestConsulPrecedence(t *testing.T) {
	tests := map[string]struct {
		env                map[string]string
		update             *Update
		wantAddr, wantFrom string
		wantToken, wantDC  string
	}{
		"default":  {wantAddr: "127.0.0.1:8500", wantFrom: "default"},
		"from env": {env: map[string]string{"CONSUL_HTTP_ADDR": "consul.infra:8500", "CONSUL_HTTP_TOKEN": "t-env"}, wantAddr: "consul.infra:8500", wantFrom: "env", wantToken: "t-env"},
		"settings override env": {
			env:      map[string]string{"CONSUL_HTTP_ADDR": "consul.infra:8500", "CONSUL_HTTP_TOKEN": "t-env"},
			update:   withConsul("10.0.0.9:8500", ptr("t-set"), "dc2"),
			wantAddr: "10.0.0.9:8500", wantFrom: "settings", wantToken: "t-set", wantDC: "dc2",
		},
		"settings without token keep the env token": {
			env:      map[string]string{"CONSUL_HTTP_TOKEN": "t-env"},
			update:   withConsul("10.0.0.9:8500", nil, ""),
			wantAddr: "10.0.0.9:8500", wantFrom: "settings", wantToken: "t-env",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := New(openStore(t), func(k string) string { return tc.env[k] })
			if tc.update != nil {
				if err := s.Put(ctx, "test", *tc.update); err != nil {
					t.Fatal(err)
				}
			}
			cfg, from, err := s.ConsulConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Address != tc.wantAddr || from != tc.wantFrom || cfg.Token != tc.wantToken || cfg.Datacenter != tc.wantDC {
				t.Errorf("got %s from %s, token %q, dc %q", cfg.Address, from, cfg.Token, cfg.Datacenter)
			}
		})
	}
}

func withConsul(addr string, token *string, dc string) *Update {
	u := &Update{}
	u.Consul.Address, u.Consul.Token, u.Consul.Datacenter = addr, token, dc
	return u
}

func ptr[T any](v T) *T { return &v }

// TestTokenIsWriteOnly: a PUT without a token keeps the saved one, an empty
// token removes it, and the view only says whether one is set.
func TestTokenIsWriteOnly(t *testing.T) {
	ctx := context.Background()
	s := New(openStore(t), func(string) string { return "" })
	gen := s.Generation()
	if err := s.Put(ctx, "test", *withConsul("127.0.0.1:1", ptr("secret"), "")); err != nil {
		t.Fatal(err)
	}
	if s.Generation() == gen {
		t.Error("a save does not change the generation")
	}
	if err := s.Put(ctx, "test", *withConsul("127.0.0.1:1", nil, "")); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Settings(ctx); st.Consul.Token != "secret" {
		t.Errorf("token after a PUT without one: %q, want kept", st.Consul.Token)
	}
	if v := s.consulView(ctx, ConsulSettings{}); !v.TokenSet {
		t.Error("view does not say a token is set")
	}
	if err := s.Put(ctx, "test", *withConsul("127.0.0.1:1", ptr(""), "")); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Settings(ctx); st.Consul.Token != "" {
		t.Errorf("token after clearing: %q", st.Consul.Token)
	}
}

func TestKubeconfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, ctxName, ns string) string {
		p := filepath.Join(dir, name)
		cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: https://127.0.0.1:1}\nusers:\n- name: u\n  user: {token: x}\n" +
			"contexts:\n- name: " + ctxName + "\n  context: {cluster: c, user: u, namespace: " + ns + "}\n- name: other\n  context: {cluster: c, user: u}\ncurrent-context: " + ctxName + "\n"
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	envFile, setFile := write("env", "from-env", "envns"), write("set", "from-settings", "setns")
	tests := map[string]struct {
		update      *Update
		wantFrom    string
		wantCurrent string
		wantNS      string
	}{
		"env":                  {wantFrom: "env", wantCurrent: "from-env", wantNS: "envns"},
		"settings file":        {update: &Update{Kubernetes: KubernetesSettings{Kubeconfig: setFile}}, wantFrom: "settings", wantCurrent: "from-settings", wantNS: "setns"},
		"chosen context":       {update: &Update{Kubernetes: KubernetesSettings{Context: "other"}}, wantFrom: "env", wantCurrent: "other", wantNS: "default"},
		"namespace in setting": {update: &Update{Kubernetes: KubernetesSettings{Namespace: "gw"}}, wantFrom: "env", wantCurrent: "from-env", wantNS: "gw"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := New(openStore(t), func(k string) string {
				if k == "KUBECONFIG" {
					return envFile
				}
				return ""
			})
			if tc.update != nil {
				if err := s.Put(ctx, "test", *tc.update); err != nil {
					t.Fatal(err)
				}
			}
			st, _ := s.Settings(ctx)
			v := s.kubeView(ctx, st.Kubernetes)
			if v.From != tc.wantFrom || v.CurrentContext != tc.wantCurrent || v.Namespace != tc.wantNS || len(v.Contexts) != 2 {
				t.Errorf("view %+v", v)
			}
			if v.Status.Reachable || v.Status.Error == "" {
				t.Errorf("unreachable cluster reported as %+v", v.Status)
			}
		})
	}
	t.Run("unknown context", func(t *testing.T) {
		s := New(openStore(t), func(k string) string {
			if k == "KUBECONFIG" {
				return envFile
			}
			return ""
		})
		err := s.Put(context.Background(), "test", Update{Kubernetes: KubernetesSettings{Context: "nope"}})
		if fs := model.ErrorFields(err); len(fs) != 1 || fs[0].Field != "kubernetes.context" {
			t.Errorf("err %v, want a kubernetes.context field error", err)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		s := New(openStore(t), func(string) string { return "" })
		err := s.Put(context.Background(), "test", Update{Kubernetes: KubernetesSettings{Kubeconfig: filepath.Join(dir, "missing")}})
		if model.ErrorCode(err) != model.EINVALID {
			t.Errorf("err %v, want EINVALID", err)
		}
	})
}

// TestViewAnswersWhileTargetsHang: a Consul agent that accepts connections
// but never answers does not hold GET /targets beyond the probe timeout.
func TestViewAnswersWhileTargetsHang(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close() // never accepted: the kernel completes the handshake, nobody answers
	s := New(openStore(t), func(k string) string {
		if k == "CONSUL_HTTP_ADDR" {
			return lis.Addr().String()
		}
		return ""
	})
	start := time.Now()
	v, err := s.View(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > probeTimeout+2*time.Second {
		t.Errorf("View took %s", d)
	}
	if v.Consul.Status.Reachable || v.Consul.Status.Error == "" {
		t.Errorf("hanging agent reported as %+v", v.Consul.Status)
	}
}
