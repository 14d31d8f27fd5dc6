// Package targets keeps the connection settings of the clusters routedeck
// discovers endpoints in and pushes configuration to: a Kubernetes cluster
// (kubeconfig and context) and a Consul agent (address, token, datacenter).
//
// Defaults come from the environment the way the ecosystem's own tools read
// it: KUBECONFIG (or ~/.kube/config, or the pod's service account) like
// kubectl, CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN like the consul CLI. What
// an operator saves in the settings overrides the environment.
package targets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	consulapi "github.com/hashicorp/consul/api"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/routedeck/routedeck/backend/model"
)

// SettingKey is the store setting the targets are saved under.
const SettingKey = "targets"

// Settings are what an operator saves. Empty fields fall back to the
// environment.
type Settings struct {
	Kubernetes KubernetesSettings `json:"kubernetes"`
	Consul     ConsulSettings     `json:"consul"`
}

// KubernetesSettings choose the cluster.
type KubernetesSettings struct {
	// Kubeconfig is a kubeconfig path (or a list, like KUBECONFIG).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context; empty means its current context.
	Context string `json:"context,omitempty"`
	// Namespace is where gateways are deployed when a request names none.
	Namespace string `json:"namespace,omitempty"`
}

// ConsulSettings choose the agent.
type ConsulSettings struct {
	Address    string `json:"address,omitempty"`
	Token      string `json:"token,omitempty"`
	Datacenter string `json:"datacenter,omitempty"`
	// KVPublish writes each published gateway's workspace to Consul's KV.
	KVPublish bool `json:"kvPublish"`
}

// Update is the body of PUT /targets. Token is write-only: nil keeps the
// saved one, "" removes it.
type Update struct {
	Kubernetes KubernetesSettings `json:"kubernetes"`
	Consul     struct {
		Address    string  `json:"address,omitempty"`
		Token      *string `json:"token,omitempty"`
		Datacenter string  `json:"datacenter,omitempty"`
		KVPublish  bool    `json:"kvPublish"`
	} `json:"consul"`
}

// Status says whether a target answers.
type Status struct {
	Reachable bool   `json:"reachable"`
	Version   string `json:"version,omitempty"`
	Error     string `json:"error,omitempty"`
}

// KubernetesView is the Kubernetes target as GET /targets shows it.
type KubernetesView struct {
	KubernetesSettings
	// From says where the kubeconfig came from: settings, env (KUBECONFIG),
	// default (~/.kube/config) or in-cluster.
	From string `json:"from"`
	// Contexts are the contexts the kubeconfig lists, sorted.
	Contexts []string `json:"contexts"`
	// CurrentContext is the context in use: the chosen one or the
	// kubeconfig's current-context.
	CurrentContext string `json:"currentContext,omitempty"`
	InCluster      bool   `json:"inCluster"`
	Status         Status `json:"status"`
}

// ConsulView is the Consul target as GET /targets shows it; never the token.
type ConsulView struct {
	Address    string `json:"address"`
	From       string `json:"from"` // settings, env (CONSUL_HTTP_ADDR) or default
	TokenSet   bool   `json:"tokenSet"`
	Datacenter string `json:"datacenter,omitempty"`
	KVPublish  bool   `json:"kvPublish"`
	Status     Status `json:"status"`
}

// View is the reply of GET /targets.
type View struct {
	Kubernetes KubernetesView `json:"kubernetes"`
	Consul     ConsulView     `json:"consul"`
}

// SettingsStore is the part of the store targets are saved in.
type SettingsStore interface {
	GetSetting(ctx context.Context, key string, v any) error
	PutSetting(ctx context.Context, actor, key string, v any) error
}

// Service reads and writes the targets and builds clients for them. It is
// safe for concurrent use.
type Service struct {
	store  SettingsStore
	getenv func(string) string

	mu         sync.Mutex
	generation uint64
}

// New returns a service over store; getenv (os.Getenv when nil) supplies
// the environment defaults.
func New(store SettingsStore, getenv func(string) string) *Service {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Service{store: store, getenv: getenv}
}

