package testservers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The cache directory names come from the script's versions; a bump in one
// place only would send every test to a directory nothing builds.
func TestToolVersionsMatchScript(t *testing.T) {
	script, err := os.ReadFile("../../hack/tools.sh")
	if err != nil {
		t.Fatalf("read tools script: %v", err)
	}
	tests := map[string]struct {
		variable string
		want     string
	}{
		"consul":         {variable: "CONSUL_VERSION", want: ConsulVersion},
		"kube-apiserver": {variable: "KUBE_VERSION", want: KubeVersion},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := regexp.MustCompile(`(?m)^` + tc.variable + `=(\S+)$`).FindSubmatch(script)
			if m == nil {
				t.Fatalf("hack/tools.sh sets no %s", tc.variable)
			}
			if got := string(m[1]); got != tc.want {
				t.Errorf("hack/tools.sh %s=%s, package constant %s", tc.variable, got, tc.want)
			}
		})
	}
}

func TestMissingBinaryFailsWithInstructions(t *testing.T) {
	t.Setenv("ROUTEDECK_CONSUL", t.TempDir()+"/no-such-consul")
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		ConsulBinary(ft)
	}()
	if !regexp.MustCompile("make tools").MatchString(ft.msg) {
		t.Errorf("failure message %q does not say to run make tools", ft.msg)
	}
}

// fatalRecorder captures Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = regexp.MustCompile(`\s+`).ReplaceAllString(fmt.Sprintf(format, args...), " ")
	panic("fatal")
}

func TestConsulStopStart(t *testing.T) {
	c := StartConsul(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := httpGet(ctx, http.DefaultClient, c.URL()+"/v1/agent/self", nil); err != nil {
		t.Fatalf("agent not answering after start: %v", err)
	}
	c.Stop()
	if _, err := httpGet(ctx, http.DefaultClient, c.URL()+"/v1/agent/self", nil); err == nil {
		t.Fatal("agent still answering after Stop")
	}
	c.Start()
	if _, err := httpGet(ctx, http.DefaultClient, c.URL()+"/v1/agent/self", nil); err != nil {
		t.Fatalf("agent not answering after restart: %v", err)
	}
}

func TestKubeStopStart(t *testing.T) {
	k := StartKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The kubeconfig is what clients outside the test see: load it the way
	// kubectl would.
	cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	fromFile, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromFile.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("get namespace default through the kubeconfig: %v", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kept"}, Data: map[string]string{"k": "v"}}
	if _, err := fromFile.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create configmap: %v", err)
	}

	// Without credentials the server refuses: anonymous access is off.
	anon := k.Config()
	anon.BearerToken = ""
	anonClient, err := kubernetes.NewForConfig(anon)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anonClient.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("anonymous request: err = %v, want 401", err)
	}

	client, err := kubernetes.NewForConfig(k.Config())
	if err != nil {
		t.Fatal(err)
	}
	k.Stop()
	if _, err := client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
		t.Fatal("API server still answering after Stop")
	}
	k.Start()
	got, err := client.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("configmap after restart: %v, %v; want it kept in etcd", got, err)
	}
}

// TestFreePortsNeverRepeat: servers started side by side in one process
// never get the same port, even when the kernel offers a released one
// again.
func TestFreePortsNeverRepeat(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		for _, p := range freePorts(t, 4) {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
		}
	}
}

// TestFreePortsAreClaimedForOtherProcesses: a port handed out here is
// locked for every other test process (flock conflicts between open file
// descriptions, as between processes), and lies below the ephemeral range.
func TestFreePortsAreClaimedForOtherProcesses(t *testing.T) {
	lo, hi := portRange()
	for _, p := range freePorts(t, 3) {
		if p < lo || p >= hi {
			t.Errorf("port %d outside %d-%d", p, lo, hi-1)
		}
		f, err := os.Open(filepath.Join(os.TempDir(), "routedeck-test-ports", fmt.Sprintf("%d.lock", p)))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			t.Errorf("port %d: another process could claim it too", p)
		}
		f.Close()
	}
}
