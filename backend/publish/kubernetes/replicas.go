package kubernetes

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replica"
	"github.com/routedeck/routedeck/backend/xds"
)

// Names and ports of the xDS replicas' objects.
const (
	// ReplicasName names the Deployment, Service and PodDisruptionBudget
	// of the xDS replicas; the Secret is ReplicasName + "-ads-tls".
	ReplicasName = "routedeck-xds"
	// ReplicaADSPort is where the replicas serve ADS (and the Service).
	ReplicaADSPort = 18000
	// ReplicaStatusPort is where they serve their status and probes.
	ReplicaStatusPort = 8080
	// MasterKeySecret is the Secret (key "master-key") the replicas take
	// ROUTEDECK_MASTER_KEY from, when it exists: it opens the credentials
	// the writer sealed in Consul KV. Create it from the writer's key.
	MasterKeySecret = "routedeck-master-key"
	// ConsulTokenSecret is the Secret (key "token") the replicas take
	// CONSUL_HTTP_TOKEN from, when it exists.
	ConsulTokenSecret = "routedeck-consul"
	// StatusTokenSecret holds (key StatusTokenKey) the bearer token that
	// reads the replicas' status API, /metrics and proxies over the
	// network; without it they answer loopback only, which no one in
	// the cluster is.
	StatusTokenSecret = ReplicasName + "-status"
	StatusTokenKey    = "token"
	// replicaCertDir is where the replicas' ADS credentials are mounted,
	// replicaStatusDir their status token.
	replicaCertDir   = "/etc/routedeck/ads-tls"
	replicaStatusDir = "/etc/routedeck/status"
)

// ReplicaOptions say how the xDS replicas run.
type ReplicaOptions struct {
	Namespace       string // default "default"
	CreateNamespace bool
	// Replicas is how many pods (default 2); the PodDisruptionBudget lets
	// one at a time go, so at least Replicas-1 keep serving.
	Replicas int32
	// Image is the routedeck image; required.
	Image string
	// Consul is the Consul HTTP address the replicas read (HOST:PORT);
	// required.
	Consul string
	// Gateways limits the replicas to these gateways; empty serves all.
	Gateways []string
	// Credentials are the replicas' ADS server certificate and key
	// (certs issue --ads-server, for ServiceNames) and the CA bundle
	// whose gateway certificates they accept. Required unless
	// InsecurePlaintext.
	Credentials       *xds.Credentials
	InsecurePlaintext bool
	// StatusToken is the bearer token of the replicas' status API
	// (replica.MinStatusToken to 4096 printable characters); required.
	// It goes into the Secret StatusTokenSecret, mounted as the file
	// --status-token-file names. The replicas read it when they start.
	StatusToken string
}

// ServiceNames are the names proxies in the cluster reach the replicas'
// Service by, for the SANs of their certificate.
func ServiceNames(namespace string) []string {
	if namespace == "" {
		namespace = "default"
	}
	svc := ReplicasName + "." + namespace
	return []string{ReplicasName, svc, svc + ".svc", svc + ".svc.cluster.local"}
}

// ServiceAddress is the address proxies in the cluster give as --ads to
// reach the replicas through their Service.
func ServiceAddress(namespace string) string {
	return fmt.Sprintf("%s:%d", ServiceNames(namespace)[2], ReplicaADSPort)
}

func (o *ReplicaOptions) validate() error {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	var p model.Problems
	if o.Replicas < 1 {
		p.Add("replicas", "%d: at least one", o.Replicas)
	}
	if strings.TrimSpace(o.Image) == "" {
		p.Add("image", "required: the routedeck image the replicas run")
	}
	if strings.TrimSpace(o.Consul) == "" {
		p.Add("consul", "required: the Consul HTTP address the replicas read (HOST:PORT)")
	}
	switch {
	case o.InsecurePlaintext && o.Credentials != nil:
		p.Add("credentials", "not used with insecure plaintext ADS")
	case !o.InsecurePlaintext && o.Credentials == nil:
		p.Add("credentials", "required: the replicas serve ADS over mutual TLS")
	case o.Credentials != nil && (len(o.Credentials.Cert) == 0 || len(o.Credentials.Key) == 0 || len(o.Credentials.CA) == 0):
		p.Add("credentials", "need a certificate, its key and the CA bundle")
	}
	// The replica's own rule for the file (app.readStatusToken): a pod
	// that would refuse to start is an error here instead.
	if t := o.StatusToken; len(t) < replica.MinStatusToken || len(t) > 4096 || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		p.Add("statusToken", "want one token of %d to 4096 printable characters without spaces", replica.MinStatusToken)
	}
	return p.Err()
}

