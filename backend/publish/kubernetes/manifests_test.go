package kubernetes

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	goldenfile "github.com/routedeck/routedeck/internal/golden"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/xds"
)

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

func testGateway() *model.Gateway {
	return &model.Gateway{Meta: model.Meta{Name: "public"}, Listeners: []model.Listener{
		{Name: "https", Port: 8443, Protocol: model.ProtocolHTTPS},
		{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP},
	}}
}

// testCredentials stand in for `certs issue` output: fixed, so the golden
// files are.
func testCredentials() *xds.Credentials {
	return &xds.Credentials{
		Cert: []byte("-----BEGIN CERTIFICATE-----\ngateway\n-----END CERTIFICATE-----\n"),
		Key:  []byte("-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"),
		CA:   []byte("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"),
	}
}

func TestManifestsGolden(t *testing.T) {
	tests := map[string]ManifestOptions{
		"manifests-nlb.yaml": {ADS: "routedeck.infra:18000", Namespace: "edge", CreateNamespace: true,
			AWSNLB: true, ExternalTrafficPolicy: "Local", Replicas: 3, Credentials: testCredentials()},
		"manifests-nodeport.yaml": {ADS: "10.0.0.5:18000", ServiceType: "NodePort", Image: "envoyproxy/envoy:v1.34.0",
			Credentials: testCredentials()},
		"manifests-plaintext.yaml": {ADS: "127.0.0.1:18000", ServiceType: "NodePort", InsecurePlaintext: true},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			objs, err := Manifests(testGateway(), opts)
			if err != nil {
				t.Fatal(err)
			}
			out, err := YAML(objs)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, out)
		})
	}
}

func TestManifestsBootstrapIsValid(t *testing.T) {
	objs, err := Manifests(testGateway(), ManifestOptions{ADS: "routedeck:18000", Credentials: testCredentials()})
	if err != nil {
		t.Fatal(err)
	}
	var secret *corev1.Secret
	var config *corev1.ConfigMap
	var deploy *appsv1.Deployment
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Secret:
			secret = o
		case *corev1.ConfigMap:
			config = o
		case *appsv1.Deployment:
			deploy = o
		}
	}
	if secret == nil || config == nil || deploy == nil {
		t.Fatalf("objects %v: want a Secret, a ConfigMap and a Deployment", objs)
	}
	if secret.Type != corev1.SecretTypeTLS || secret.Name != TLSSecretName("public") ||
		string(secret.Data["ca.crt"]) != string(testCredentials().CA) || len(secret.Data["tls.crt"]) == 0 || len(secret.Data["tls.key"]) == 0 {
		t.Errorf("secret %s of type %s with keys %v", secret.Name, secret.Type, secret.Data)
	}
	// The Secret is mounted where the SDS files in the ConfigMap look.
	mounts := map[string]string{}
	for _, m := range deploy.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	volumes := map[string]string{}
	for _, v := range deploy.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			volumes[v.Name] = v.Secret.SecretName
		}
	}
	if volumes["ads-tls"] != secret.Name || mounts["ads-tls"] != xds.DefaultCertDir {
		t.Errorf("secret volumes %v mounted at %v", volumes, mounts)
	}
	for _, file := range []string{xds.SDSCertificateFile, xds.SDSTrustFile} {
		sds, err := xds.ParseSDSFile([]byte(config.Data[file]))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, f := range []string{sds.GetTlsCertificate().GetCertificateChain().GetFilename(), sds.GetValidationContext().GetTrustedCa().GetFilename()} {
			if f != "" && !strings.HasPrefix(f, mounts["ads-tls"]+"/") {
				t.Errorf("%s reads %s, outside the Secret's mount", file, f)
			}
		}
	}
	data := config.Data["envoy.yaml"]
	b, err := xds.ParseBootstrapYAML([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("bootstrap in the ConfigMap is invalid: %v", err)
	}
	names := []string{}
	for _, l := range b.GetStaticResources().GetListeners() {
		names = append(names, l.GetName())
	}
	if strings.Join(names, ",") != "ready" {
		t.Errorf("static listeners %v, want the readiness listener", names)
	}
	if a := b.GetAdmin().GetAddress().GetSocketAddress().GetAddress(); a != "127.0.0.1" {
		t.Errorf("admin bound to %s, want loopback", a)
	}
	if b.GetStaticResources().GetClusters()[0].GetTransportSocket() == nil {
		t.Error("ADS cluster without TLS")
	}
}

func TestManifestsInvalid(t *testing.T) {
	tests := map[string]struct {
		gw     *model.Gateway
		opts   ManifestOptions
		fields []string
	}{
		"bad service type and policy": {testGateway(), ManifestOptions{ADS: "a:1", ServiceType: "ClusterIP", ExternalTrafficPolicy: "Nearest", Credentials: testCredentials()},
			[]string{"externalTrafficPolicy", "serviceType"}},
		"nlb needs a load balancer": {testGateway(), ManifestOptions{ADS: "a:1", ServiceType: "NodePort", AWSNLB: true, Credentials: testCredentials()}, []string{"awsNlb"}},
		"no listeners":              {&model.Gateway{Meta: model.Meta{Name: "x"}}, ManifestOptions{ADS: "a:1", Credentials: testCredentials()}, []string{"listeners"}},
		"port taken by readiness": {&model.Gateway{Meta: model.Meta{Name: "x"}, Listeners: []model.Listener{{Name: "h", Port: ReadyPort, Protocol: "HTTP"}}},
			ManifestOptions{ADS: "a:1", Credentials: testCredentials()}, []string{"listeners[0].port"}},
		"credentials and plaintext":   {testGateway(), ManifestOptions{ADS: "a:1", Credentials: testCredentials(), InsecurePlaintext: true}, []string{"credentials"}},
		"no credentials":              {testGateway(), ManifestOptions{ADS: "a:1"}, []string{"credentials"}},
		"credentials without the key": {testGateway(), ManifestOptions{ADS: "a:1", Credentials: &xds.Credentials{Cert: []byte("c"), CA: []byte("a")}}, []string{"credentials"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Manifests(tc.gw, tc.opts)
			var got []string
			for _, f := range model.ErrorFields(err) {
				got = append(got, f.Field)
			}
			if d := cmp.Diff(tc.fields, got); d != "" {
				t.Errorf("fields (-want +got):\n%s\nerr: %v", d, err)
			}
		})
	}
}

