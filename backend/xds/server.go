// Package xds serves gateway configuration to Envoy (and proxyless gRPC
// clients) over the Aggregated Discovery Service, state-of-the-world and
// delta, and tracks what every proxy has accepted or rejected.
//
// Snapshots are keyed by the proxy's node.cluster: the gateway name for
// production proxies, "sandbox/<gateway>" for the sandbox's data plane; any
// string works. A snapshot is validated as a whole before it replaces the
// previous one, so a bad publish never reaches a proxy.
package xds

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Logger receives one line per proxy event; slog.Default() if nil.
	Logger *slog.Logger
	// KeepDisconnected is how long a disconnected proxy stays in Proxies
	// (default one hour), so the console can show that it went away.
	KeepDisconnected time.Duration
	// TLS, when set, is the server side of mutual TLS for Serve: proxies
	// without a certificate it accepts never complete the handshake.
	TLS *tls.Config
	// Authorize, when set, decides per stream whether the peer may
	// receive its node.cluster's configuration; a refused stream ends
	// with PermissionDenied and receives nothing. nil lets every stream
	// in (plaintext development).
	Authorize Authorizer
	// VHDS delivers the virtual hosts of route configurations to delta
	// ADS streams as resources of their own, so a one-rule edit sends one
	// virtual host instead of the whole route configuration (see
	// vhds.go). State-of-the-world streams are served as without it.
	VHDS bool
}

// Server is the ADS server. Create it with New.
type Server struct {
	log     *slog.Logger
	cache   *snapshotCache
	tracker *tracker
	metrics *Metrics
	xds     serverv3.Server
	ads     *adsServer
	tls     *tls.Config
	als     *accessLogService
	warm    warmCache
	vhds    bool

	// setMu serialises snapshot changes so each is derived from the one
	// before it (versions of unchanged types are kept, endpoints updated
	// alone keep the rest).
	setMu sync.Mutex
}

// New returns a Server with no snapshots; proxies that connect before their
// gateway is set wait for it.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	keep := opts.KeepDisconnected
	if keep <= 0 {
		keep = time.Hour
	}
	m := newMetrics()
	s := &Server{
		log:     log,
		cache:   newSnapshotCache(log),
		metrics: m,
		tls:     opts.TLS,
		vhds:    opts.VHDS,
	}
	s.tracker = newTracker(log, m, keep)
	s.als = newAccessLogService(s, opts.Authorize)
	var callbacks serverv3.Callbacks = s.tracker
	if opts.Authorize != nil {
		callbacks = newAccess(s.tracker, opts.Authorize)
	}
	callbacks = streamEnd{Callbacks: callbacks, cache: s.cache}
	s.xds = serverv3.NewServer(context.Background(), s.cache, callbacks)
	s.ads = &adsServer{AggregatedDiscoveryServiceServer: s.xds, cache: s.cache, callbacks: callbacks}
	return s
}

// Metrics returns the server's Prometheus collectors.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Register adds ADS and the per-type discovery services to g.
func (s *Server) Register(g *grpc.Server) {
	discovery.RegisterAggregatedDiscoveryServiceServer(g, s.ads)
	listenerservice.RegisterListenerDiscoveryServiceServer(g, s.xds)
	routeservice.RegisterRouteDiscoveryServiceServer(g, s.xds)
	clusterservice.RegisterClusterDiscoveryServiceServer(g, s.xds)
	endpointservice.RegisterEndpointDiscoveryServiceServer(g, s.xds)
	secretservice.RegisterSecretDiscoveryServiceServer(g, s.xds)
	s.registerAccessLog(g)
}

