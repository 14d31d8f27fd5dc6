package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"k8s.io/client-go/kubernetes"

	"github.com/routedeck/routedeck/backend/model"
	kubepub "github.com/routedeck/routedeck/backend/publish/kubernetes"
	"github.com/routedeck/routedeck/internal/testservers"
)

// decodeInto unmarshals an API answer, failing the test on a non-200.
func decodeInto(t *testing.T, code int, body string, v any) {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
}

// TestTargetsAndPushThroughAPI drives the targets and push endpoints
// against a real kube-apiserver and Consul agent: defaults from the
// environment, settings overriding them with the token never returned, the
// upstream pickers, a publish written to Consul KV and read back, a
// deploy (dry run, then for real), and both exports.
func TestTargetsAndPushThroughAPI(t *testing.T) {
	kube := testservers.StartKube(t)
	agent := testservers.StartConsul(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kc, err := kubernetes.NewForConfig(kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	createShop(t, ctx, kc)
	cc, err := consulapi.NewClient(&consulapi.Config{Address: agent.HTTPAddr})
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "api-1", Name: "api", Address: "10.2.0.1", Port: 9000, Tags: []string{"v1"}}); err != nil {
		t.Fatal(err)
	}
	ws := gatewayWorkspace(model.Upstream{Meta: model.Meta{Name: "web"},
		Kubernetes: &model.KubernetesSource{Namespace: "shop", Service: "web", Port: 80}})
	ws.Upstreams = append(ws.Upstreams, model.Upstream{Meta: model.Meta{Name: "api"}, Consul: &model.ConsulSource{Service: "api"}})
	ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: "api"}, Gateway: "edge", Priority: 10,
		When: model.Condition{Field: model.FieldPath, Op: model.OpPrefix, Value: "/api"},
		Then: model.Action{Forward: []model.Backend{{Upstream: "api"}}}})
	_, call := targetService(t, ctx, map[string]string{
		"KUBECONFIG": kube.Kubeconfig, "CONSUL_HTTP_ADDR": agent.HTTPAddr, "CONSUL_HTTP_TOKEN": "from-env",
	}, ws)

	type view struct {
		Kubernetes struct {
			From, CurrentContext, Namespace string
			Contexts                        []string
			Status                          struct {
				Reachable      bool
				Version, Error string
			}
		}
		Consul struct {
			Address, From string
			TokenSet      bool
			KVPublish     bool
			Status        struct {
				Reachable      bool
				Version, Error string
			}
		}
	}
	var v view
	code, body := call("GET", "/targets", "")
	decodeInto(t, code, body, &v)
	if v.Kubernetes.From != "env" || !slices.Equal(v.Kubernetes.Contexts, []string{testservers.KubeContext}) ||
		v.Kubernetes.CurrentContext != testservers.KubeContext || !v.Kubernetes.Status.Reachable || v.Kubernetes.Status.Version == "" {
		t.Errorf("kubernetes target from the environment: %+v", v.Kubernetes)
	}
	if v.Consul.From != "env" || v.Consul.Address != agent.HTTPAddr || !v.Consul.TokenSet || !v.Consul.Status.Reachable {
		t.Errorf("consul target from the environment: %+v", v.Consul)
	}
	if strings.Contains(body, "from-env") {
		t.Errorf("GET /targets shows the token: %s", body)
	}

	code, body = call("PUT", "/targets", `{"kubernetes": {"namespace": "shop"},
		"consul": {"address": "`+agent.HTTPAddr+`", "token": "s3cret", "kvPublish": true}}`)
	decodeInto(t, code, body, &v)
	if v.Consul.From != "settings" || !v.Consul.KVPublish || !v.Consul.TokenSet || v.Kubernetes.Namespace != "shop" {
		t.Errorf("after PUT: %+v", v)
	}
	for _, path := range []string{"/targets", "/audit"} {
		if _, body := call("GET", path, ""); strings.Contains(body, "s3cret") {
			t.Errorf("GET %s shows the saved token", path)
		}
	}
	if code, body := call("PUT", "/targets", `{"kubernetes": {"kubeconfig": "/nonexistent/kubeconfig"}}`); code != http.StatusBadRequest ||
		!strings.Contains(body, "kubernetes.kubeconfig") {
		t.Errorf("unreadable kubeconfig: %d %s", code, body)
	}

	var kubeSvcs struct {
		Namespaces []string
		Items      []struct {
			Namespace, Name string
			Ports           []struct{ Port int }
		}
	}
	code, body = call("GET", "/targets/kubernetes/services?namespace=shop", "")
	decodeInto(t, code, body, &kubeSvcs)
	if !slices.Contains(kubeSvcs.Namespaces, "shop") || len(kubeSvcs.Items) != 1 || kubeSvcs.Items[0].Name != "web" || kubeSvcs.Items[0].Ports[0].Port != 80 {
		t.Errorf("kubernetes services: %s", body)
	}
	var consulSvcs struct {
		Items []struct {
			Name string
			Tags []string
		}
	}
	code, body = call("GET", "/targets/consul/services", "")
	decodeInto(t, code, body, &consulSvcs)
	if !slices.ContainsFunc(consulSvcs.Items, func(s struct {
		Name string
		Tags []string
	}) bool {
		return s.Name == "api" && slices.Equal(s.Tags, []string{"v1"})
	}) {
		t.Errorf("consul services: %s", body)
	}

	t.Log("publish writes the published workspace to Consul KV")
	if code, body := call("POST", "/gateways/edge/publish", ""); code != http.StatusOK {
		t.Fatalf("publish: %d %s", code, body)
	}
	var kv struct {
		Prefix string
		Items  []struct {
			Kind, Name  string
			ModifyIndex uint64
		}
	}
	code, body = call("GET", "/targets/consul/kv?gateway=edge", "")
	decodeInto(t, code, body, &kv)
	var keys []string
	for _, it := range kv.Items {
		keys = append(keys, it.Kind+"/"+it.Name)
	}
	slices.Sort(keys)
	if want := []string{"Gateway/edge", "Route/all", "Route/api", "Upstream/api", "Upstream/web"}; !slices.Equal(keys, want) || kv.Prefix != "routedeck/v1" {
		t.Errorf("consul kv under %s holds %v, want %v", kv.Prefix, keys, want)
	}

	t.Log("deploy: dry run, then for real; the default namespace comes from the settings")
	var dep struct {
		DryRun  bool
		Applied []struct {
			Kind, Namespace, Name, Action string
			Changed                       bool
		}
		YAML string
	}
	code, body = call("POST", "/gateways/edge/deploy", `{"ads": "routedeck.infra:18000", "serviceType": "NodePort", "dryRun": true}`)
	decodeInto(t, code, body, &dep)
	if !dep.DryRun || len(dep.Applied) != 4 || !strings.Contains(dep.YAML, "kind: Deployment") ||
		!strings.Contains(dep.YAML, "tls.key: "+base64.StdEncoding.EncodeToString([]byte(kubepub.RedactedKey))) {
		t.Errorf("dry-run deploy: %s", body)
	}
	code, body = call("POST", "/gateways/edge/deploy", `{"ads": "routedeck.infra:18000", "serviceType": "NodePort"}`)
	decodeInto(t, code, body, &dep)
	if len(dep.Applied) != 4 || dep.Applied[0].Kind != "Secret" || dep.Applied[3].Kind != "Service" || dep.Applied[3].Namespace != "shop" || !dep.Applied[3].Changed {
		t.Errorf("deploy: %s", body)
	}
	for _, ap := range dep.Applied {
		if ap.Action != "created" {
			t.Errorf("deploy: %s %s %s, want created", ap.Kind, ap.Name, ap.Action)
		}
	}
	code, body = call("POST", "/gateways/edge/deploy", `{"ads": "routedeck.infra:18000", "serviceType": "NodePort", "dryRun": true}`)
	decodeInto(t, code, body, &dep)
	// Every deploy issues the Envoys a fresh ADS certificate, so the
	// Secret alone changes.
	for _, ap := range dep.Applied {
		want := "unchanged"
		if ap.Kind == "Secret" {
			want = "configured"
		}
		if ap.Action != want || ap.Changed != (want != "unchanged") {
			t.Errorf("dry run after the deploy: %s %s %s (changed %v), want %s", ap.Kind, ap.Name, ap.Action, ap.Changed, want)
		}
	}
	if code, body := call("POST", "/gateways/edge/deploy", `{"ads": "routedeck.infra:18000", "serviceType": "ClusterIP"}`); code != http.StatusBadRequest {
		t.Errorf("invalid service type: %d %s", code, body)
	}

	t.Log("Gateway API export: rendered, and reported as not applicable without the CRDs")
	var gwapi struct {
		From   string
		Routes []struct{ Metadata struct{ Name string } }
		Report []struct {
			Rule, Reason string
			Skipped      bool
		}
		CRDsInstalled *bool
	}
	code, body = call("GET", "/gateways/edge/export/gateway-api", "")
	decodeInto(t, code, body, &gwapi)
	if gwapi.From != "published version 1" || len(gwapi.Routes) != 1 || gwapi.Routes[0].Metadata.Name != "edge-all" {
		t.Errorf("gateway-api export: %s", body)
	}
	code, body = call("POST", "/gateways/edge/export/gateway-api", `{}`)
	decodeInto(t, code, body, &gwapi)
	if gwapi.CRDsInstalled == nil || *gwapi.CRDsInstalled || !strings.Contains(body, "CRDs not installed") {
		t.Errorf("gateway-api apply without CRDs: %s", body)
	}

	t.Log("Consul export applied to the agent")
	var ce struct {
		Entries []map[string]any
		Applied []map[string]any
		Report  []struct{ Rule string }
	}
	code, body = call("POST", "/gateways/edge/export/consul", "")
	decodeInto(t, code, body, &ce)
	if len(ce.Applied) != len(ce.Entries) || len(ce.Applied) == 0 {
		t.Errorf("consul export: %s", body)
	}
	e, _, err := cc.ConfigEntries().Get(consulapi.ServiceRouter, "edge", nil)
	if err != nil {
		t.Fatalf("read the router back: %v", err)
	}
	if r := e.(*consulapi.ServiceRouterConfigEntry); len(r.Routes) != 1 || r.Routes[0].Destination.Service != "api" {
		t.Errorf("router read back: %+v", r.Routes)
	}
}

