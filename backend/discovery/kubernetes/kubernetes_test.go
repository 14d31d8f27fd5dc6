package kubernetes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/routedeck/routedeck/backend/discovery"
)

func service(ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: ports},
	}
}

func slice(ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: eps}
}

func endpoint(ready *bool, addrs ...string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: addrs, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
}

// kep is an endpoint the slice does not say is ready: routed to (the API
// reads a missing condition as ready), its health unknown.
func kep(addr string, port int) discovery.Endpoint {
	return discovery.Endpoint{Address: addr, Port: port, Weight: 1, Healthy: true, Health: discovery.HealthUnknown, Source: discovery.SourceKubernetes}
}

// readyEP is an endpoint whose readiness probe passed.
func readyEP(addr string, port int) discovery.Endpoint {
	e := kep(addr, port)
	e.Health = discovery.HealthHealthy
	return e
}

func TestEndpoints(t *testing.T) {
	http := corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("web"), Protocol: corev1.ProtocolTCP}
	metrics := corev1.ServicePort{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9100), Protocol: corev1.ProtocolTCP}
	unnamed := corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8080)}
	httpPort := discoveryv1.EndpointPort{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}
	metricsPort := discoveryv1.EndpointPort{Name: ptr.To("metrics"), Port: ptr.To[int32](9100), Protocol: ptr.To(corev1.ProtocolTCP)}

	tests := map[string]struct {
		svc     *corev1.Service
		slices  []*discoveryv1.EndpointSlice
		port    int32
		want    []discovery.Endpoint
		wantErr string
	}{
		"service missing": {svc: nil, port: 80, wantErr: "service not found"},
		"port missing": {
			svc: service(http), port: 443, wantErr: "service shop/web has no port 443",
		},
		"named target port resolved through the slice port name": {
			svc: service(http, metrics),
			slices: []*discoveryv1.EndpointSlice{
				slice([]discoveryv1.EndpointPort{httpPort, metricsPort},
					endpoint(ptr.To(true), "10.1.0.2"), endpoint(nil, "10.1.0.1")),
			},
			port: 80,
			want: []discovery.Endpoint{kep("10.1.0.1", 8080), readyEP("10.1.0.2", 8080)},
		},
		"second port picks its own slice port": {
			svc: service(http, metrics),
			slices: []*discoveryv1.EndpointSlice{
				slice([]discoveryv1.EndpointPort{httpPort, metricsPort}, endpoint(nil, "10.1.0.1")),
			},
			port: 9090,
			want: []discovery.Endpoint{kep("10.1.0.1", 9100)},
		},
		"not ready and address-less endpoints skipped, duplicates across slices once": {
			svc: service(http),
			slices: []*discoveryv1.EndpointSlice{
				slice([]discoveryv1.EndpointPort{httpPort},
					endpoint(ptr.To(false), "10.1.0.9"), endpoint(nil), endpoint(nil, "10.1.0.1")),
				slice([]discoveryv1.EndpointPort{httpPort}, endpoint(nil, "10.1.0.1"), endpoint(nil, "10.1.0.3")),
			},
			port: 80,
			want: []discovery.Endpoint{kep("10.1.0.1", 8080), kep("10.1.0.3", 8080)},
		},
		"slice without the port ignored": {
			svc:    service(http, metrics),
			slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{metricsPort}, endpoint(nil, "10.1.0.1"))},
			port:   80,
			want:   []discovery.Endpoint{},
		},
		"unnamed single port": {
			svc: service(unnamed),
			slices: []*discoveryv1.EndpointSlice{
				slice([]discoveryv1.EndpointPort{{Port: ptr.To[int32](8080)}}, endpoint(nil, "10.1.0.1")),
			},
			port: 80,
			want: []discovery.Endpoint{kep("10.1.0.1", 8080)},
		},
		"all-ports slice falls back to the numeric target port": {
			svc:    service(unnamed),
			slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{{}}, endpoint(nil, "10.1.0.1"))},
			port:   80,
			want:   []discovery.Endpoint{kep("10.1.0.1", 8080)},
		},
		"protocol mismatch ignored": {
			svc: service(http),
			slices: []*discoveryv1.EndpointSlice{
				slice([]discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolUDP)}},
					endpoint(nil, "10.1.0.1")),
			},
			port: 80,
			want: []discovery.Endpoint{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Endpoints(tc.svc, tc.slices, tc.port)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
		})
	}
}