// GRPCServerOptions are the options Serve uses; callers that build their own
// grpc.Server around Register should pass them too. Envoy pings idle ADS
// connections, which the default enforcement policy would punish, and the
// codec keeps a publish to many proxies from copying the configuration once
// per proxy (and tells the access log service the size of what it
// receives).
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		grpc.MaxConcurrentStreams(1 << 20),
		// A proxy repeats every name it subscribes to in every request:
		// with a thousand load assignments an ACK is some 20 KB, past a
		// quarter of gRPC's default 64 KB window, so each would cost a
		// WINDOW_UPDATE of the stream and of the connection, and the
		// default dynamic window adds a ping per read to size itself. A
		// fixed 1 MiB window does neither, and holds what a proxy can
		// have buffered below the 16 MiB the dynamic one may grow to.
		grpc.InitialWindowSize(adsWindow),
		grpc.InitialConnWindowSize(adsWindow),
		// Shares one encoding of a response among all proxies it goes to.
		grpc.ForceServerCodecV2(newCodec()),
	}
}

// adsWindow is the HTTP/2 window the server gives each stream and
// connection.
const adsWindow = 1 << 20

// Serve serves ADS on lis until ctx is done, then stops gracefully (giving
// streams a few seconds) and returns nil. With Options.TLS it serves over
// TLS, else in plaintext.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	opts := GRPCServerOptions()
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	g := grpc.NewServer(opts...)
	s.Register(g)
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(lis) }()
	s.log.Info("xds: serving ADS", "addr", lis.Addr().String(), "tls", s.tls != nil)
	select {
	case err := <-errc:
		return fmt.Errorf("serve ADS on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	// ADS streams never end on their own, so a graceful stop only waits
	// for in-flight responses; a timer bounds it.
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		g.Stop()
	}
	return nil
}

// Gateways returns the keys (node.cluster values) that have a snapshot.
func (s *Server) Gateways() []string { return s.cache.keys() }

// Version returns the version label of gateway's current snapshot, "" if none.
func (s *Server) Version(gateway string) string {
	if snap := s.cache.get(gateway); snap != nil {
		return snap.version
	}
	return ""
}

// TypeVersion returns the version key's snapshot serves typeURL at, ""
// if none: after an endpoint-only update EDS moves on while the snapshot's
// version stays.
func (s *Server) TypeVersion(key, typeURL string) string {
	snap := s.cache.get(key)
	if snap == nil || snap.types[typeURL] == nil {
		return ""
	}
	return snap.types[typeURL].version
}

// InSync reports whether a proxy that acknowledged acked (type URL ->
// version, as ProxyStatus.Acked) runs key's current snapshot. Versions are
// per type: a type whose content did not change keeps the version the
// proxy already has. Listeners and clusters count always (Envoy
// subscribes to them by wildcard); routes, endpoints and secrets only when
// the snapshot has some, since Envoy asks for those by name and an unused
// type is never acknowledged. No snapshot: never in sync.
func (s *Server) InSync(key string, acked map[string]string) bool {
	snap := s.cache.get(key)
	if snap == nil {
		return false
	}
	for typeURL, t := range snap.types {
		wildcard := typeURL == resource.ListenerType || typeURL == resource.ClusterType
		if (wildcard || len(t.names) > 0) && acked[typeURL] != t.version && !snap.vhdsInSync(typeURL, acked) {
			return false
		}
	}
	return true
}

// vhdsInSync reports whether a proxy served by VHDS holds the current
// typeURL: the route configurations of the delta form, with their virtual
// hosts.
func (s *snapshot) vhdsInSync(typeURL string, acked map[string]string) bool {
	if s.vhds == nil || typeURL != resource.RouteType {
		return false
	}
	hosts := s.vhds.types[resource.VirtualHostType]
	return acked[typeURL] == s.vhds.types[typeURL].version &&
		(len(hosts.names) == 0 || acked[resource.VirtualHostType] == hosts.version)
}

// Proxies returns the proxies of gateway (node.cluster), connected or
// recently disconnected, sorted by node id. Never nil.
func (s *Server) Proxies(gateway string) []ProxyStatus { return s.tracker.list(gateway) }

// WatchProxies returns a channel of its own that receives a value after
// proxies connected, disconnected, acknowledged or rejected something
// since it was last received, until ctx is done: a cue to look at Proxies
// again, bursts coalesced. Any number of consumers may watch (a replica
// reporting its proxies, a caller waiting for one proxy's ACK).
func (s *Server) WatchProxies(ctx context.Context) <-chan struct{} { return s.tracker.watch(ctx) }

