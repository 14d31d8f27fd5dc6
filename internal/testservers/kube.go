package testservers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// Kube is an etcd and a kube-apiserver on loopback ports: the Kubernetes
// API without nodes or controllers, so the objects a test creates stay
// exactly as it wrote them (no endpointslice controller rewrites them).
type Kube struct {
	// Host is the API server URL, https://127.0.0.1:PORT.
	Host string
	// Token is the admin bearer token (group system:masters).
	Token string
	// CAData is the PEM CA certificate the serving certificate chains to.
	CAData []byte
	// Kubeconfig is the path of a kubeconfig file for the admin, with one
	// context named "routedeck-test", for code that reads KUBECONFIG.
	Kubeconfig string

	etcd      *process
	apiserver *process
	t         testing.TB
}

// KubeContext is the name of the only context in Kube.Kubeconfig.
const KubeContext = "routedeck-test"

// StartKube starts etcd and kube-apiserver on free loopback ports, with
// freshly generated serving certificates, service-account keys and a static
// admin token, waits for /readyz, and stops both when the test ends.
func StartKube(t testing.TB) *Kube {
	t.Helper()
	etcdBin := EtcdBinary(t)
	apiBin := KubeAPIServerBinary(t)
	dir := t.TempDir()
	ports := freePorts(t, 3)
	etcdClient, etcdPeer, securePort := ports[0], ports[1], ports[2]

	k := &Kube{
		Host:  fmt.Sprintf("https://127.0.0.1:%d", securePort),
		Token: randomToken(t),
		t:     t,
	}
	pki := writePKI(t, dir)
	k.CAData = pki.caPEM
	tokenFile := filepath.Join(dir, "tokens.csv")
	writeFile(t, tokenFile, []byte(fmt.Sprintf("%s,admin,admin-uid,\"system:masters\"\n", k.Token)))
	k.Kubeconfig = filepath.Join(dir, "kubeconfig")
	writeFile(t, k.Kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: admin
  user:
    token: %[4]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: admin
current-context: %[1]s
`, KubeContext, k.Host, base64.StdEncoding.EncodeToString(pki.caPEM), k.Token)))

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	k.etcd = &process{
		name: "etcd",
		path: etcdBin,
		args: []string{
			"--name", "routedeck-test",
			"--data-dir", filepath.Join(dir, "etcd"),
			"--listen-client-urls", etcdURL,
			"--advertise-client-urls", etcdURL,
			"--listen-peer-urls", peerURL,
			"--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "routedeck-test=" + peerURL,
			"--logger", "zap", "--log-level", "warn",
		},
		logPath: filepath.Join(dir, "etcd.log"),
	}
	k.apiserver = &process{
		name: "kube-apiserver",
		path: apiBin,
		args: []string{
			"--etcd-servers", etcdURL,
			"--bind-address", "127.0.0.1",
			"--advertise-address", "127.0.0.1",
			"--secure-port", fmt.Sprint(securePort),
			"--cert-dir", filepath.Join(dir, "certs"),
			"--tls-cert-file", pki.servingCert,
			"--tls-private-key-file", pki.servingKey,
			"--client-ca-file", pki.caCert,
			"--token-auth-file", tokenFile,
			"--anonymous-auth=false",
			"--authorization-mode", "AlwaysAllow",
			"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file", pki.saPublic,
			"--service-account-signing-key-file", pki.saPrivate,
			"--service-cluster-ip-range", "10.96.0.0/24",
			// Nothing here needs request fairness or profiling, and both
			// cost start-up time on a busy test machine.
			"--enable-priority-and-fairness=false",
			"--profiling=false",
			"--shutdown-delay-duration", "0s",
		},
		logPath: filepath.Join(dir, "kube-apiserver.log"),
	}
	k.etcd.dumpLogOnFailure(t)
	k.apiserver.dumpLogOnFailure(t)
	t.Cleanup(func() {
		k.apiserver.stop(5 * time.Second)
		k.etcd.stop(5 * time.Second)
	})

	if err := k.etcd.start(); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(k.etcd, 30*time.Second, func(ctx context.Context) error {
		_, err := httpGet(ctx, http.DefaultClient, etcdURL+"/health", nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	k.Start()
	return k
}

// Config is a fresh client configuration for the admin; callers may change
// their copy freely.
func (k *Kube) Config() *rest.Config {
	return &rest.Config{
		Host:            k.Host,
		BearerToken:     k.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: k.CAData},
		QPS:             100,
		Burst:           200,
	}
}

// Start starts the API server (again, after Stop) on the same port and
// waits for /readyz. etcd keeps running, so the stored objects survive.
func (k *Kube) Start() {
	k.t.Helper()
	if err := k.apiserver.start(); err != nil {
		k.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.CAData)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	auth := http.Header{"Authorization": {"Bearer " + k.Token}}
	if err := waitFor(k.apiserver, 120*time.Second, func(ctx context.Context) error {
		_, err := httpGet(ctx, client, k.Host+"/readyz", auth)
		return err
	}); err != nil {
		k.t.Fatal(err)
	}
}

// Stop kills the API server at once (etcd keeps running), as an outage of
// the control plane looks to clients.
func (k *Kube) Stop() { k.apiserver.stop(0) }

type pkiFiles struct {
	caPEM                   []byte
	caCert                  string
	servingCert, servingKey string
	saPublic, saPrivate     string
}

// writePKI generates a CA, a serving certificate for 127.0.0.1 and
// localhost signed by it, and a service-account signing key pair.
func writePKI(t testing.TB, dir string) pkiFiles {
	t.Helper()
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "routedeck-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("create CA certificate: %v", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("parse CA certificate: %v", err)
	}
	servingKey := newKey(t)
	servingTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	servingDER, err := x509.CreateCertificate(rand.Reader, servingTmpl, ca, &servingKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("create serving certificate: %v", err)
	}
	saKey := newKey(t)
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatalf("marshal service-account public key: %v", err)
	}

	f := pkiFiles{
		caPEM:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saPublic:    filepath.Join(dir, "sa.pub"),
		saPrivate:   filepath.Join(dir, "sa.key"),
	}
	writeFile(t, f.caCert, f.caPEM)
	writeFile(t, f.servingCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: servingDER}))
	writeFile(t, f.servingKey, keyPEM(t, servingKey))
	writeFile(t, f.saPublic, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}))
	writeFile(t, f.saPrivate, keyPEM(t, saKey))
	return f
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return key
}

func keyPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func randomToken(t testing.TB) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random token: %v", err)
	}
	return strings.TrimRight(base64.URLEncoding.EncodeToString(b), "=")
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}
