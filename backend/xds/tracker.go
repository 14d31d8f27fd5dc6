package xds

import (
	"context"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// ProxyStatus is what the console shows about one proxy (an Envoy or a
// proxyless gRPC client) of a gateway. The JSON shape is part of the HTTP API
// (GET /gateways/{name}/proxies).
type ProxyStatus struct {
	// Node is the proxy's node.id.
	Node string `json:"node"`
	// Gateway is the proxy's node.cluster, the key of the snapshot it gets.
	Gateway   string `json:"gateway"`
	Connected bool   `json:"connected"`
	// ConnectedSince is when the current (or last) connection was opened;
	// it does not change while the proxy stays connected.
	ConnectedSince time.Time `json:"connectedSince"`
	LastSeen       time.Time `json:"lastSeen"`
	// Acked maps each resource type URL to the last version the proxy accepted.
	Acked map[string]string `json:"acked"`
	// Nack is the last rejection, cleared once the proxy accepts a later
	// version of the same type.
	Nack *Nack `json:"nack"`
}

// Nack is a configuration rejected by a proxy.
type Nack struct {
	TypeURL string `json:"typeUrl"`
	// Version is the version the proxy rejected.
	Version string `json:"version"`
	// Error is Envoy's error_detail.message.
	Error string `json:"error"`
	// Rule is the routedeck rule the error is attributed to, or "".
	Rule string    `json:"rule"`
	At   time.Time `json:"at"`
}

type proxyKey struct{ gateway, node string }

type proxyState struct {
	ProxyStatus
	streams int // open streams (a proxy may open SotW and delta streams at once)
}

// sentResponse remembers a response until the proxy answers it, to know which
// version an ACK or NACK refers to and which resources a NACK rejected.
type sentResponse struct {
	version   string
	resources []*anypb.Any
	names     []string
}

type streamState struct {
	key      proxyKey
	attached bool
	// sent is keyed by type URL, then by nonce.
	sent map[string]map[string]sentResponse
}

// tracker implements go-control-plane's server callbacks and keeps the
// per-proxy view. SotW and delta streams are numbered independently by the
// server, so they are kept in separate maps.
type tracker struct {
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	// keep is how long a disconnected proxy stays listed.
	keep time.Duration
	// max bounds the proxies listed (maxTrackedProxies; tests lower it).
	max int

	mu      sync.Mutex
	proxies map[proxyKey]*proxyState
	sotw    map[int64]*streamState
	delta   map[int64]*streamState
	// pruned is when disconnected proxies past keep were last dropped.
	pruned time.Time
	// watchers each hold a value once a proxy connected, disconnected,
	// acked or nacked since they last drained it (Server.WatchProxies).
	watchers map[chan struct{}]struct{}
	// connected counts the connected proxies per gateway, and
	// ackCounts those per gateway, type and acknowledged version
	// (countAcked).
	connected map[string]int
	ackCounts map[ackKey]map[string]int
}

type ackKey struct{ gateway, typeURL string }

var _ serverv3.Callbacks = (*tracker)(nil)

func newTracker(log *slog.Logger, m *Metrics, keep time.Duration) *tracker {
	return &tracker{
		log: log, metrics: m, now: time.Now, keep: keep, max: maxTrackedProxies,
		proxies:   make(map[proxyKey]*proxyState),
		sotw:      make(map[int64]*streamState),
		delta:     make(map[int64]*streamState),
		watchers:  make(map[chan struct{}]struct{}),
		connected: make(map[string]int),
		ackCounts: make(map[ackKey]map[string]int),
	}
}

// signal says the proxies' view changed to every watcher, without ever
// blocking a stream: a watcher that has not taken the last cue yet gets
// no second one. Called with t.mu held.
func (t *tracker) signal() {
	for ch := range t.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// watch returns a channel that receives a cue after each change of the
// proxies' view, coalesced, until ctx is done.
func (t *tracker) watch(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	t.mu.Lock()
	t.watchers[ch] = struct{}{}
	t.mu.Unlock()
	context.AfterFunc(ctx, func() {
		t.mu.Lock()
		delete(t.watchers, ch)
		t.mu.Unlock()
	})
	return ch
}

// proxies returns the proxies of gateway sorted by node id, dropping
// disconnected ones older than keep.
func (t *tracker) list(gateway string) []ProxyStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked(t.now())
	out := []ProxyStatus{}
	for k, p := range t.proxies {
		if k.gateway != gateway {
			continue
		}
		st := p.ProxyStatus
		st.Acked = make(map[string]string, len(p.Acked))
		for typ, v := range p.Acked {
			st.Acked[typ] = v
		}
		if p.Nack != nil {
			n := *p.Nack
			st.Nack = &n
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ProxyStatus) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// countAcked counts gateway's connected proxies that acknowledged version of
// typeURL. It reads a count kept as ACKs arrive: a caller waiting for a
// push to land (polling it often) holds the lock only for a lookup, not
// for a walk of every proxy, and so does not hold up the ACKs it waits
// for.
func (t *tracker) countAcked(gateway, typeURL, version string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if version == "" {
		return t.unackedLocked(gateway, typeURL)
	}
	return t.ackCounts[ackKey{gateway, typeURL}][version]
}

// ackedVersions counts gateway's connected proxies by the version of
// typeURL they acknowledged, "" for none yet.
func (t *tracker) ackedVersions(gateway, typeURL string) map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := maps.Clone(t.ackCounts[ackKey{gateway, typeURL}])
	if out == nil {
		out = map[string]int{}
	}
	if n := t.unackedLocked(gateway, typeURL); n > 0 {
		out[""] = n
	}
	return out
}

// unackedLocked counts gateway's connected proxies that have not
// acknowledged any version of typeURL.
func (t *tracker) unackedLocked(gateway, typeURL string) int {
	n := t.connected[gateway]
	for _, c := range t.ackCounts[ackKey{gateway, typeURL}] {
		n -= c
	}
	return n
}

// countLocked moves the counts of connected proxies by d: for p's
// gateway, and for each version p acknowledged (typeURL's alone, if set).
func (t *tracker) countLocked(p *proxyState, typeURL string, d int) {
	if typeURL == "" {
		t.connected[p.Gateway] += d
		if t.connected[p.Gateway] == 0 {
			delete(t.connected, p.Gateway)
		}
	}
	if typeURL != "" {
		// Every ACK moves one type: no walk over the others.
		if v, ok := p.Acked[typeURL]; ok {
			t.countAckLocked(ackKey{p.Gateway, typeURL}, v, d)
		}
		return
	}
	for typ, v := range p.Acked {
		t.countAckLocked(ackKey{p.Gateway, typ}, v, d)
	}
}

// countAckLocked moves the count of proxies at version v of k by d.
func (t *tracker) countAckLocked(k ackKey, v string, d int) {
	byVersion := t.ackCounts[k]
	if byVersion == nil {
		byVersion = map[string]int{}
		t.ackCounts[k] = byVersion
	}
	byVersion[v] += d
	if byVersion[v] == 0 {
		delete(byVersion, v)
		if len(byVersion) == 0 {
			delete(t.ackCounts, k)
		}
	}
}

// pruneLocked drops the disconnected proxies last seen more than keep
// ago.
func (t *tracker) pruneLocked(now time.Time) {
	t.pruned = now
	for k, p := range t.proxies {
		if !p.Connected && now.Sub(p.LastSeen) > t.keep {
			delete(t.proxies, k)
		}
	}
}

// roomLocked makes room for one more proxy: expired ones go (a scan at
// most once a minute while the table fills), then, when it is full, the
// disconnected proxy seen longest ago. False when every tracked proxy is
// connected.
func (t *tracker) roomLocked(now time.Time) bool {
	if now.Sub(t.pruned) > time.Minute {
		t.pruneLocked(now)
	}
	if len(t.proxies) < t.max {
		return true
	}
	var oldest *proxyState
	for _, p := range t.proxies {
		if !p.Connected && (oldest == nil || p.LastSeen.Before(oldest.LastSeen)) {
			oldest = p
		}
	}
	if oldest == nil {
		return false
	}
	delete(t.proxies, proxyKey{gateway: oldest.Gateway, node: oldest.Node})
	return true
}

func (t *tracker) open(streams map[int64]*streamState, id int64) {
	t.mu.Lock()
	streams[id] = &streamState{sent: make(map[string]map[string]sentResponse)}
	t.mu.Unlock()
}

func (t *tracker) closed(streams map[int64]*streamState, id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := streams[id]
	delete(streams, id)
	if !ok || !s.attached {
		return
	}
	if p, ok := t.proxies[s.key]; ok {
		p.streams--
		if p.streams == 0 {
			p.Connected = false
			t.countLocked(p, "", -1)
			p.LastSeen = t.now()
			t.signal()
			t.metrics.connected.Dec()
			t.log.Info("xds: proxy disconnected", "gateway", untrusted(s.key.gateway), "node", untrusted(s.key.node))
		}
	}
}

// request records a request: it attaches the stream to its proxy on the
// first request that carries a node, and turns a response nonce into an ACK
// or a NACK. A new proxy that finds the table full of connected ones is
// refused.
//
// A state-of-the-world request without a nonce opens a type on the stream;
// its version (resumed) is the one the proxy accepted before, from this
// server or from another that serves the same versions (an xDS replica it
// moved from). It counts as acknowledged: the server sends nothing when
// that is still the version served, and the proxy runs it.
func (t *tracker) request(streams map[int64]*streamState, id int64, node *corev3.Node, typeURL, nonce, resumed string, errDetail string, nacked bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := streams[id]
	if !ok {
		return nil
	}
	now := t.now()
	if !s.attached {
		if node == nil {
			return nil
		}
		key := proxyKey{gateway: node.GetCluster(), node: node.GetId()}
		p, ok := t.proxies[key]
		if !ok {
			if !t.roomLocked(now) {
				t.log.Warn("xds: proxy refused: too many proxies connected", "gateway", untrusted(key.gateway), "node", untrusted(key.node), "max", t.max)
				return status.Errorf(codes.ResourceExhausted, "this server tracks at most %d proxies and all are connected", t.max)
			}
			p = &proxyState{ProxyStatus: ProxyStatus{Node: key.node, Gateway: key.gateway, Acked: map[string]string{}}}
			t.proxies[key] = p
		}
		s.key, s.attached = key, true
		if p.streams == 0 {
			p.Connected = true
			t.countLocked(p, "", 1)
			p.ConnectedSince = now
			t.signal()
			t.metrics.connected.Inc()
			t.log.Info("xds: proxy connected", "gateway", untrusted(s.key.gateway), "node", untrusted(s.key.node))
		}
		p.streams++
	}
	p := t.proxies[s.key]
	if p == nil {
		return nil
	}
	p.LastSeen = now
	if nonce == "" {
		if resumed != "" && !nacked && p.Acked[typeURL] != resumed {
			p.Acked[typeURL] = resumed
			t.signal()
		}
		return nil
	}
	sent, ok := s.sent[typeURL][nonce]
	if !ok {
		return nil // stale nonce: the proxy answers a response that was superseded
	}
	// A proxy answers the latest response of a type; older ones can go.
	delete(s.sent, typeURL)
	t.signal()
	if !nacked {
		t.countLocked(p, typeURL, -1)
		p.Acked[typeURL] = sent.version
		t.countLocked(p, typeURL, 1)
		if p.Nack != nil && p.Nack.TypeURL == typeURL && p.Nack.Version != sent.version {
			p.Nack = nil
		}
		t.metrics.acks.WithLabelValues(typeURL).Inc()
		return nil
	}
	rule := attributeRule(errDetail, sent)
	p.Nack = &Nack{TypeURL: typeURL, Version: sent.version, Error: errDetail, Rule: rule, At: now}
	t.metrics.nacks.WithLabelValues(typeURL).Inc()
	t.log.Warn("xds: proxy rejected configuration", "gateway", untrusted(s.key.gateway), "node", untrusted(s.key.node),
		"typeUrl", typeURL, "version", sent.version, "rule", rule, "error", untrusted(errDetail))
	return nil
}

func (t *tracker) response(streams map[int64]*streamState, id int64, typeURL, nonce string, sent sentResponse) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.metrics.pushes.WithLabelValues(typeURL).Inc()
	s, ok := streams[id]
	if !ok {
		return
	}
	m := s.sent[typeURL]
	if m == nil {
		m = make(map[string]sentResponse, 1)
		s.sent[typeURL] = m
	}
	// A proxy that never answers must not grow this map: keep the few
	// latest responses (nonces count up per stream), which are the only
	// ones an answer can still refer to.
	if n, err := strconv.ParseInt(nonce, 10, 64); err == nil {
		for old := range m {
			if o, err := strconv.ParseInt(old, 10, 64); err == nil && o <= n-maxPending {
				delete(m, old)
			}
		}
	}
	m[nonce] = sent
}

// maxPending is how many unanswered responses per type a stream remembers.
const maxPending = 4

// OnStreamOpen implements sotw.Callbacks.
func (t *tracker) OnStreamOpen(_ context.Context, id int64, _ string) error {
	t.open(t.sotw, id)
	return nil
}

// OnStreamClosed implements sotw.Callbacks.
func (t *tracker) OnStreamClosed(id int64, _ *corev3.Node) { t.closed(t.sotw, id) }

// OnStreamRequest implements sotw.Callbacks. A request over the bounds
// (see limits.go) ends the stream.
func (t *tracker) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	if err := t.admit(id, req.GetNode(), req.GetTypeUrl()); err != nil {
		return err
	}
	clipErrorDetail(req.GetErrorDetail())
	return t.request(t.sotw, id, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), req.GetVersionInfo(),
		req.GetErrorDetail().GetMessage(), req.GetErrorDetail() != nil)
}