// Settings returns what is saved (the zero Settings when nothing is).
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	var st Settings
	err := s.store.GetSetting(ctx, SettingKey, &st)
	if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
		return Settings{}, err
	}
	return st, nil
}

// Generation counts saves, so users of the clients know to rebuild them.
func (s *Service) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.generation
}

// Put saves u, keeping the saved token when u leaves it out.
func (s *Service) Put(ctx context.Context, actor string, u Update) error {
	var p model.Problems
	if u.Kubernetes.Kubeconfig != "" {
		for _, path := range filepath.SplitList(u.Kubernetes.Kubeconfig) {
			if _, err := os.Stat(path); err != nil {
				p.Add("kubernetes.kubeconfig", "cannot read %s: %v", path, err)
			}
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	if c := u.Kubernetes.Context; c != "" {
		loader, from := s.kubeLoader(u.Kubernetes)
		raw, err := loader.RawConfig()
		if err != nil {
			p.Add("kubernetes.kubeconfig", "read kubeconfig (%s): %v", from, err)
		} else if _, ok := raw.Contexts[c]; !ok {
			p.Add("kubernetes.context", "%q is not a context of the kubeconfig (%s); it has %v", c, from, contextNames(raw))
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	cur, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	next := Settings{Kubernetes: u.Kubernetes, Consul: ConsulSettings{
		Address: u.Consul.Address, Token: cur.Consul.Token, Datacenter: u.Consul.Datacenter, KVPublish: u.Consul.KVPublish,
	}}
	if u.Consul.Token != nil {
		next.Consul.Token = *u.Consul.Token
	}
	if err := s.store.PutSetting(ctx, actor, SettingKey, next); err != nil {
		return err
	}
	s.mu.Lock()
	s.generation++
	s.mu.Unlock()
	return nil
}

// kubeLoader returns the client config loader for st and where its
// kubeconfig comes from.
func (s *Service) kubeLoader(st KubernetesSettings) (clientcmd.ClientConfig, string) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	from := "default"
	switch {
	case st.Kubeconfig != "":
		rules.Precedence = filepath.SplitList(st.Kubeconfig)
		from = "settings"
	case s.getenv(clientcmd.RecommendedConfigPathEnvVar) != "":
		rules.Precedence = filepath.SplitList(s.getenv(clientcmd.RecommendedConfigPathEnvVar))
		from = "env"
	default:
		rules.Precedence = []string{clientcmd.RecommendedHomeFile}
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: st.Context}), from
}

// inCluster reports whether this process runs in a pod with a service
// account, where kubectl would use it.
func (s *Service) inCluster() bool {
	if s.getenv("KUBERNETES_SERVICE_HOST") == "" || s.getenv("KUBERNETES_SERVICE_PORT") == "" {
		return false
	}
	_, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/token")
	return err == nil
}

// RESTConfig returns the client configuration of kubeContext ("" for the
// chosen context): from the kubeconfig, else in-cluster.
func (s *Service) RESTConfig(ctx context.Context, kubeContext string) (*rest.Config, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if kubeContext != "" {
		st.Kubernetes.Context = kubeContext
	}
	loader, from := s.kubeLoader(st.Kubernetes)
	raw, err := loader.RawConfig()
	if err == nil && len(raw.Contexts) == 0 && s.inCluster() {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster kubernetes config: %w", err)
		}
		return cfg, nil
	}
	cfg, err := loader.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, model.Errorf(EUnavailable, "kubernetes target: %v", errNoKubeconfig)
	}
	if err != nil {
		return nil, Unavailable("kubernetes target", fmt.Errorf("kubeconfig (%s): %w", from, err))
	}
	cfg.UserAgent = "routedeck"
	return cfg, nil
}