func exportWorkspace() model.Workspace {
	return model.Workspace{
		Gateways: []model.Gateway{*testGateway()},
		Upstreams: []model.Upstream{
			{Meta: model.Meta{Name: "web-v1"}, Kubernetes: &model.KubernetesSource{Namespace: "default", Service: "web-v1", Port: 80}},
			{Meta: model.Meta{Name: "web-v2"}, Kubernetes: &model.KubernetesSource{Namespace: "shop", Service: "web-v2", Port: 8080}},
			{Meta: model.Meta{Name: "legacy"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}},
		},
		Routes: []model.Route{
			{Meta: model.Meta{Name: "static"}, Gateway: "public", Priority: 100,
				When: model.Condition{All: []model.Condition{
					{Field: "host", Op: "equals", Value: "shop.example.com"},
					{Field: "path", Op: "segment-prefix", Value: "/static"},
					{Field: "method", Op: "in", Values: []string{"GET", "HEAD"}},
				}},
				Then: model.Action{
					Forward:   []model.Backend{{Upstream: "web-v1", Weight: 90}, {Upstream: "web-v2", Weight: 10}},
					Rewrite:   &model.Rewrite{PathPrefix: "/"},
					Headers:   &model.HeaderPolicy{Request: &model.HeaderMutation{Set: map[string]string{"x-team": "shop"}, Remove: []string{"x-debug"}}},
					RateLimit: &model.RateLimit{Requests: 100, Per: model.Duration(1e9)},
				}},
			{Meta: model.Meta{Name: "canary"}, Gateway: "public", Priority: 50,
				When: model.Condition{Any: []model.Condition{
					{Field: "header[x-canary]", Op: "equals", Value: "1"},
					{Field: "query[canary]", Op: "regex", Value: "y.*"},
				}},
				Then: model.Action{Forward: []model.Backend{{Upstream: "web-v2"}}, Timeout: model.Duration(5e9)}},
			{Meta: model.Meta{Name: "http-to-https"}, Gateway: "public", Priority: 10,
				When: model.Condition{Field: "scheme", Op: "equals", Value: "http"},
				Then: model.Action{Redirect: &model.Redirect{Scheme: "https"}}},
			{Meta: model.Meta{Name: "old"}, Gateway: "public", Priority: 5,
				When: model.Condition{Field: "path", Op: "prefix", Value: "/old"},
				Then: model.Action{Redirect: &model.Redirect{PathPrefix: "/new", Status: 308}}},
			{Meta: model.Meta{Name: "mock"}, Gateway: "public",
				When: model.Condition{Field: "path", Op: "exact", Value: "/health"},
				Then: model.Action{Respond: &model.Respond{Status: 200, Body: "ok"}}},
			{Meta: model.Meta{Name: "not-beta"}, Gateway: "public",
				When: model.Condition{Not: &model.Condition{Field: "header[x-beta]", Op: "present"}},
				Then: model.Action{Forward: []model.Backend{{Upstream: "web-v1"}}}},
			{Meta: model.Meta{Name: "office-only"}, Gateway: "public", Priority: 2,
				When: model.Condition{Field: "path", Op: "segment-prefix", Value: "/admin"},
				Then: model.Action{Forward: []model.Backend{{Upstream: "web-v1"}}, Access: &model.Access{Allow: []string{"10.0.0.0/8"}}}},
			{Meta: model.Meta{Name: "legacy"}, Gateway: "public", Priority: 1,
				When: model.Condition{Field: "host", Op: "suffix", Value: ".legacy.example.com"},
				Then: model.Action{Forward: []model.Backend{{Upstream: "legacy"}}}},
		},
	}
}

func TestGatewayAPIExportGolden(t *testing.T) {
	ex := ExportGatewayAPI(exportWorkspace(), "public", "default")
	out, err := ex.RoutesYAML()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "gateway-api.yaml", out)
	report, err := json.MarshalIndent(ex.Report, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "gateway-api-report.json", append(report, '\n'))
}

func TestWithoutPrivateKeys(t *testing.T) {
	objs, err := Manifests(testGateway(), ManifestOptions{ADS: "a:1", Credentials: testCredentials()})
	if err != nil {
		t.Fatal(err)
	}
	shown := WithoutPrivateKeys(objs)
	for i, o := range shown {
		sec, ok := o.(*corev1.Secret)
		if !ok {
			if o != objs[i] {
				t.Errorf("object %d copied though it is no Secret", i)
			}
			continue
		}
		if string(sec.Data["tls.key"]) != RedactedKey || string(sec.Data["tls.crt"]) != string(testCredentials().Cert) {
			t.Errorf("shown secret %v", sec.Data)
		}
		if string(objs[i].(*corev1.Secret).Data["tls.key"]) != string(testCredentials().Key) {
			t.Error("the applied secret lost its key")
		}
	}
}
