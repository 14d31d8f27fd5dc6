package kubernetes

import (
	"fmt"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ClientFunc returns the client for a kubeconfig context; "" means the
// current context.
type ClientFunc func(kubeContext string) (kubernetes.Interface, error)

// FromKubeconfig loads clients the way kubectl does: from path if set,
// else from $KUBECONFIG or ~/.kube/config, and in a pod from its service
// account. Clients are built once per context and shared.
func FromKubeconfig(path string) ClientFunc {
	var mu sync.Mutex
	clients := map[string]kubernetes.Interface{}
	return func(kubeContext string) (kubernetes.Interface, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := clients[kubeContext]; ok {
			return c, nil
		}
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if path != "" {
			rules.ExplicitPath = path
		}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
			&clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig: %w", err)
		}
		c, err := NewClient(cfg)
		if err != nil {
			return nil, err
		}
		clients[kubeContext] = c
		return c, nil
	}
}

// NewClient builds a clientset from cfg, identifying as routedeck.
func NewClient(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "routedeck"
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	return c, nil
}
