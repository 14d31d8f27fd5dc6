// Package kubernetes discovers upstream endpoints from the EndpointSlices
// of Kubernetes Services, watched with client-go informers.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/routedeck/routedeck/backend/discovery"
	"github.com/routedeck/routedeck/backend/model"
)

// ClientFunc returns the client for a kubeconfig context; "" means the
// chosen one. The service wiring passes the targets' settings loader.
type ClientFunc func(kubeContext string) (kubernetes.Interface, error)

// Source watches Kubernetes Services. It implements discovery.Source.
type Source struct {
	clients ClientFunc
	log     *slog.Logger

	// ProbeInterval is how often a watch checks that the API server still
	// answers; zero means 2s. Informers alone do not tell: they retry a
	// refused connection quietly and forever.
	ProbeInterval time.Duration
	// RetryMin and RetryMax bound the interval at which an unreachable API
	// server is probed. Zero means 200ms and 5s.
	RetryMin, RetryMax time.Duration
}

// New returns a source that finds the cluster of an upstream's kubeconfig
// context through clients.
func New(clients ClientFunc, logger *slog.Logger) *Source {
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{clients: clients, log: logger}
}

// Watch implements discovery.Source: it reports the ready endpoints of the
// Service up.Kubernetes names, on the port its EndpointSlices give for the
// service port up.Kubernetes.Port (the target port, resolved by the
// EndpointSlice controller).
//
// Each watch lists and watches only its own Service and EndpointSlices
// (field and label selectors), so memory follows the number of upstreams,
// not the size of the namespace.
func (s *Source) Watch(ctx context.Context, up model.Upstream, report func(discovery.Update)) error {
	spec := up.Kubernetes
	if spec == nil || spec.Namespace == "" || spec.Service == "" || spec.Port <= 0 {
		return fmt.Errorf("upstream %q: kubernetes source needs namespace, service and port", up.Name)
	}
	client, err := s.clients(spec.Context)
	if err != nil {
		return fmt.Errorf("upstream %q: kubernetes client for context %q: %w", up.Name, spec.Context, err)
	}
	log := s.log.With("upstream", up.Name, "namespace", spec.Namespace, "service", spec.Service)
	// The pacing carries over sessions that never delivered anything (say,
	// the list is forbidden), so such a watch settles at RetryMax instead
	// of spinning.
	retry := discovery.Retry{Min: s.RetryMin, Max: s.RetryMax}
	fresh := false
	track := func(u discovery.Update) {
		fresh = fresh || !u.Stale
		report(u)
	}
	for {
		lost := s.session(ctx, client, spec, track, log)
		if lost == nil {
			return nil // ctx ended
		}
		log.Warn("kubernetes: lost the API server", "err", lost)
		if fresh {
			retry.Reset()
			fresh = false
		}
		// Informers retry on their own, but with a back-off of up to 30s
		// that cannot be tuned; probe ourselves and start a fresh session
		// as soon as the server answers, so a recovery shows within a
		// second or so.
		for {
			if !retry.Wait(ctx) {
				return nil
			}
			err := probe(ctx, client, spec)
			if err == nil {
				break
			}
			report(discovery.Update{Stale: true, Err: err})
		}
		log.Info("kubernetes: API server answers again")
	}
}