// Acked counts the connected proxies of gateway that acknowledged version
// of typeURL, a cheap way to wait for a push to land.
func (s *Server) Acked(gateway, typeURL, version string) int {
	return s.tracker.countAcked(gateway, typeURL, version)
}

// AckedVersions counts the connected proxies of gateway by the version of
// typeURL they acknowledged ("" for none yet): where a fleet stands while
// versions follow each other faster than every proxy takes them.
func (s *Server) AckedVersions(gateway, typeURL string) map[string]int {
	return s.tracker.ackedVersions(gateway, typeURL)
}

// ByType returns res as the per-type map SetResources takes.
func ByType(res *translate.Resources) map[string][]types.Resource {
	m := map[string][]types.Resource{
		resource.ListenerType: nil, resource.RouteType: nil, resource.ClusterType: nil,
		resource.EndpointType: nil, resource.SecretType: nil,
	}
	for _, r := range res.Listeners {
		m[resource.ListenerType] = append(m[resource.ListenerType], r)
	}
	for _, r := range res.Routes {
		m[resource.RouteType] = append(m[resource.RouteType], r)
	}
	for _, r := range res.Clusters {
		m[resource.ClusterType] = append(m[resource.ClusterType], r)
	}
	for _, r := range res.Endpoints {
		m[resource.EndpointType] = append(m[resource.EndpointType], r)
	}
	for _, r := range res.Secrets {
		m[resource.SecretType] = append(m[resource.SecretType], r)
	}
	return m
}

// SetGateway validates res and makes it the configuration of every proxy
// whose node.cluster is gateway. version labels the snapshot (the published
// version number, say); "" means a hash of the content. On any problem the
// previous snapshot stays in place and an EINVALID *model.Error lists every
// problem.
func (s *Server) SetGateway(ctx context.Context, gateway string, res *translate.Resources, version string) error {
	if res == nil {
		return model.Errorf(model.EINVALID, "set gateway %q: no resources", gateway)
	}
	return s.SetResources(ctx, gateway, ByType(res), version)
}

// DeleteGateway drops key's snapshot, e.g. the sandbox of a deleted
// gateway. Connected proxies keep their configuration (nothing is pushed);
// new ones wait until a snapshot is set again.
func (s *Server) DeleteGateway(key string) {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.warm.take(key)
	s.cache.clear(key)
	s.log.Info("xds: snapshot deleted", "key", key)
}

// supportedTypes are the resource types a snapshot may hold.
var supportedTypes = map[string]bool{
	resource.ListenerType: true, resource.RouteType: true, resource.ClusterType: true,
	resource.EndpointType: true, resource.SecretType: true,
}

// SetResources is SetGateway over a map from type URL to resources. Types
// absent from the map are served empty.
func (s *Server) SetResources(_ context.Context, key string, byType map[string][]types.Resource, version string) error {
	start := time.Now()
	s.setMu.Lock()
	defer s.setMu.Unlock()

	prev := s.cache.get(key)
	warm := s.warm.take(key)
	var p model.Problems
	for typeURL, items := range byType {
		if !supportedTypes[typeURL] {
			p.Add(typeURL, "unsupported resource type")
			continue
		}
		var old *typeResources
		if prev != nil {
			old = prev.types[typeURL]
		}
		validateAll(&p, typeURL, items, old, warm[typeURL])
	}
	checkConsistency(&p, byType)
	if err := p.Err(); err != nil {
		return fmt.Errorf("set snapshot %q: %w", key, err)
	}
	if version == "" {
		version = contentVersion(byType)
	}

	snap := &snapshot{version: version, types: make(map[string]*typeResources, len(typeOrder))}
	for _, typeURL := range typeOrder {
		var old *typeResources
		if prev != nil {
			old = prev.types[typeURL]
		}
		t, err := newTypeResources(typeURL, version, byType[typeURL], old, warm[typeURL])
		if err != nil {
			for _, built := range snap.types {
				if prev == nil || prev.types[built.typeURL] != built {
					built.release()
				}
			}
			return fmt.Errorf("set snapshot %q: %w", key, err)
		}
		snap.types[typeURL] = t
	}
	if s.vhds {
		var prevForms *vhdsForms
		if prev != nil {
			prevForms = prev.vhds
		}
		forms, err := buildVHDS(version, byType, prevForms)
		if err != nil {
			for _, built := range snap.types {
				if prev == nil || prev.types[built.typeURL] != built {
					built.release()
				}
			}
			return fmt.Errorf("set snapshot %q: %w", key, err)
		}
		snap.vhds = forms
	}
	s.cache.set(key, snap)
	d := time.Since(start)
	s.metrics.snapshotSet.Observe(d.Seconds())
	s.log.Info("xds: snapshot set", "key", key, "version", version, "duration", d)
	return nil
}

