package cli

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/xds"
)

// TestReplicaServerCertificate: certs issue --ads-server writes what an
// xDS replica serves ADS with, and what it is issued for.
func TestReplicaServerCertificate(t *testing.T) {
	e := newEnv(t)
	t.Setenv("ROUTEDECK_MASTER_KEY", "")
	dir := filepath.Join(t.TempDir(), "xds")
	if _, errOut, code := e.run(t, "", "certs", "issue", "--ads-server", "--san", "xds.example.com", "--san", "10.0.0.7", "--out", dir); code != 0 {
		t.Fatalf("certs issue --ads-server: %s", errOut)
	}
	leaf := readLeaf(t, dir)
	if leaf.URIs[0].String() != pki.ServerID || !slices.Equal(leaf.DNSNames, []string{"xds.example.com"}) ||
		len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "10.0.0.7" || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Fatalf("server certificate for %v %v %v, usage %v", leaf.URIs, leaf.DNSNames, leaf.IPAddresses, leaf.ExtKeyUsage)
	}
	if _, err := pki.NewFileGuard(filepath.Join(dir, xds.CertFile), filepath.Join(dir, xds.KeyFile), filepath.Join(dir, xds.CAFile), nil); err != nil {
		t.Fatalf("a replica refuses the files: %v", err)
	}
	// A gateway's certificate is no server certificate.
	gwDir := filepath.Join(t.TempDir(), "edge")
	if _, errOut, code := e.run(t, "", "certs", "issue", "--gateway", "edge", "--out", gwDir); code != 0 {
		t.Fatal(errOut)
	}
	if _, err := pki.NewFileGuard(filepath.Join(gwDir, xds.CertFile), filepath.Join(gwDir, xds.KeyFile), filepath.Join(gwDir, xds.CAFile), nil); err == nil ||
		!strings.Contains(err.Error(), "not an ADS server certificate") {
		t.Fatalf("a gateway certificate as the replica's: %v", err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no name":       {[]string{"--ads-server"}, "--san"},
		"and a gateway": {[]string{"--ads-server", "--san", "x", "--gateway", "edge"}, "choose one"},
		"neither":       {nil, "--gateway is required"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"certs", "issue", "--out", t.TempDir()}, tc.args...)
			if _, errOut, code := e.run(t, "", args...); code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d: %s", code, errOut)
			}
		})
	}
}

// TestBootstrapWithSeveralADSAddresses: every --ads is a host of the ADS
// cluster.
func TestBootstrapWithSeveralADSAddresses(t *testing.T) {
	e := newEnv(t)
	tests := map[string]struct {
		ads      []string
		wantType clusterv3.Cluster_DiscoveryType
		wantSNI  string
		wantErr  string
	}{
		"addresses": {ads: []string{"10.0.0.1:18000", "10.0.0.2:18000"}, wantType: clusterv3.Cluster_STATIC},
		"names":     {ads: []string{"xds-0.example:18000", "xds-1.example:18000"}, wantType: clusterv3.Cluster_STRICT_DNS},
		"one name":  {ads: []string{"xds.example:18000", "xds.example:18001"}, wantType: clusterv3.Cluster_STRICT_DNS, wantSNI: "xds.example"},
		"twice":     {ads: []string{"10.0.0.1:18000", "10.0.0.1:18000"}, wantErr: "ads[1]: 10.0.0.1:18000 is given twice"},
		"bad":       {ads: []string{"10.0.0.1:18000", "nope"}, wantErr: "ads[1]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := []string{"bootstrap", "--gateway", "edge", "-f", "testdata/shop.yaml", "--node", "n1"}
			for _, a := range tc.ads {
				args = append(args, "--ads", a)
			}
			out, errOut, code := e.run(t, "", args...)
			if tc.wantErr != "" {
				if code == 0 || !strings.Contains(errOut, tc.wantErr) {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				return
			}
			if code != 0 {
				t.Fatal(errOut)
			}
			b, err := xds.ParseBootstrapYAML([]byte(out))
			if err != nil {
				t.Fatal(err)
			}
			c := b.StaticResources.Clusters[0]
			var got []string
			for _, lb := range c.LoadAssignment.Endpoints[0].LbEndpoints {
				sa := lb.GetEndpoint().Address.GetSocketAddress()
				got = append(got, fmt.Sprintf("%s:%d", sa.Address, sa.GetPortValue()))
			}
			if !slices.Equal(got, tc.ads) || c.GetType() != tc.wantType {
				t.Fatalf("ADS cluster %s with hosts %v, want %s with %v", c.GetType(), got, tc.wantType, tc.ads)
			}
			if !strings.Contains(out, "sni: "+tc.wantSNI) && tc.wantSNI != "" || tc.wantSNI == "" && strings.Contains(out, "sni:") {
				t.Errorf("SNI: want %q in\n%s", tc.wantSNI, out)
			}
		})
	}

	out, errOut, code := e.run(t, "", "manifests", "--gateway", "edge", "-f", "testdata/shop.yaml", "--ads-insecure-plaintext",
		"--ads", "xds-0.example:18000", "--ads", "xds-1.example:18000")
	if code != 0 || !strings.Contains(out, "address: xds-0.example") || !strings.Contains(out, "address: xds-1.example") {
		t.Fatalf("manifests with two --ads (%d): %s\n%s", code, errOut, out)
	}
}