// session runs informers for the Service and its EndpointSlices and
// reports every change. It returns nil when ctx ends and the error when
// the API server is lost (after reporting the endpoints stale).
func (s *Source) session(ctx context.Context, client kubernetes.Interface, spec *model.KubernetesSource,
	report func(discovery.Update), log *slog.Logger) error {
	sctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer running.Wait()
	defer cancel()

	byName := func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", spec.Service).String()
	}
	byService := func(o *metav1.ListOptions) {
		o.LabelSelector = discoveryv1.LabelServiceName + "=" + spec.Service
	}
	services := coreinformers.NewFilteredServiceInformer(client, spec.Namespace, 0, cache.Indexers{}, byName)
	slices := discoveryinformers.NewFilteredEndpointSliceInformer(client, spec.Namespace, 0, cache.Indexers{}, byService)

	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	lost := make(chan error, 1)
	onWatchError := func(_ *cache.Reflector, err error) {
		// An expired resource version only makes the informer list again;
		// the server is fine.
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return
		}
		select {
		case lost <- fmt.Errorf("watch service %s/%s: %w", spec.Namespace, spec.Service, err):
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	for _, inf := range []cache.SharedIndexInformer{services, slices} {
		// Both only fail once the informer has started, which it has not.
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("add event handler: %w", err)
		}
		if err := inf.SetWatchErrorHandler(onWatchError); err != nil {
			return fmt.Errorf("set watch error handler: %w", err)
		}
		running.Add(1)
		go func() {
			defer running.Done()
			inf.RunWithContext(sctx)
		}()
	}
	// Informers retry a refused connection without telling anyone, so a
	// lost server is noticed by probing it.
	probeEvery := s.ProbeInterval
	if probeEvery <= 0 {
		probeEvery = 2 * time.Second
	}
	running.Add(1)
	go func() {
		defer running.Done()
		tick := time.NewTicker(probeEvery)
		defer tick.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
			if err := probe(sctx, client, spec); err != nil && sctx.Err() == nil {
				select {
				case lost <- err:
				default:
				}
				return
			}
		}
	}()
	// An empty list produces no events, so tell the loop when both caches
	// are filled.
	running.Add(1)
	go func() {
		defer running.Done()
		if cache.WaitForCacheSync(sctx.Done(), services.HasSynced, slices.HasSynced) {
			notify()
		}
	}()

	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			report(discovery.Update{Stale: true, Err: err})
			return err
		case <-changed:
		}
		if !services.HasSynced() || !slices.HasSynced() {
			continue
		}
		var svc *corev1.Service
		if obj, ok, _ := services.GetStore().GetByKey(spec.Namespace + "/" + spec.Service); ok {
			svc, _ = obj.(*corev1.Service)
		}
		var list []*discoveryv1.EndpointSlice
		for _, obj := range slices.GetStore().List() {
			if es, ok := obj.(*discoveryv1.EndpointSlice); ok {
				list = append(list, es)
			}
		}
		eps, err := Endpoints(svc, list, int32(spec.Port))
		if err != nil {
			log.Debug("kubernetes: no endpoints", "err", err)
		}
		report(discovery.Update{Endpoints: eps, Err: err})
	}
}

// probe checks that the API server answers for the Service. Any answer
// from the server counts, a 404 or 403 included: those are reported by the
// next session, with the server up.
func probe(ctx context.Context, client kubernetes.Interface, spec *model.KubernetesSource) error {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := client.CoreV1().Services(spec.Namespace).Get(pctx, spec.Service, metav1.GetOptions{})
	var status apierrors.APIStatus
	if err == nil || errors.As(err, &status) {
		return nil
	}
	return fmt.Errorf("reach API server for service %s/%s: %w", spec.Namespace, spec.Service, err)
}

// Endpoints computes the endpoints of svc's port numbered port from its
// EndpointSlices: ready endpoints only (a nil Ready counts as ready, as the
// API says it should), each address once. EndpointSlices name their ports
// after the Service port they serve and carry the resolved target port,
// so the Service is needed to know which slice port is meant. A nil svc
// (not found) or a port it does not have gives no endpoints and an error
// saying so.
func Endpoints(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, port int32) ([]discovery.Endpoint, error) {
	if svc == nil {
		return nil, errors.New("service not found")
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return nil, fmt.Errorf("service %s/%s has no port %d", svc.Namespace, svc.Name, port)
	}
	seen := map[string]bool{}
	eps := []discovery.Endpoint{}
	for _, es := range slices {
		target, ok := slicePort(es, sp)
		if !ok {
			continue
		}
		for _, e := range es.Endpoints {
			if len(e.Addresses) == 0 || (e.Conditions.Ready != nil && !*e.Conditions.Ready) {
				continue
			}
			// The addresses of one endpoint are fungible; the first will do.
			addr := e.Addresses[0]
			key := fmt.Sprintf("%s/%d", addr, target)
			if seen[key] {
				continue // the same pod can appear in two slices while they are rebalanced
			}
			seen[key] = true
			// Ready comes from the pod's readiness probe; the API leaves it
			// unset when it does not know (to be read as ready).
			health := discovery.HealthUnknown
			if e.Conditions.Ready != nil {
				health = discovery.HealthHealthy
			}
			eps = append(eps, discovery.Endpoint{
				Address: addr, Port: int(target), Weight: 1, Healthy: true, Health: health, Source: discovery.SourceKubernetes,
			})
		}
	}
	discovery.SortEndpoints(eps)
	return eps, nil
}

// slicePort finds the port in es that serves the service port sp.
func slicePort(es *discoveryv1.EndpointSlice, sp *corev1.ServicePort) (int32, bool) {
	for _, p := range es.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name != sp.Name {
			continue
		}
		if p.Protocol != nil && sp.Protocol != "" && *p.Protocol != sp.Protocol {
			continue
		}
		if p.Port != nil {
			return *p.Port, true
		}
		// A nil port means "all ports": the target port then is the one
		// the Service names, if it names a number.
		if tp := sp.TargetPort.IntValue(); tp > 0 {
			return int32(tp), true
		}
		return sp.Port, true
	}
	return 0, false
}

var _ discovery.Source = (*Source)(nil)
