package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	consulapi "github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/internal/testservers"
)

// targetService starts a service without the demo whose targets default
// from env, with ws applied, and returns it with an admin caller of its
// API (paths under /api/v1, and /metrics).
func targetService(t *testing.T, ctx context.Context, env map[string]string, ws model.Workspace) (*Service, func(method, path, body string) (int, string)) {
	t.Helper()
	svc := New(Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0", NoDemo: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard,
		Getenv: func(k string) string { return env[k] }})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	if _, err := svc.Store().Apply(ctx, "test", ws); err != nil {
		t.Fatalf("apply workspace: %v", err)
	}
	tok, hash, _ := auth.NewToken()
	if err := svc.Store().CreateToken(ctx, "test", &store.Token{Name: "admin", Role: auth.RoleAdmin, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	return svc, func(method, path, body string) (int, string) {
		t.Helper()
		if path != "/metrics" {
			path = "/api/v1" + path
		}
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+svc.Addr().String()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// gatewayWorkspace is gateway edge forwarding everything to upstream.
func gatewayWorkspace(upstream model.Upstream) model.Workspace {
	return model.Workspace{
		Gateways:  []model.Gateway{{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
		Upstreams: []model.Upstream{upstream},
		Routes: []model.Route{{Meta: model.Meta{Name: "all"}, Gateway: "edge",
			When: model.Condition{Field: model.FieldPath, Op: model.OpPrefix, Value: "/"},
			Then: model.Action{Forward: []model.Backend{{Upstream: upstream.Name}}}}},
	}
}

// edsUpdate is one EDS response as the ADS client saw it.
type edsUpdate struct {
	at        time.Time
	endpoints []string // "address:port", sorted
}

// watchEDS subscribes to the load assignment of cluster over a real ADS
// stream as a proxy of gateway, ACKs every response, and reports each.
func watchEDS(t *testing.T, ctx context.Context, svc *Service, gateway, cluster string) <-chan edsUpdate {
	t.Helper()
	conn := dialADS(t, svc, gateway)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: gateway + "-test", Cluster: gateway}
	req := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.EndpointType, ResourceNames: []string{cluster}}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	out := make(chan edsUpdate, 64)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			var eps []string
			for _, res := range resp.Resources {
				cla := &endpointv3.ClusterLoadAssignment{}
				if err := res.UnmarshalTo(cla); err != nil {
					continue
				}
				for _, l := range cla.Endpoints {
					for _, e := range l.LbEndpoints {
						sa := e.GetEndpoint().GetAddress().GetSocketAddress()
						eps = append(eps, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
					}
				}
			}
			slices.Sort(eps)
			out <- edsUpdate{at: time.Now(), endpoints: eps}
			_ = stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: []string{cluster},
				VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce})
		}
	}()
	return out
}

// waitEDS waits for an EDS response listing want and returns when it came.
func waitEDS(t *testing.T, ch <-chan edsUpdate, want ...string) time.Time {
	t.Helper()
	slices.Sort(want)
	timeout := time.After(30 * time.Second)
	var last []string
	for {
		select {
		case u := <-ch:
			if slices.Equal(u.endpoints, want) {
				return u.at
			}
			last = u.endpoints
		case <-timeout:
			t.Fatalf("EDS never listed %v; last %v", want, last)
		}
	}
}

// endpointsReply is GET /upstreams/{name}/endpoints.
type endpointsReply struct {
	Items []struct {
		Address string `json:"address"`
		Port    int    `json:"port"`
		Healthy bool   `json:"healthy"`
		Source  string `json:"source"`
		Stale   bool   `json:"stale"`
	} `json:"items"`
	Stale  bool   `json:"stale"`
	Source string `json:"source"`
	Error  string `json:"error"`
}

func getEndpoints(t *testing.T, call func(method, path, body string) (int, string), upstream string) endpointsReply {
	t.Helper()
	code, body := call("GET", "/upstreams/"+upstream+"/endpoints", "")
	if code != http.StatusOK {
		t.Fatalf("GET endpoints: %d %s", code, body)
	}
	var r endpointsReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("decode endpoints: %v\n%s", err, body)
	}
	return r
}