// OnStreamResponse implements sotw.Callbacks.
func (t *tracker) OnStreamResponse(_ context.Context, id int64, _ *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	t.response(t.sotw, id, resp.GetTypeUrl(), resp.GetNonce(), sentResponse{version: resp.GetVersionInfo(), resources: resp.GetResources()})
}

// OnDeltaStreamOpen implements delta.Callbacks.
func (t *tracker) OnDeltaStreamOpen(_ context.Context, id int64, _ string) error {
	t.open(t.delta, id)
	return nil
}

// OnDeltaStreamClosed implements delta.Callbacks.
func (t *tracker) OnDeltaStreamClosed(id int64, _ *corev3.Node) { t.closed(t.delta, id) }

// OnStreamDeltaRequest implements delta.Callbacks. The server calls it before
// it fills in the node of later requests, so only the first one has a node;
// the stream remembers it.
func (t *tracker) OnStreamDeltaRequest(id int64, req *discovery.DeltaDiscoveryRequest) error {
	if err := t.admit(id, req.GetNode(), req.GetTypeUrl()); err != nil {
		return err
	}
	clipErrorDetail(req.GetErrorDetail())
	return t.request(t.delta, id, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), "",
		req.GetErrorDetail().GetMessage(), req.GetErrorDetail() != nil)
}

