package kubernetes

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/internal/testservers"
)

// TestDeployAgainstAPIServer applies a gateway's manifests to a real
// kube-apiserver with server-side apply: the first apply creates every
// object, a second one changes nothing, the objects read back with the
// fields routedeck set, a dry run validates without storing, and the API
// server's own validation errors come back as invalid input.
func TestDeployAgainstAPIServer(t *testing.T) {
	kube := testservers.StartKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := NewApplier(kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	opts := ManifestOptions{ADS: "routedeck.infra:18000", Namespace: "edge", CreateNamespace: true,
		AWSNLB: true, ExternalTrafficPolicy: "Local", Replicas: 3, Credentials: testCredentials()}
	objs, err := Manifests(testGateway(), opts)
	if err != nil {
		t.Fatal(err)
	}

	applied, err := a.Apply(ctx, objs, false)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(applied) != 5 {
		t.Fatalf("applied %d objects, want 5: %+v", len(applied), applied)
	}
	for _, ap := range applied {
		if !ap.Changed || ap.Action != ActionCreated {
			t.Errorf("first apply of %s %s: changed %v, action %q; want created", ap.Kind, ap.Name, ap.Changed, ap.Action)
		}
	}
	again, err := a.Apply(ctx, objs, false)
	if err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	for _, ap := range again {
		if ap.Changed || ap.Action != ActionUnchanged {
			t.Errorf("re-apply changed %s %s (action %q): apply is not idempotent", ap.Kind, ap.Name, ap.Action)
		}
	}
	t.Run("dry run says what would change", func(t *testing.T) {
		o := opts
		o.Replicas = 5
		objs, err := Manifests(testGateway(), o)
		if err != nil {
			t.Fatal(err)
		}
		applied, err := a.Apply(ctx, objs, true)
		if err != nil {
			t.Fatalf("dry-run apply: %v", err)
		}
		got := map[string]string{}
		for _, ap := range applied {
			got[ap.Kind] = ap.Action
		}
		want := map[string]string{"Namespace": ActionUnchanged, "Secret": ActionUnchanged, "ConfigMap": ActionUnchanged, "Service": ActionUnchanged, "Deployment": ActionConfigured}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("dry-run actions (-want +got):\n%s", diff)
		}
		dep, err := client.AppsV1().Deployments("edge").Get(ctx, "routedeck-public", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *dep.Spec.Replicas != 3 {
			t.Errorf("the dry run stored replicas %d", *dep.Spec.Replicas)
		}
	})

	dep, err := client.AppsV1().Deployments("edge").Get(ctx, "routedeck-public", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if *dep.Spec.Replicas != 3 || c.Image != DefaultImage || c.ReadinessProbe.HTTPGet.Path != "/ready" {
		t.Errorf("deployment: replicas %d, image %q, probe %+v", *dep.Spec.Replicas, c.Image, c.ReadinessProbe)
	}
	if !managedBy(dep.ManagedFields, FieldManager) {
		t.Errorf("deployment fields are not managed by %q: %+v", FieldManager, dep.ManagedFields)
	}
	svc, err := client.CoreV1().Services("edge").Get(ctx, "routedeck-public", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Annotations[AWSLoadBalancerType] != "nlb" ||
		svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal || len(svc.Spec.Ports) != 2 {
		t.Errorf("service: type %s, annotations %v, policy %s, ports %+v", svc.Spec.Type, svc.Annotations, svc.Spec.ExternalTrafficPolicy, svc.Spec.Ports)
	}
	cm, err := client.CoreV1().ConfigMaps("edge").Get(ctx, "routedeck-public", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := xds.ParseBootstrapYAML([]byte(cm.Data["envoy.yaml"]))
	if err != nil {
		t.Fatalf("stored bootstrap: %v", err)
	}
	if b.GetNode().GetCluster() != "public" {
		t.Errorf("stored bootstrap node cluster %q, want public", b.GetNode().GetCluster())
	}
	sec, err := client.CoreV1().Secrets("edge").Get(ctx, TLSSecretName("public"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Type != corev1.SecretTypeTLS || string(sec.Data["ca.crt"]) != string(testCredentials().CA) {
		t.Errorf("stored ADS secret of type %s with keys %v", sec.Type, sec.Data)
	}

	t.Run("dry run stores nothing", func(t *testing.T) {
		o := opts
		o.Namespace = "dry"
		objs, err := Manifests(testGateway(), o)
		if err != nil {
			t.Fatal(err)
		}
		// Everything in the namespace the dry run would create is reported
		// as created, unchecked: the API server refuses objects in a
		// namespace it does not have.
		applied, err := a.Apply(ctx, objs, true)
		if err != nil {
			t.Fatalf("dry-run apply: %v", err)
		}
		if len(applied) != 5 {
			t.Fatalf("dry run applied %d objects, want 5: %+v", len(applied), applied)
		}
		for i, ap := range applied {
			if ap.Action != ActionCreated || !ap.Changed || (i > 0) != (ap.Note != "") {
				t.Errorf("dry run into a new namespace: %+v, want created (with a note for all but the namespace)", ap)
			}
		}
		if _, err := client.CoreV1().Namespaces().Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("dry run created the namespace (err %v)", err)
		}
	})
	t.Run("server validation", func(t *testing.T) {
		o := opts
		o.Namespace = "Not_A_Name"
		objs, err := Manifests(testGateway(), o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Apply(ctx, objs, true)
		if model.ErrorCode(err) != model.EINVALID || !strings.Contains(err.Error(), "Not_A_Name") {
			t.Errorf("invalid namespace: err %v, want EINVALID naming it", err)
		}
	})
}

func managedBy(fields []metav1.ManagedFieldsEntry, manager string) bool {
	for _, f := range fields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// TestGatewayAPIAgainstAPIServer: without the Gateway API CRDs the cluster
// is reported as not serving HTTPRoutes; with the HTTPRoute CRD installed
// the exported routes apply and read back.
func TestGatewayAPIAgainstAPIServer(t *testing.T) {
	kube := testservers.StartKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := NewApplier(kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	ex := ExportGatewayAPI(exportWorkspace(), "public", "default")
	routes, err := ex.Objects()
	if err != nil {
		t.Fatal(err)
	}
	ok, err := a.ServesGroupVersion(GatewayAPIGroupVersion, HTTPRouteKind)
	if err != nil || ok {
		t.Fatalf("without CRDs: serves = %v, err %v; want false, nil", ok, err)
	}
	if _, err := a.Apply(ctx, routes, false); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("applying HTTPRoutes without CRDs: err %v, want EINVALID", err)
	}

	raw, err := os.ReadFile("testdata/httproute-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &crd.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(ctx, []runtime.Object{crd}, false); err != nil {
		t.Fatalf("install CRD: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for ok, _ = a.ServesGroupVersion(GatewayAPIGroupVersion, HTTPRouteKind); !ok; ok, _ = a.ServesGroupVersion(GatewayAPIGroupVersion, HTTPRouteKind) {
		if time.Now().After(deadline) {
			t.Fatal("HTTPRoute CRD never served")
		}
		time.Sleep(100 * time.Millisecond)
	}
	applied, err := a.Apply(ctx, routes, false)
	if err != nil {
		t.Fatalf("apply HTTPRoutes: %v", err)
	}
	if len(applied) != len(ex.Routes) || len(applied) == 0 {
		t.Fatalf("applied %d, want %d", len(applied), len(ex.Routes))
	}
	dyn, err := dynamic.NewForConfig(kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	got, err := dyn.Resource(gvr).Namespace("default").Get(ctx, ex.Routes[0].Metadata.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hosts, _, _ := unstructured.NestedStringSlice(got.Object, "spec", "hostnames")
	if strings.Join(hosts, ",") != strings.Join(ex.Routes[0].Spec.Hostnames, ",") {
		t.Errorf("read back hostnames %v, want %v", hosts, ex.Routes[0].Spec.Hostnames)
	}
}
