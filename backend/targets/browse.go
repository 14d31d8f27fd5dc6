package targets

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-cleanhttp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// probeTimeout bounds each reachability check, so GET /targets answers
// promptly while a target is down.
const probeTimeout = 3 * time.Second

// Kubernetes returns a clientset for kubeContext ("" for the chosen one).
func (s *Service) Kubernetes(ctx context.Context, kubeContext string) (kubernetes.Interface, error) {
	cfg, err := s.RESTConfig(ctx, kubeContext)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "routedeck"
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	return c, nil
}

func (s *Service) probeKube(ctx context.Context) Status {
	cfg, err := s.RESTConfig(ctx, "")
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			err = errNoKubeconfig
		}
		return Status{Error: err.Error()}
	}
	cfg.Timeout = probeTimeout
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Status{Error: err.Error()}
	}
	v, err := c.Discovery().ServerVersion()
	if err != nil {
		return Status{Error: fmt.Sprintf("%s: %v", cfg.Host, err)}
	}
	return Status{Reachable: true, Version: v.GitVersion}
}

func (s *Service) probeConsul(ctx context.Context) Status {
	cfg, _, err := s.ConsulConfig(ctx)
	if err != nil {
		return Status{Error: err.Error()}
	}
	// Agent().Self takes no context: the probe's own HTTP client bounds it.
	hc, err := consulapi.NewHttpClient(cleanhttp.DefaultTransport(), cfg.TLSConfig)
	if err != nil {
		return Status{Error: err.Error()}
	}
	hc.Timeout = probeTimeout
	cfg.HttpClient = hc
	c, err := consulapi.NewClient(cfg)
	if err != nil {
		return Status{Error: err.Error()}
	}
	self, err := c.Agent().Self()
	if err != nil {
		return Status{Error: err.Error()}
	}
	version, _ := self["Config"]["Version"].(string)
	return Status{Reachable: true, Version: version}
}

// KubeService is one Service as the upstream picker lists it.
type KubeService struct {
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
	Ports     []KubePort `json:"ports"`
}

// KubePort is one port of a Service.
type KubePort struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
}

// KubeServices lists the cluster's namespaces and the Services of
// namespace (every namespace when empty), sorted.
func (s *Service) KubeServices(ctx context.Context, namespace string) ([]string, []KubeService, error) {
	c, err := s.Kubernetes(ctx, "")
	if err != nil {
		return nil, nil, Unavailable("kubernetes target", err)
	}
	nsList, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, Unavailable("kubernetes target", fmt.Errorf("list namespaces: %w", err))
	}
	namespaces := make([]string, 0, len(nsList.Items))
	for _, ns := range nsList.Items {
		namespaces = append(namespaces, ns.Name)
	}
	slices.Sort(namespaces)
	svcs, err := c.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, Unavailable("kubernetes target", fmt.Errorf("list services in %q: %w", namespace, err))
	}
	out := make([]KubeService, 0, len(svcs.Items))
	for _, svc := range svcs.Items {
		ks := KubeService{Namespace: svc.Namespace, Name: svc.Name, Ports: []KubePort{}}
		for _, p := range svc.Spec.Ports {
			ks.Ports = append(ks.Ports, KubePort{Name: p.Name, Port: p.Port, Protocol: string(p.Protocol)})
		}
		out = append(out, ks)
	}
	slices.SortFunc(out, func(a, b KubeService) int {
		if a.Namespace != b.Namespace {
			return strings.Compare(a.Namespace, b.Namespace)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return namespaces, out, nil
}

// ConsulService is one catalog service as the upstream picker lists it.
type ConsulService struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// ConsulServices lists the catalog's services with their tags, sorted.
func (s *Service) ConsulServices(ctx context.Context) ([]ConsulService, error) {
	c, err := s.Consul(ctx)
	if err != nil {
		return nil, Unavailable("consul target", err)
	}
	m, _, err := c.Catalog().Services((&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, Unavailable("consul target", fmt.Errorf("list consul services: %w", err))
	}
	out := make([]ConsulService, 0, len(m))
	for name, tags := range m {
		if tags == nil {
			tags = []string{}
		}
		slices.Sort(tags)
		out = append(out, ConsulService{Name: name, Tags: slices.Compact(tags)})
	}
	slices.SortFunc(out, func(a, b ConsulService) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
