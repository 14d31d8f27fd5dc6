package kubernetes

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/routedeck/routedeck/backend/discovery"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/internal/testservers"
)

// changes records the manager's endpoint notifications with their time.
type changes chan change

type change struct {
	at  time.Time
	eps []discovery.Endpoint
}

func (c changes) onChange(_ string, eps []discovery.Endpoint) { c <- change{time.Now(), eps} }

// waitFor waits for a notification carrying want with the stale flag
// wantStale and returns when it arrived.
func (c changes) waitFor(t *testing.T, wantStale bool, want ...discovery.Endpoint) time.Time {
	t.Helper()
	for i := range want {
		want[i].Stale = wantStale
	}
	timeout := time.After(30 * time.Second)
	var last []discovery.Endpoint
	for {
		select {
		case ch := <-c:
			if cmp.Equal(want, ch.eps, cmpopts.EquateEmpty()) {
				return ch.at
			}
			last = ch.eps
		case <-timeout:
			t.Fatalf("endpoints never became as wanted (-want +last):\n%s", cmp.Diff(want, last))
		}
	}
}

func webSlice(eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "shop", Name: "web-1",
			Labels: map[string]string{
				discoveryv1.LabelServiceName: "web",
				discoveryv1.LabelManagedBy:   "routedeck-test",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To("metrics"), Port: ptr.To[int32](9100), Protocol: ptr.To(corev1.ProtocolTCP)},
		},
		Endpoints: eps,
	}
}

func TestKubernetesDiscovery(t *testing.T) {
	kube := testservers.StartKube(t)
	client, err := kubernetes.NewForConfig(kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	create(t, ctx, client)

	got := make(changes, 64)
	src := New(func(string) (kubernetes.Interface, error) { return client, nil }, slog.New(slog.DiscardHandler))
	src.RetryMax = 300 * time.Millisecond
	src.ProbeInterval = 200 * time.Millisecond
	m := discovery.NewManager(map[string]discovery.Source{discovery.SourceKubernetes: src}, got.onChange, slog.New(slog.DiscardHandler))
	t.Cleanup(m.Close)
	m.Sync([]model.Upstream{{
		Meta:       model.Meta{Name: "web"},
		Kubernetes: &model.KubernetesSource{Namespace: "shop", Service: "web", Port: 80, Context: testservers.KubeContext},
	}})

	t.Log("ready endpoints on the target port")
	got.waitFor(t, false, readyEP("10.1.0.1", 8080), kep("10.1.0.2", 8080))

	t.Log("a change arrives within a second")
	changed := time.Now()
	update(t, ctx, client, webSlice(
		discoveryv1.Endpoint{Addresses: []string{"10.1.0.1"}},
		discoveryv1.Endpoint{Addresses: []string{"10.1.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		discoveryv1.Endpoint{Addresses: []string{"10.1.0.3"}},
	))
	if d := got.waitFor(t, false, kep("10.1.0.1", 8080), kep("10.1.0.3", 8080)).Sub(changed); d > time.Second {
		t.Errorf("update took %s to arrive, want at most 1s", d)
	}

	t.Log("API server down: last endpoints kept, stale")
	kube.Stop()
	got.waitFor(t, true, kep("10.1.0.1", 8080), kep("10.1.0.3", 8080))
	if st, _ := m.Status("web"); st.Error == "" {
		t.Errorf("stale status carries no error: %+v", st)
	}

	t.Log("API server back: fresh again, and changes flow without restarting discovery")
	kube.Start()
	got.waitFor(t, false, kep("10.1.0.1", 8080), kep("10.1.0.3", 8080))
	changed = time.Now()
	update(t, ctx, client, webSlice(discoveryv1.Endpoint{Addresses: []string{"10.1.0.4"}}))
	if d := got.waitFor(t, false, kep("10.1.0.4", 8080)).Sub(changed); d > time.Second {
		t.Errorf("update after the outage took %s to arrive, want at most 1s", d)
	}

	t.Log("service deleted: no endpoints, and the status says why")
	if err := client.CoreV1().Services("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete service: %v", err)
	}
	got.waitFor(t, false)
	if st, _ := m.Status("web"); st.Error != "service not found" {
		t.Errorf("status error = %q, want %q", st.Error, "service not found")
	}
}

// create makes namespace shop with Service web (ports http 80 -> named
// target port "web", metrics 9090 -> 9100) and its EndpointSlice. There is
// no controller in the test cluster, so the slice is written by hand, as
// the EndpointSlice controller would.
func create(t *testing.T, ctx context.Context, client kubernetes.Interface) {
	t.Helper()
	if _, err := client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("web"), Protocol: corev1.ProtocolTCP},
			{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9100), Protocol: corev1.ProtocolTCP},
		}},
	}
	if _, err := client.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	slice := webSlice(
		discoveryv1.Endpoint{Addresses: []string{"10.1.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
		discoveryv1.Endpoint{Addresses: []string{"10.1.0.2"}},
	)
	if _, err := client.DiscoveryV1().EndpointSlices("shop").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create endpointslice: %v", err)
	}
}

// update replaces the EndpointSlice's endpoints.
func update(t *testing.T, ctx context.Context, client kubernetes.Interface, want *discoveryv1.EndpointSlice) {
	t.Helper()
	cur, err := client.DiscoveryV1().EndpointSlices("shop").Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get endpointslice: %v", err)
	}
	cur.Endpoints = want.Endpoints
	if _, err := client.DiscoveryV1().EndpointSlices("shop").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update endpointslice: %v", err)
	}
}
