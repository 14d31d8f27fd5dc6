package kubernetes

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/routedeck/routedeck/backend/xds"
)

// workload builds the objects of one set of pods (a gateway's Envoys, the
// xDS replicas): each carries labels, and the Deployment's pods and the
// Service are tied by selector, a subset of the labels.
type workload struct {
	namespace        string
	labels, selector map[string]string
}

func (w workload) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: w.namespace, Labels: w.labels}
}

// namespaceObject is the Namespace the objects go in.
func (w workload) namespaceObject() *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: w.namespace, Labels: map[string]string{labelManagedBy: "routedeck"}},
	}
}

// secret is an Opaque Secret (or typ) holding data.
func (w workload) secret(name string, typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: w.meta(name),
		Type:       typ,
		Data:       data,
	}
}

// tlsSecret holds ADS credentials as a kubernetes.io/tls Secret with the
// CA bundle beside the pair. Replacing its data reaches running pods: the
// kubelet swaps the mounted files and both Envoy and the replicas read
// them again.
func (w workload) tlsSecret(name string, c *xds.Credentials) *corev1.Secret {
	return w.secret(name, corev1.SecretTypeTLS, map[string][]byte{
		corev1.TLSCertKey:       c.Cert,
		corev1.TLSPrivateKeyKey: c.Key,
		xds.CAFile:              c.CA,
	})
}

// secretVolume mounts the Secret secretName as volume name; mode nil
// keeps Kubernetes' default file mode.
func secretVolume(name, secretName string, mode *int32) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: secretName, DefaultMode: mode},
	}}
}

// podNameEnv gives the container its pod's name, which becomes its node
// or replica id.
var podNameEnv = corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
	FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
}}

// deployment runs replicas pods of spec, labelled and selected as w.
func (w workload) deployment(name string, replicas int32, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: w.meta(name),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: w.selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: w.labels},
				Spec:       spec,
			},
		},
	}
}

// service reaches w's pods on ports.
func (w workload) service(name string, typ corev1.ServiceType, ports []corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: w.meta(name),
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: w.selector,
			Ports:    ports,
		},
	}
}