// ReplicaManifests returns the objects that run the xDS replicas: the
// Namespace (when asked), the Secret with their status token, the Secret
// with their ADS server credentials,
// the Deployment, the Service proxies reach them by (ServiceAddress) and
// a PodDisruptionBudget, in the order they are applied.
func ReplicaManifests(o ReplicaOptions) ([]runtime.Object, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("manifests for the xds replicas: %w", err)
	}
	w := workload{
		namespace: o.Namespace,
		labels:    map[string]string{labelManagedBy: "routedeck", labelName: "routedeck-xds", labelInstance: "xds"},
		selector:  map[string]string{labelName: "routedeck-xds", labelInstance: "xds"},
	}
	var objs []runtime.Object
	if o.CreateNamespace {
		objs = append(objs, w.namespaceObject())
	}
	args := []string{"serve", "--role", "xds",
		"--listen", fmt.Sprintf("0.0.0.0:%d", ReplicaStatusPort),
		"--ads-listen", fmt.Sprintf("0.0.0.0:%d", ReplicaADSPort),
		"--consul-addr", o.Consul,
		"--replica-id", "$(POD_NAME)",
		"--log-format", "json",
		"--status-token-file", replicaStatusDir + "/" + StatusTokenKey,
	}
	for _, g := range o.Gateways {
		args = append(args, "--gateway", g)
	}
	// The token is a file of a Secret volume, as the replica reads it:
	// never an argument or a ConfigMap value, which anyone reading the
	// pod or the namespace's ConfigMaps would see.
	objs = append(objs, w.secret(StatusTokenSecret, corev1.SecretTypeOpaque, map[string][]byte{StatusTokenKey: []byte(o.StatusToken)}))
	volumes := []corev1.Volume{secretVolume("status-token", StatusTokenSecret, ptr(int32(0o400)))}
	mounts := []corev1.VolumeMount{{Name: "status-token", MountPath: replicaStatusDir, ReadOnly: true}}
	if o.InsecurePlaintext {
		args = append(args, "--ads-insecure-plaintext", "--ads-insecure-allow-remote")
	} else {
		args = append(args, "--ads-cert-dir", replicaCertDir)
		objs = append(objs, w.tlsSecret(ReplicasName+"-ads-tls", o.Credentials))
		volumes = append(volumes, secretVolume("ads-tls", ReplicasName+"-ads-tls", ptr(int32(0o400))))
		mounts = append(mounts, corev1.VolumeMount{Name: "ads-tls", MountPath: replicaCertDir, ReadOnly: true})
	}
	optionalSecret := func(env, secret, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key, Optional: ptr(true),
		}}}
	}
	dep := w.deployment(ReplicasName, o.Replicas, corev1.PodSpec{
		// Replicas on different nodes, so one node going away takes one
		// replica.
		Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{
					LabelSelector: &metav1.LabelSelector{MatchLabels: w.selector},
					TopologyKey:   "kubernetes.io/hostname",
				},
			}},
		}},
		Containers: []corev1.Container{{
			Name:  "xds",
			Image: o.Image,
			Args:  args,
			Env: []corev1.EnvVar{
				podNameEnv,
				optionalSecret("ROUTEDECK_MASTER_KEY", MasterKeySecret, "master-key"),
				optionalSecret("CONSUL_HTTP_TOKEN", ConsulTokenSecret, "token"),
			},
			Ports: []corev1.ContainerPort{
				{Name: "ads", ContainerPort: ReplicaADSPort, Protocol: corev1.ProtocolTCP},
				{Name: "status", ContainerPort: ReplicaStatusPort, Protocol: corev1.ProtocolTCP},
			},
			// Ready once every followed gateway is served, so a new
			// replica gets no proxy before it has their configuration.
			ReadinessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/api/v1/ready", Port: intstr.FromString("status"),
				}},
				PeriodSeconds: 5, FailureThreshold: 2,
			},
			LivenessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/api/v1/health", Port: intstr.FromString("status"),
				}},
				PeriodSeconds: 10, FailureThreshold: 3,
			},
			VolumeMounts: mounts,
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptr(true),
				AllowPrivilegeEscalation: ptr(false),
				ReadOnlyRootFilesystem:   ptr(true),
			},
		}},
		Volumes:                       volumes,
		TerminationGracePeriodSeconds: ptr(int64(10)),
	})
	// One pod at a time, and a new one ready before an old one goes:
	// proxies move off a stopping replica to a serving one.
	dep.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr(intstr.FromInt32(0)), MaxSurge: ptr(intstr.FromInt32(1))}}
	objs = append(objs, dep)
	svc := w.service(ReplicasName, corev1.ServiceTypeClusterIP, []corev1.ServicePort{{Name: "ads", Port: ReplicaADSPort,
		TargetPort: intstr.FromString("ads"), Protocol: corev1.ProtocolTCP, AppProtocol: ptr("grpc")}})
	objs = append(objs, svc)
	objs = append(objs, &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: w.meta(ReplicasName),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: w.selector},
		},
	})
	return objs, nil
}