func shopSlice(addrs ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1",
			Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}})
	}
	return s
}

func createShop(t *testing.T, ctx context.Context, c kubernetes.Interface) {
	t.Helper()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}
	if _, err := c.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DiscoveryV1().EndpointSlices("shop").Create(ctx, shopSlice("10.1.0.1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func setSlice(t *testing.T, ctx context.Context, c kubernetes.Interface, addrs ...string) {
	t.Helper()
	cur, err := c.DiscoveryV1().EndpointSlices("shop").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Endpoints = shopSlice(addrs...).Endpoints
	if _, err := c.DiscoveryV1().EndpointSlices("shop").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestKubernetesEndpointsReachProxies runs the whole path against a real
// kube-apiserver: the published gateway's Kubernetes upstream is watched,
// an EndpointSlice change reaches a connected ADS client's EDS within a
// second (EDS only: the published version stays), an API server outage
// keeps the last endpoints (the API shows them stale), and discovery
// resumes when the API server is back, without restarting routedeck.
func TestKubernetesEndpointsReachProxies(t *testing.T) {
	kube := testservers.StartKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client, err := kubernetes.NewForConfig(kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	createShop(t, ctx, client)
	svc, call := targetService(t, ctx, map[string]string{"KUBECONFIG": kube.Kubeconfig},
		gatewayWorkspace(model.Upstream{Meta: model.Meta{Name: "web"},
			Kubernetes: &model.KubernetesSource{Namespace: "shop", Service: "web", Port: 80}}))

	// The draft's upstream is watched before anything is published.
	deadline := time.Now().Add(20 * time.Second)
	for r := getEndpoints(t, call, "web"); len(r.Items) != 1; r = getEndpoints(t, call, "web") {
		if time.Now().After(deadline) {
			t.Fatalf("draft upstream never discovered: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := call("POST", "/gateways/edge/publish", ""); code != http.StatusOK {
		t.Fatalf("publish: %d %s", code, body)
	}
	eds := watchEDS(t, ctx, svc, "edge", "web")
	waitEDS(t, eds, "10.1.0.1:8080")

	changed := time.Now()
	setSlice(t, ctx, client, "10.1.0.1", "10.1.0.2")
	if d := waitEDS(t, eds, "10.1.0.1:8080", "10.1.0.2:8080").Sub(changed); d > time.Second {
		t.Errorf("EndpointSlice change took %s to reach EDS, want at most 1s", d)
	}
	if v := svc.ads.Version("edge"); v != "1" {
		t.Errorf("snapshot version %q after an endpoint change, want the published version 1 kept", v)
	}

	kube.Stop()
	deadline = time.Now().Add(30 * time.Second)
	r := getEndpoints(t, call, "web")
	for ; !r.Stale; r = getEndpoints(t, call, "web") {
		if time.Now().After(deadline) {
			t.Fatalf("endpoints never marked stale during the outage: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(r.Items) != 2 || !r.Items[0].Stale || r.Items[0].Source != "kubernetes" || r.Source != "kubernetes" || r.Error == "" {
		t.Errorf("stale endpoints = %+v, want both kept, stale, source kubernetes, with the error", r)
	}
	select {
	case u := <-eds:
		if !slices.Equal(u.endpoints, []string{"10.1.0.1:8080", "10.1.0.2:8080"}) {
			t.Errorf("EDS changed during the outage: %v", u.endpoints)
		}
	default:
	}

	kube.Start()
	deadline = time.Now().Add(30 * time.Second)
	for r := getEndpoints(t, call, "web"); r.Stale; r = getEndpoints(t, call, "web") {
		if time.Now().After(deadline) {
			t.Fatalf("discovery never resumed: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	changed = time.Now()
	setSlice(t, ctx, client, "10.1.0.3")
	if d := waitEDS(t, eds, "10.1.0.3:8080").Sub(changed); d > time.Second {
		t.Errorf("change after the outage took %s to reach EDS, want at most 1s", d)
	}
}

// TestConsulEndpointsReachProxies: with the agent chosen in the targets, a
// Consul service with two healthy instances is two endpoints of a consul
// upstream and of the published gateway's EDS; failing one instance's
// health check removes it.
func TestConsulEndpointsReachProxies(t *testing.T) {
	agent := testservers.StartConsul(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := agent.Client(t)
	agent.RegisterPassing(t, client, "api", 9000, "10.2.0.1", "10.2.0.2")
	for i, addr := range []string{"10.2.0.1", "10.2.0.2"} {
		id := fmt.Sprintf("api-%d", i+1)
		if err := client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: id, Name: "api", Address: addr, Port: 9000,
			Checks: consulapi.AgentServiceChecks{{CheckID: id + "-ttl", TTL: "10m", Status: consulapi.HealthPassing}}}); err != nil {
			t.Fatal(err)
		}
		if err := client.Agent().PassTTL(id+"-ttl", "up"); err != nil {
			t.Fatal(err)
		}
	}
	// No CONSUL_HTTP_ADDR: the agent is chosen in the settings, and
	// discovery restarts its watches with the new client.
	svc, call := targetService(t, ctx, map[string]string{},
		gatewayWorkspace(model.Upstream{Meta: model.Meta{Name: "api"}, Consul: &model.ConsulSource{Service: "api"}}))
	if code, body := call("PUT", "/targets", `{"consul": {"address": "`+agent.HTTPAddr+`"}}`); code != http.StatusOK {
		t.Fatalf("PUT /targets: %d %s", code, body)
	}
	if code, body := call("POST", "/gateways/edge/publish", ""); code != http.StatusOK {
		t.Fatalf("publish: %d %s", code, body)
	}
	eds := watchEDS(t, ctx, svc, "edge", "api")
	waitEDS(t, eds, "10.2.0.1:9000", "10.2.0.2:9000")
	r := getEndpoints(t, call, "api")
	if len(r.Items) != 2 || r.Items[0].Source != "consul" || !r.Items[0].Healthy || r.Stale {
		t.Errorf("endpoints = %+v, want two healthy consul endpoints", r)
	}

	if _, metrics := call("GET", "/metrics", ""); !strings.Contains(metrics, `routedeck_discovery_endpoints{healthy="true",source="consul",upstream="api"} 2`) {
		t.Errorf("/metrics lacks the consul upstream's endpoints:\n%s", metrics)
	}

	changed := time.Now()
	if err := client.Agent().FailTTL("api-2-ttl", "down"); err != nil {
		t.Fatal(err)
	}
	if d := waitEDS(t, eds, "10.2.0.1:9000").Sub(changed); d > time.Second {
		t.Errorf("failed check took %s to reach EDS, want at most 1s", d)
	}
}

// TestRestartServesDiscoveredEndpoints: after routedeck restarts, the first
// EDS a proxy receives for a Kubernetes upstream already lists its
// endpoints: the restored version waits for discovery instead of handing
// out an empty load assignment.
func TestRestartServesDiscoveredEndpoints(t *testing.T) {
	kube := testservers.StartKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, err := kubernetes.NewForConfig(kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	createShop(t, ctx, client)
	env := map[string]string{"KUBECONFIG": kube.Kubeconfig}
	svc, call := targetService(t, ctx, env, gatewayWorkspace(model.Upstream{Meta: model.Meta{Name: "web"},
		Kubernetes: &model.KubernetesSource{Namespace: "shop", Service: "web", Port: 80}}))
	if code, body := call("POST", "/gateways/edge/publish", ""); code != http.StatusOK {
		t.Fatalf("publish: %d %s", code, body)
	}
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}

	again := New(Config{DataDir: svc.cfg.DataDir, ADSListen: "127.0.0.1:0", NoDemo: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard,
		Getenv: func(k string) string { return env[k] }})
	if err := again.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	eds := watchEDS(t, ctx, again, "edge", "web")
	select {
	case u := <-eds:
		if !slices.Equal(u.endpoints, []string{"10.1.0.1:8080"}) {
			t.Errorf("first EDS after a restart lists %v, want the discovered endpoint", u.endpoints)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no EDS after the restart")
	}
}