// admit checks a request against the bounds and logs a refusal, with what
// the proxy sent cut short.
func (t *tracker) admit(id int64, node *corev3.Node, typeURL string) error {
	err := checkRequest(node, typeURL)
	if err != nil {
		t.log.Warn("xds: request refused", "stream", id, "gateway", untrusted(node.GetCluster()), "node", untrusted(node.GetId()),
			"reason", status.Convert(err).Message())
	}
	return err
}

// OnStreamDeltaResponse implements delta.Callbacks.
func (t *tracker) OnStreamDeltaResponse(id int64, _ *discovery.DeltaDiscoveryRequest, resp *discovery.DeltaDiscoveryResponse) {
	sent := sentResponse{version: resp.GetSystemVersionInfo()}
	for _, r := range resp.GetResources() {
		sent.names = append(sent.names, r.GetName())
		sent.resources = append(sent.resources, r.GetResource())
	}
	t.response(t.delta, id, resp.GetTypeUrl(), resp.GetNonce(), sent)
}

// OnFetchRequest implements rest.Callbacks.
func (t *tracker) OnFetchRequest(context.Context, *discovery.DiscoveryRequest) error { return nil }

// OnFetchResponse implements rest.Callbacks.
func (t *tracker) OnFetchResponse(*discovery.DiscoveryRequest, *discovery.DiscoveryResponse) {}