// TestReplicaManifests: manifests --xds-replicas prints the replicas'
// Secret, Deployment, Service and PodDisruptionBudget.
func TestReplicaManifests(t *testing.T) {
	e := newEnv(t)
	t.Setenv("ROUTEDECK_MASTER_KEY", "")
	out, errOut, code := e.run(t, "", "manifests", "--xds-replicas", "3", "--image", "registry.example/routedeck:1.0",
		"--consul-addr", "consul.infra:8500", "--namespace", "infra", "--ads-san", "xds.example.com", "--xds-gateway", "edge")
	if code != 0 {
		t.Fatalf("manifests --xds-replicas: %s", errOut)
	}
	var kinds []string
	var dep appsv1.Deployment
	var sec corev1.Secret
	for _, doc := range strings.Split(out, "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, meta.Kind)
		switch meta.Kind {
		case "Deployment":
			if err := yaml.Unmarshal([]byte(doc), &dep); err != nil {
				t.Fatal(err)
			}
		case "Secret":
			if err := yaml.Unmarshal([]byte(doc), &sec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(kinds, []string{"Secret", "Secret", "Deployment", "Service", "PodDisruptionBudget"}) {
		t.Fatalf("kinds %v", kinds)
	}
	if *dep.Spec.Replicas != 3 || dep.Namespace != "infra" {
		t.Fatalf("deployment %d replicas in %q", *dep.Spec.Replicas, dep.Namespace)
	}
	args := strings.Join(dep.Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"serve --role xds", "--consul-addr consul.infra:8500", "--replica-id $(POD_NAME)", "--ads-cert-dir", "--gateway edge"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	block, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if block == nil {
		t.Fatal("no certificate in the Secret")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"routedeck-xds.infra.svc", "routedeck-xds.infra.svc.cluster.local", "xds.example.com"} {
		if !slices.Contains(leaf.DNSNames, want) {
			t.Errorf("certificate names %v, not %s", leaf.DNSNames, want)
		}
	}
	if leaf.URIs[0].String() != pki.ServerID {
		t.Errorf("certificate for %v", leaf.URIs)
	}
	// The status token: from --status-token-file, else a new random one.
	tokenFile := writeFile(t, t.TempDir(), "token", "  operator-chosen-token-1234\n")
	statusToken := func(args ...string) string {
		t.Helper()
		out, errOut, code := e.run(t, "", append([]string{"manifests", "--xds-replicas", "2", "--image", "x", "--consul-addr", "c:8500", "--ads-insecure-plaintext"}, args...)...)
		if code != 0 {
			t.Fatalf("manifests --xds-replicas: %s", errOut)
		}
		for _, doc := range strings.Split(out, "\n---\n") {
			var s corev1.Secret
			if err := yaml.Unmarshal([]byte(doc), &s); err != nil {
				t.Fatal(err)
			}
			if s.Kind == "Secret" && s.Name == "routedeck-xds-status" {
				return string(s.Data["token"])
			}
		}
		t.Fatalf("no status token Secret in:\n%s", out)
		return ""
	}
	if got := statusToken("--status-token-file", tokenFile); got != "operator-chosen-token-1234" {
		t.Errorf("status token %q, want the file's", got)
	}
	if a, b := statusToken(), statusToken(); len(a) < 32 || a == b {
		t.Errorf("generated status tokens %q and %q", a, b)
	}
	if _, errOut, code := e.run(t, "", "manifests", "--gateway", "public", "--ads-insecure-plaintext", "--ads", "a:1", "--status-token-file", tokenFile); code == 0 || !strings.Contains(errOut, "--status-token-file applies to --xds-replicas only") {
		t.Errorf("--status-token-file for a gateway: exit %d: %s", code, errOut)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"short status token": {[]string{"--image", "x", "--consul-addr", "c:8500", "--status-token-file", writeFile(t, t.TempDir(), "short", "short")}, "statusToken"},
		"no image":           {[]string{"--consul-addr", "c:8500"}, "image"},
		"no consul":          {[]string{"--image", "x"}, "consul"},
		"gateway flag":       {[]string{"--image", "x", "--consul-addr", "c:8500", "--gateway", "edge"}, "--gateway does not apply"},
		"no replicas":        {[]string{"--image", "x", "--consul-addr", "c:8500", "--xds-replicas", "-1"}, "replicas"},
		"gateway needed":     {nil, "--gateway is required"},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"manifests", "--ads-insecure-plaintext"}
			if name != "gateway needed" && name != "no replicas" {
				args = append(args, "--xds-replicas", "2")
			}
			if _, errOut, code := e.run(t, "", append(args, tc.args...)...); code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d: %s", code, errOut)
			}
		})
	}
}

// TestServeRoleFlags: a flag of the other role, or an unknown role, is an
// error, and a replica refuses to serve ADS without its certificate.
func TestServeRoleFlags(t *testing.T) {
	for _, k := range []string{EnvServer, EnvToken, EnvDataDir} {
		t.Setenv(k, "")
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown role":           {[]string{"--role", "reader"}, `--role "reader"`},
		"writer flag on xds":     {[]string{"--role", "xds", "--tls-cert", "x"}, "--tls-cert does not apply to --role xds"},
		"xds flag on writer":     {[]string{"--consul-addr", "127.0.0.1:8500"}, "--consul-addr does not apply to --role writer"},
		"no certificate":         {[]string{"--role", "xds", "--listen", "127.0.0.1:0", "--ads-listen", "127.0.0.1:0"}, "--ads-cert-dir"},
		"plaintext off loopback": {[]string{"--role", "xds", "--ads-insecure-plaintext", "--ads-listen", "0.0.0.0:0"}, "loopback"},
		"bad replica id":         {[]string{"--role", "xds", "--replica-id", "Replica/1", "--ads-insecure-plaintext"}, "replica id"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"serve"}, tc.args...)
			var out, errOut strings.Builder
			code := Run(t.Context(), args, strings.NewReader(""), &out, &errOut)
			if code == 0 || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
		})
	}
}
