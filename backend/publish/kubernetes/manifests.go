// Package kubernetes puts gateways into Kubernetes: the manifests that run
// a gateway's Envoys (Namespace, ConfigMap with the bootstrap, Deployment,
// Service), the routes as Gateway API HTTPRoutes, and server-side apply of
// either under the field manager "routedeck".
package kubernetes

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/xds"
)

// Defaults of ManifestOptions.
const (
	DefaultImage     = "envoyproxy/envoy:v1.35.3"
	DefaultAdminPort = 9901
	// ReadyPort serves Envoy's /ready to the kubelet. The admin interface
	// stays on loopback (it can change the proxy's state); a static
	// listener on this port forwards only /ready to it.
	ReadyPort = 19001
	// AWSLoadBalancerType is the annotation that asks the AWS cloud
	// controller for a Network Load Balancer.
	AWSLoadBalancerType = "service.beta.kubernetes.io/aws-load-balancer-type"
)

// ManifestOptions say how a gateway's Envoys run in the cluster.
type ManifestOptions struct {
	// ADS is routedeck's ADS address as the pods reach it (HOST:PORT).
	ADS string
	// ADSAlternates are further addresses of the same ADS (xDS
	// replicas), hosts of the bootstrap's ADS cluster too.
	ADSAlternates []string
	Namespace     string // default "default"
	// CreateNamespace adds the Namespace object.
	CreateNamespace bool
	// ServiceType is LoadBalancer (default) or NodePort.
	ServiceType string
	// AWSNLB annotates the Service for an AWS Network Load Balancer.
	AWSNLB bool
	// ExternalTrafficPolicy is Cluster (default) or Local (keeps client
	// source addresses, for access rules on source IP).
	ExternalTrafficPolicy string
	Replicas              int32  // default 2
	Image                 string // default DefaultImage
	AdminPort             int    // default DefaultAdminPort
	// Credentials are the gateway's ADS client certificate and key and
	// routedeck's trust bundle. They go into a kubernetes.io/tls Secret
	// mounted into the pods. Required unless InsecurePlaintext.
	Credentials *xds.Credentials
	// InsecurePlaintext connects to ADS without TLS, for a server started
	// with --ads-insecure-plaintext (loopback development only).
	InsecurePlaintext bool
}

// TLSSecretName is the name of a gateway's ADS credentials Secret.
func TLSSecretName(gateway string) string { return ObjectName(gateway) + "-ads-tls" }

// bootstrapDir is where the ConfigMap (bootstrap and SDS files) is mounted.
const bootstrapDir = xds.DefaultConfigDir

// Labels every object of a gateway carries; the selector uses the last two.
const (
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
)

// ObjectName is the name of a gateway's Deployment, Service and ConfigMap.
func ObjectName(gateway string) string { return "routedeck-" + gateway }