// ruleRef finds a rule named in text the way the translator names Envoy
// objects after rules: "rule/<name>/<n>".
var ruleRef = regexp.MustCompile(`rule/([A-Za-z0-9][A-Za-z0-9._-]*)`)

// attributeRule names the rule a NACK is about. First choice is a rule named
// in Envoy's error message; next, a rejected resource or route whose name
// appears in the message and carries a rule name; last, the only rule in the
// rejected response, if there is exactly one. Otherwise it is unknown.
func attributeRule(msg string, sent sentResponse) string {
	if m := ruleRef.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	names := slices.Clone(sent.names)
	var routes []*routev3.Route
	for _, a := range sent.resources {
		n, r := resourceNames(a)
		names = append(names, n...)
		routes = append(routes, r...)
	}
	rules := map[string]bool{}
	for _, name := range names {
		m := ruleRef.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		if name != "" && strings.Contains(msg, name) {
			return m[1]
		}
		rules[m[1]] = true
	}
	// Envoy often quotes the offending value (a regex, a path, a header
	// value) rather than naming the route: find the rules whose match
	// contains a value the message quotes.
	quoted := map[string]bool{}
	for _, r := range routes {
		m := ruleRef.FindStringSubmatch(r.GetName())
		if m == nil {
			continue
		}
		for _, v := range matchStrings(r.GetMatch().ProtoReflect(), nil) {
			if len(v) >= 3 && strings.Contains(msg, v) {
				quoted[m[1]] = true
			}
		}
	}
	if len(quoted) == 1 {
		return onlyKey(quoted)
	}
	if len(rules) == 1 {
		return onlyKey(rules)
	}
	return ""
}

func onlyKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

// matchStrings collects every string field set in m and its sub-messages.
func matchStrings(m protoreflect.Message, out []string) []string {
	if !m.IsValid() {
		return out
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				if fd.Kind() == protoreflect.MessageKind {
					out = matchStrings(l.Get(i).Message(), out)
				} else if fd.Kind() == protoreflect.StringKind {
					out = append(out, l.Get(i).String())
				}
			}
		case fd.IsMap():
		case fd.Kind() == protoreflect.MessageKind:
			out = matchStrings(v.Message(), out)
		case fd.Kind() == protoreflect.StringKind:
			out = append(out, v.String())
		}
		return true
	})
	return out
}

// resourceNames returns the name of a marshalled resource and, for a route
// configuration, the names of its virtual hosts and routes, where rule names
// live, and the routes themselves. It only runs for a NACK, so decoding here costs nothing in the
// normal path.
func resourceNames(a *anypb.Any) (names []string, routes []*routev3.Route) {
	if a == nil {
		return nil, nil
	}
	msg, err := a.UnmarshalNew()
	if err != nil {
		return nil, nil
	}
	names = []string{cache.GetResourceName(msg)}
	var vhosts []*routev3.VirtualHost
	switch m := msg.(type) {
	case *routev3.RouteConfiguration:
		vhosts = m.GetVirtualHosts()
	case *routev3.VirtualHost: // VHDS
		vhosts = []*routev3.VirtualHost{m}
	}
	if vhosts != nil && (a.GetTypeUrl() == resource.RouteType || a.GetTypeUrl() == resource.VirtualHostType) {
		for _, vh := range vhosts {
			names = append(names, vh.GetName())
			for _, r := range vh.GetRoutes() {
				names = append(names, r.GetName())
				routes = append(routes, r)
			}
		}
	}
	return names, routes
}