// SetEndpoints replaces only the endpoints of key's snapshot, as discovery
// reports them. Listeners, routes and clusters keep their versions, so
// proxies receive EDS alone. The endpoints must still match the snapshot's
// EDS clusters exactly.
func (s *Server) SetEndpoints(_ context.Context, key string, endpoints []*endpointv3.ClusterLoadAssignment) error {
	start := time.Now()
	s.setMu.Lock()
	defer s.setMu.Unlock()

	prev := s.cache.get(key)
	if prev == nil {
		return model.Errorf(model.ENOTFOUND, "set endpoints %q: no snapshot to update", key)
	}
	items := make([]types.Resource, len(endpoints))
	for i, e := range endpoints {
		items[i] = e
	}
	byType := map[string][]types.Resource{resource.EndpointType: items}
	for typeURL, t := range prev.types {
		if typeURL == resource.EndpointType {
			continue
		}
		for _, name := range t.names {
			byType[typeURL] = append(byType[typeURL], t.raw[name])
		}
	}
	var p model.Problems
	validateAll(&p, resource.EndpointType, items, prev.types[resource.EndpointType], nil)
	checkConsistency(&p, byType)
	if err := p.Err(); err != nil {
		return fmt.Errorf("set endpoints %q: %w", key, err)
	}
	old := prev.types[resource.EndpointType]
	t, err := newTypeResourcesDigest(resource.EndpointType, prev.version+"/eds-", items, old)
	if err != nil {
		return fmt.Errorf("set endpoints %q: %w", key, err)
	}
	if t == old {
		return nil
	}
	snap := &snapshot{version: prev.version, types: make(map[string]*typeResources, len(prev.types)), vhds: prev.vhds}
	for typeURL, tr := range prev.types {
		snap.types[typeURL] = tr
	}
	snap.types[resource.EndpointType] = t
	s.cache.set(key, snap)
	s.metrics.snapshotSet.Observe(time.Since(start).Seconds())
	return nil
}

// validator is what protoc-gen-validate generates on every Envoy message;
// ValidateAll reports every violated constraint, not just the first.
type validator interface{ ValidateAll() error }

// validateAll validates items, except those prev (the type's resources
// being served, or nil) or warm (made by Warm, or nil) already holds:
// resources are immutable once handed over, and what both hold passed
// validation.
func validateAll(p *model.Problems, typeURL string, items []types.Resource, prev, warm *typeResources) {
	kind := typeKind(typeURL)
	for i, item := range items {
		name := cache.GetResourceName(item)
		if name != "" && item != nil && prev != nil && prev.raw[name] == item {
			continue
		}
		path := fmt.Sprintf("%s[%q]", kind, name)
		if name == "" {
			path = model.Index(kind, i)
			p.Add(path, "resource has no name")
		}
		if item == nil {
			p.Add(path, "nil resource")
			continue
		}
		if holder(name, item, prev, warm) != nil {
			continue
		}
		if rc, ok := item.(*routev3.RouteConfiguration); ok && routesValid(rc, prev, warm) {
			continue
		}
		v, ok := item.(validator)
		if !ok {
			p.Add(path, "resource of type %T cannot be validated", item)
			continue
		}
		if err := v.ValidateAll(); err != nil {
			var multi interface{ AllErrors() []error }
			if errors.As(err, &multi) {
				for _, e := range multi.AllErrors() {
					p.Add(path, "%v", e)
				}
			} else {
				p.Add(path, "%v", err)
			}
		}
	}
}

