package kubernetes

import (
	"path"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const testStatusToken = "s3cr3t-status-token-0123456789"

func replicaOptions() ReplicaOptions {
	return ReplicaOptions{Namespace: "infra", Image: "registry.example/routedeck:1", Consul: "consul:8500",
		Credentials: testCredentials(), StatusToken: testStatusToken}
}

// statusTokenFile is the file the replica container is told to read its
// status token from (--status-token-file), and the Secret data the
// volume mounted at its directory puts there, as the kubelet would.
func statusTokenFile(t *testing.T, dep *appsv1.Deployment, objs []runtime.Object) (string, []byte) {
	t.Helper()
	c := dep.Spec.Template.Spec.Containers[0]
	file := ""
	for i, a := range c.Args {
		if a == "--status-token-file" && i+1 < len(c.Args) {
			file = c.Args[i+1]
		}
	}
	if file == "" {
		t.Fatalf("the replicas get no --status-token-file: %q", c.Args)
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath != path.Dir(file) {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("mount %s is writable", m.Name)
		}
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o400 {
				t.Errorf("the token is mounted with mode %v, want 0400", v.Secret.DefaultMode)
			}
			for _, o := range objs {
				if s, ok := o.(*corev1.Secret); ok && s.Name == v.Secret.SecretName {
					return file, s.Data[path.Base(file)]
				}
			}
			t.Fatalf("volume %s names Secret %s, which the manifests lack", v.Name, v.Secret.SecretName)
		}
	}
	t.Fatalf("nothing is mounted at %s", path.Dir(file))
	return "", nil
}

// TestReplicaStatusToken: the replicas read their status token from a file
// of a Secret volume; the token is in that Secret only.
func TestReplicaStatusToken(t *testing.T) {
	for name, plaintext := range map[string]bool{"mutual TLS": false, "plaintext": true} {
		t.Run(name, func(t *testing.T) {
			o := replicaOptions()
			if plaintext {
				o.Credentials, o.InsecurePlaintext = nil, true
			}
			objs, err := ReplicaManifests(o)
			if err != nil {
				t.Fatal(err)
			}
			var dep *appsv1.Deployment
			for _, obj := range objs {
				switch v := obj.(type) {
				case *appsv1.Deployment:
					dep = v
				case *corev1.Secret:
					if v.Name == StatusTokenSecret && v.Type != corev1.SecretTypeOpaque {
						t.Errorf("status token Secret of type %s", v.Type)
					}
				}
			}
			file, token := statusTokenFile(t, dep, objs)
			if string(token) != testStatusToken {
				t.Fatalf("%s would hold %q", file, token)
			}
			// Nowhere else: not in arguments, environment, or any
			// object but its Secret.
			for _, obj := range objs {
				if s, ok := obj.(*corev1.Secret); ok && s.Name == StatusTokenSecret {
					continue
				}
				y, err := YAML([]runtime.Object{obj})
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(y), testStatusToken) {
					t.Errorf("the token is in the %s:\n%s", obj.GetObjectKind().GroupVersionKind().Kind, y)
				}
			}
			for _, obj := range WithoutPrivateKeys(objs) {
				if s, ok := obj.(*corev1.Secret); ok && s.Name == StatusTokenSecret && string(s.Data[StatusTokenKey]) != RedactedKey {
					t.Errorf("the shown status Secret holds %q", s.Data[StatusTokenKey])
				}
			}
		})
	}
}

func TestReplicaStatusTokenInvalid(t *testing.T) {
	for name, token := range map[string]string{
		"missing":  "",
		"short":    "0123456789abcde",
		"space":    "0123456789 abcdef",
		"newline":  "0123456789abcdef\nmore",
		"too long": strings.Repeat("x", 4097),
	} {
		t.Run(name, func(t *testing.T) {
			o := replicaOptions()
			o.StatusToken = token
			_, err := ReplicaManifests(o)
			if err == nil || !strings.Contains(err.Error(), "statusToken") {
				t.Fatalf("err %v, want one about statusToken", err)
			}
			if token != "" && strings.Contains(err.Error(), token) {
				t.Fatalf("the error repeats the token: %v", err)
			}
		})
	}
}