func (o *ManifestOptions) defaults() {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.ServiceType == "" {
		o.ServiceType = string(corev1.ServiceTypeLoadBalancer)
	}
	if o.ExternalTrafficPolicy == "" {
		o.ExternalTrafficPolicy = string(corev1.ServiceExternalTrafficPolicyCluster)
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.AdminPort == 0 {
		o.AdminPort = DefaultAdminPort
	}
}

func (o ManifestOptions) validate(gw *model.Gateway) error {
	var p model.Problems
	if len(gw.Listeners) == 0 {
		p.Add("listeners", "the gateway has no listeners to expose")
	}
	switch corev1.ServiceType(o.ServiceType) {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
	default:
		p.Add("serviceType", "%q: use LoadBalancer or NodePort", o.ServiceType)
	}
	switch corev1.ServiceExternalTrafficPolicy(o.ExternalTrafficPolicy) {
	case corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal:
	default:
		p.Add("externalTrafficPolicy", "%q: use Cluster or Local", o.ExternalTrafficPolicy)
	}
	if o.AWSNLB && o.ServiceType != string(corev1.ServiceTypeLoadBalancer) {
		p.Add("awsNlb", "needs serviceType LoadBalancer")
	}
	switch {
	case o.InsecurePlaintext && o.Credentials != nil:
		p.Add("credentials", "not used with insecure plaintext ADS")
	case !o.InsecurePlaintext && o.Credentials == nil:
		p.Add("credentials", "required: the ADS server accepts proxies with a client certificate only")
	case o.Credentials != nil && (len(o.Credentials.Cert) == 0 || len(o.Credentials.Key) == 0 || len(o.Credentials.CA) == 0):
		p.Add("credentials", "need a certificate, its key and the CA bundle")
	}
	if o.Replicas < 0 {
		p.Add("replicas", "%d is negative", o.Replicas)
	}
	for i, l := range gw.Listeners {
		if l.Port == ReadyPort || l.Port == o.AdminPort {
			p.Add(fmt.Sprintf("listeners[%d].port", i), "%d is taken by the readiness or admin port", l.Port)
		}
	}
	return p.Err()
}

// Manifests returns the objects that run gw's Envoys: the Namespace (when
// asked), the Secret with the ADS credentials, the ConfigMap holding the
// bootstrap and its SDS files, the Deployment and the Service, in the order
// they are applied.
func Manifests(gw *model.Gateway, o ManifestOptions) ([]runtime.Object, error) {
	o.defaults()
	if err := o.validate(gw); err != nil {
		return nil, fmt.Errorf("manifests for gateway %q: %w", gw.Name, err)
	}
	// The node id comes from the pod name (--service-node overrides the
	// bootstrap's), so each replica shows as its own proxy.
	var adsTLS *xds.ADSTLS
	if !o.InsecurePlaintext {
		adsTLS = &xds.ADSTLS{CertDir: xds.DefaultCertDir, ConfigDir: bootstrapDir}
	}
	b, err := xds.BootstrapHosts(gw.Name, ObjectName(gw.Name), append([]string{o.ADS}, o.ADSAlternates...), o.AdminPort, adsTLS)
	if err != nil {
		return nil, err
	}
	if err := addReadyListener(b, o.AdminPort); err != nil {
		return nil, err
	}
	bootstrap, err := xds.BootstrapYAML(b)
	if err != nil {
		return nil, err
	}
	name := ObjectName(gw.Name)
	w := workload{
		namespace: o.Namespace,
		labels:    map[string]string{labelManagedBy: "routedeck", labelName: "envoy", labelInstance: gw.Name},
		selector:  map[string]string{labelName: "envoy", labelInstance: gw.Name},
	}

	var objs []runtime.Object
	if o.CreateNamespace {
		objs = append(objs, w.namespaceObject())
	}
	config := map[string]string{"envoy.yaml": string(bootstrap)}
	volumes := []corev1.Volume{{Name: "bootstrap", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}},
	}}}
	mounts := []corev1.VolumeMount{{Name: "bootstrap", MountPath: bootstrapDir, ReadOnly: true}}
	if adsTLS != nil {
		sds, err := xds.SDSFiles(*adsTLS)
		if err != nil {
			return nil, err
		}
		for file, data := range sds {
			config[file] = string(data)
		}
		// Envoy watches the directory, so a re-issued certificate needs
		// no restart, and the pod template no checksum annotation.
		objs = append(objs, w.tlsSecret(TLSSecretName(gw.Name), o.Credentials))
		volumes = append(volumes, secretVolume("ads-tls", TLSSecretName(gw.Name), nil))
		mounts = append(mounts, corev1.VolumeMount{Name: "ads-tls", MountPath: xds.DefaultCertDir, ReadOnly: true})
	}
	objs = append(objs, &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: w.meta(name),
		Data:       config,
	})

	listeners := slices.Clone(gw.Listeners)
	slices.SortFunc(listeners, func(a, b model.Listener) int { return a.Port - b.Port })
	var containerPorts []corev1.ContainerPort
	var servicePorts []corev1.ServicePort
	for _, l := range listeners {
		portName := portName(l)
		containerPorts = append(containerPorts, corev1.ContainerPort{Name: portName, ContainerPort: int32(l.Port), Protocol: corev1.ProtocolTCP})
		servicePorts = append(servicePorts, corev1.ServicePort{Name: portName, Port: int32(l.Port), TargetPort: intstr.FromString(portName), Protocol: corev1.ProtocolTCP})
	}
	containerPorts = append(containerPorts, corev1.ContainerPort{Name: "ready", ContainerPort: ReadyPort, Protocol: corev1.ProtocolTCP})

	objs = append(objs, w.deployment(name, o.Replicas, corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:  "envoy",
			Image: o.Image,
			Args: []string{
				"--config-path", bootstrapDir + "/envoy.yaml",
				"--service-node", "$(POD_NAME)",
				"--log-level", "info",
			},
			Env:   []corev1.EnvVar{podNameEnv},
			Ports: containerPorts,
			ReadinessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/ready", Port: intstr.FromString("ready"),
				}},
				PeriodSeconds:    5,
				FailureThreshold: 2,
			},
			VolumeMounts: mounts,
		}},
		Volumes: volumes,
		// Let in-flight requests drain after the endpoint is removed
		// from the load balancer.
		TerminationGracePeriodSeconds: ptr(int64(30)),
	}))

	svc := w.service(name, corev1.ServiceType(o.ServiceType), servicePorts)
	svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicy(o.ExternalTrafficPolicy)
	if o.AWSNLB {
		svc.Annotations = map[string]string{AWSLoadBalancerType: "nlb"}
	}
	objs = append(objs, svc)
	return objs, nil
}

// RedactedKey replaces a private key or token in WithoutPrivateKeys'
// copies.
const RedactedKey = "<redacted>"

// WithoutPrivateKeys returns objs with every Secret replaced by a copy
// whose tls.key (and the replicas' status token) is RedactedKey, for
// showing what was applied.
func WithoutPrivateKeys(objs []runtime.Object) []runtime.Object {
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		out[i] = o
		sec, ok := o.(*corev1.Secret)
		if !ok {
			continue
		}
		secret := []string{corev1.TLSPrivateKeyKey}
		if sec.Name == StatusTokenSecret {
			secret = append(secret, StatusTokenKey)
		}
		for _, k := range secret {
			if sec.Data[k] != nil {
				if out[i] == o {
					sec = sec.DeepCopy()
					out[i] = sec
				}
				sec.Data[k] = []byte(RedactedKey)
			}
		}
	}
	return out
}

// portName is a valid IANA_SVC_NAME for a listener: at most 15 lowercase
// letters, digits and dashes.
func portName(l model.Listener) string {
	name := strings.ToLower(l.Name)
	var b strings.Builder
	for _, c := range name {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		}
	}
	name = strings.Trim(b.String(), "-")
	if name == "" || len(name) > 15 || !strings.ContainsAny(name, "abcdefghijklmnopqrstuvwxyz") {
		name = fmt.Sprintf("%s-%d", strings.ToLower(l.Protocol), l.Port)
	}
	return name
}

func ptr[T any](v T) *T { return &v }

// YAML renders objs as a multi-document YAML stream, ready for
// `kubectl apply -f -`.
func YAML(objs []runtime.Object) ([]byte, error) {
	var out []byte
	for i, obj := range objs {
		u, err := toUnstructured(obj)
		if err != nil {
			return nil, err
		}
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, err)
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, b...)
	}
	return out, nil
}