func TestKVWorkspaceRedactsPrivateKeys(t *testing.T) {
	ws := model.Workspace{Secrets: []model.Secret{{Meta: model.Meta{Name: "example-com"},
		TLS: &model.SecretTLS{Certificate: "CERT", PrivateKey: "KEY"}}}}
	got := kvWorkspace(ws)
	if got.Secrets[0].TLS.PrivateKey != model.RedactedPrivateKey || got.Secrets[0].TLS.Certificate != "CERT" {
		t.Errorf("secret for KV: %+v", got.Secrets[0].TLS)
	}
	if ws.Secrets[0].TLS.PrivateKey != "KEY" {
		t.Error("redacting changed the published workspace itself")
	}
}

// TestUnconfiguredTargetsAnswer502 : with no kubeconfig and no Consul
// agent, the push and picker endpoints say which target is missing (502)
// instead of an internal error.
func TestUnconfiguredTargetsAnswer502(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A Consul address where nothing listens.
	_, call := targetService(t, ctx, map[string]string{"CONSUL_HTTP_ADDR": "127.0.0.1:1"},
		gatewayWorkspace(model.Upstream{Meta: model.Meta{Name: "web"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}))
	tests := map[string]struct {
		method, path, body string
		want               string
	}{
		"kubernetes services": {"GET", "/targets/kubernetes/services", "", "no kubeconfig"},
		"deploy":              {"POST", "/gateways/edge/deploy", `{"ads": "a:1"}`, "no kubeconfig"},
		"gateway api apply":   {"POST", "/gateways/edge/export/gateway-api", `{}`, "kubernetes target"},
		"consul services":     {"GET", "/targets/consul/services", "", "consul target"},
		"consul kv":           {"GET", "/targets/consul/kv?gateway=edge", "", "consul target"},
		"consul apply":        {"POST", "/gateways/edge/export/consul", "", "consul target"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := call(tc.method, tc.path, tc.body)
			if code != http.StatusBadGateway || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s, want 502 mentioning %q", code, body, tc.want)
			}
		})
	}
}