// DefaultNamespace is the namespace gateways go to when none is named: the
// setting, else the context's namespace, else "default".
func (s *Service) DefaultNamespace(ctx context.Context) string {
	st, err := s.Settings(ctx)
	if err == nil && st.Kubernetes.Namespace != "" {
		return st.Kubernetes.Namespace
	}
	if err == nil {
		loader, _ := s.kubeLoader(st.Kubernetes)
		if ns, _, err := loader.Namespace(); err == nil && ns != "" {
			return ns
		}
	}
	return "default"
}

// ConsulConfig returns the agent's client configuration: the settings over
// CONSUL_HTTP_ADDR / CONSUL_HTTP_TOKEN over Consul's default address.
func (s *Service) ConsulConfig(ctx context.Context) (*consulapi.Config, string, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return nil, "", err
	}
	cfg := &consulapi.Config{Address: "127.0.0.1:8500", Scheme: "http"}
	from := "default"
	if a := s.getenv(consulapi.HTTPAddrEnvName); a != "" {
		cfg.Address, from = a, "env"
	}
	cfg.Token = s.getenv(consulapi.HTTPTokenEnvName)
	if st.Consul.Address != "" {
		cfg.Address, from = st.Consul.Address, "settings"
	}
	if st.Consul.Token != "" {
		cfg.Token = st.Consul.Token
	}
	cfg.Datacenter = st.Consul.Datacenter
	return cfg, from, nil
}

// Consul returns a client for the agent.
func (s *Service) Consul(ctx context.Context) (*consulapi.Client, error) {
	cfg, _, err := s.ConsulConfig(ctx)
	if err != nil {
		return nil, err
	}
	c, err := consulapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("consul client for %s: %w", cfg.Address, err)
	}
	return c, nil
}

// View reports the settings (without the token) and probes both targets.
func (s *Service) View(ctx context.Context) (View, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return View{}, err
	}
	var v View
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		v.Kubernetes = s.kubeView(ctx, st.Kubernetes)
	}()
	go func() {
		defer wg.Done()
		v.Consul = s.consulView(ctx, st.Consul)
	}()
	wg.Wait()
	return v, nil
}

func (s *Service) kubeView(ctx context.Context, st KubernetesSettings) KubernetesView {
	v := KubernetesView{KubernetesSettings: st, Contexts: []string{}}
	loader, from := s.kubeLoader(st)
	v.From = from
	raw, err := loader.RawConfig()
	if err == nil {
		v.Contexts = contextNames(raw)
		v.CurrentContext = raw.CurrentContext
		if st.Context != "" {
			v.CurrentContext = st.Context
		}
	}
	if len(v.Contexts) == 0 && s.inCluster() {
		v.From, v.InCluster = "in-cluster", true
	}
	if v.Namespace == "" {
		v.Namespace = s.DefaultNamespace(ctx)
	}
	v.Status = s.probeKube(ctx)
	return v
}

func contextNames(raw clientcmdapi.Config) []string {
	out := make([]string, 0, len(raw.Contexts))
	for name := range raw.Contexts {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (s *Service) consulView(ctx context.Context, st ConsulSettings) ConsulView {
	v := ConsulView{Datacenter: st.Datacenter, KVPublish: st.KVPublish}
	cfg, from, err := s.ConsulConfig(ctx)
	if err != nil {
		v.Status.Error = err.Error()
		return v
	}
	v.Address, v.From, v.TokenSet = cfg.Address, from, cfg.Token != ""
	v.Status = s.probeConsul(ctx)
	return v
}

// errNoKubeconfig reads better than client-go's message about an empty
// configuration.
var errNoKubeconfig = errors.New("no kubeconfig: set KUBECONFIG or choose a file in the settings")

// EUnavailable is the error code of a target that is not configured or
// cannot be reached (the API answers 502): unlike an internal error, the
// operator needs its detail to fix the settings or the network.
const EUnavailable = "target_unavailable"

// Unavailable marks err, from talking to a target, as EUnavailable unless
// it already carries a code of its own (an invalid object stays invalid).
func Unavailable(what string, err error) error {
	if err == nil {
		return nil
	}
	if model.ErrorCode(err) != model.EINTERNAL {
		return err
	}
	return model.Errorf(EUnavailable, "%s: %v", what, err)
}