func typeKind(typeURL string) string {
	switch typeURL {
	case resource.ListenerType:
		return "listeners"
	case resource.RouteType:
		return "routes"
	case resource.ClusterType:
		return "clusters"
	case resource.EndpointType:
		return "endpoints"
	case resource.SecretType:
		return "secrets"
	}
	return typeURL
}

// checkConsistency is go-control-plane's Snapshot.Consistent() extended to
// API listeners (the listeners of proxyless gRPC clients, whose route
// configuration Consistent does not see) and to SDS secrets, and reporting
// every problem: each route configuration, endpoint assignment and secret
// must be referenced, and each reference must resolve.
func checkConsistency(p *model.Problems, byType map[string][]types.Resource) {
	refs := map[string]map[string]bool{
		resource.RouteType:    {},
		resource.EndpointType: {},
		resource.SecretType:   {},
	}
	sdsReferences(byType, refs[resource.SecretType])
	listeners := map[string]types.ResourceWithTTL{}
	for _, r := range byType[resource.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			continue
		}
		listeners[l.GetName()] = types.ResourceWithTTL{Resource: l}
		if name := apiListenerRoute(l); name != "" {
			refs[resource.RouteType][name] = true
		}
	}
	clusters := map[string]types.ResourceWithTTL{}
	for _, r := range byType[resource.ClusterType] {
		if c, ok := r.(*clusterv3.Cluster); ok {
			clusters[c.GetName()] = types.ResourceWithTTL{Resource: c}
		}
	}
	for typeURL, names := range cache.GetResourceReferences(listeners) {
		for n := range names {
			refs[typeURL][n] = true
		}
	}
	for typeURL, names := range cache.GetResourceReferences(clusters) {
		for n := range names {
			if refs[typeURL] != nil {
				refs[typeURL][n] = true
			}
		}
	}
	for _, typeURL := range []string{resource.RouteType, resource.EndpointType, resource.SecretType} {
		kind := typeKind(typeURL)
		have := map[string]bool{}
		for _, r := range byType[typeURL] {
			name := cache.GetResourceName(r)
			have[name] = true
			if !refs[typeURL][name] {
				p.Add(fmt.Sprintf("%s[%q]", kind, name), "not referenced by any %s", referrer(typeURL))
			}
		}
		var missing []string
		for name := range refs[typeURL] {
			if !have[name] {
				missing = append(missing, name)
			}
		}
		slices.Sort(missing)
		for _, name := range missing {
			p.Add(fmt.Sprintf("%s[%q]", kind, name), "referenced by a %s but missing", referrer(typeURL))
		}
	}
}

func referrer(typeURL string) string {
	switch typeURL {
	case resource.RouteType:
		return "listener"
	case resource.SecretType:
		return "listener or cluster"
	}
	return "cluster"
}

// apiListenerRoute returns the RDS route configuration name of an API
// listener, "" if l is not one or embeds its routes.
func apiListenerRoute(l *listenerv3.Listener) string {
	al := l.GetApiListener().GetApiListener()
	if al == nil {
		return ""
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := al.UnmarshalTo(hcm); err != nil {
		return ""
	}
	return hcm.GetRds().GetRouteConfigName()
}

// contentVersion is a short hash of every resource, used when the caller
// gives no version label.
func contentVersion(byType map[string][]types.Resource) string {
	h := sha256.New()
	keys := make([]string, 0, len(byType))
	for k := range byType {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		items := slices.Clone(byType[k])
		slices.SortFunc(items, func(a, b types.Resource) int {
			return strings.Compare(cache.GetResourceName(a), cache.GetResourceName(b))
		})
		for _, item := range items {
			b, err := cache.MarshalResource(item)
			if err != nil {
				continue // validation already reported it
			}
			fmt.Fprintf(h, "%s|%s|%d|", k, cache.GetResourceName(item), len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}
