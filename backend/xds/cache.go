package xds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/routedeck/routedeck/backend/parallel"
)

// typeOrder is the order in which a new snapshot is pushed to the open
// watches of a stream: secrets and clusters (with their endpoints) before the
// listeners and routes that use them, so Envoy never sees a route pointing at
// a cluster it does not know yet (make before break).
var typeOrder = []string{
	resource.SecretType,
	resource.ClusterType,
	resource.EndpointType,
	resource.ListenerType,
	resource.RouteType,
}

// typeResources is one resource type of a snapshot. Every resource is
// marshalled exactly once, when the snapshot is built; responses to any number
// of proxies share the marshalled bytes. go-control-plane's own SnapshotCache
// re-marshals every resource for every response, which dominates the cost of
// a push to thousands of proxies.
type typeResources struct {
	typeURL string
	version string
	// digest identifies the content, so a new snapshot whose content for this
	// type is unchanged keeps the old version and causes no push.
	digest string
	names  []string // sorted
	byName map[string]*anypb.Any
	nameOf map[*anypb.Any]string
	// hashes is the per-resource version that delta xDS reports.
	hashes map[string]string
	// changed names the resources that differ from those of prevVersion,
	// the type's version before this one (sorted; see sotwAnswer).
	prevVersion string
	changed     []string
	// gone names the resources of prevVersion this one does not have.
	gone []string
	all  []*anypb.Any // in name order
	raw  map[string]types.Resource
	// parts maps each virtual host of the route configurations to its
	// encoding, a window into the configuration's own bytes: a one-rule
	// edit replaces one virtual host, and only that one is encoded (and
	// validated) again.
	parts map[*routev3.VirtualHost][]byte

	// subsets gives every stream subscribed to the same names the same
	// resource slice, so that its encoding is shared (see codec.go).
	subMu   sync.Mutex
	subsets map[string][]*anypb.Any
}

// maxSubsets bounds the distinct subscriptions whose encoding is shared per
// type; proxies of one gateway normally all ask for the same names.
const maxSubsets = 64

// subset returns the shared slice of the resources named in subscribed.
func (t *typeResources) subset(subscribed map[string]struct{}) []*anypb.Any {
	var names []string
	for _, name := range t.names {
		if _, ok := subscribed[name]; ok {
			names = append(names, name)
		}
	}
	return t.named(names)
}

// named returns the shared slice of the resources named in names, which
// are sorted and exist.
func (t *typeResources) named(names []string) []*anypb.Any {
	if len(names) == len(t.names) {
		return t.all
	}
	key := strings.Join(names, "\x00")
	t.subMu.Lock()
	defer t.subMu.Unlock()
	if res, ok := t.subsets[key]; ok {
		return res
	}
	res := make([]*anypb.Any, len(names))
	for i, name := range names {
		res[i] = t.byName[name]
	}
	if len(t.subsets) < maxSubsets {
		if t.subsets == nil {
			t.subsets = make(map[string][]*anypb.Any)
		}
		t.subsets[key] = res
		registerShared(t.version, t.typeURL, res)
	}
	return res
}

// release forgets the shared encodings once t is no longer served.
func (t *typeResources) release() {
	unregisterShared(t.all)
	t.subMu.Lock()
	defer t.subMu.Unlock()
	for _, res := range t.subsets {
		unregisterShared(res)
	}
	t.subsets = nil
}

// newTypeResources marshals items once. version is used unless prev holds the
// same content, in which case prev itself is returned. Resources are
// immutable once handed over (the translator shares unchanged ones between
// its translations), so an item that is the very message prev was built
// from keeps prev's encoding, and a route configuration re-encodes only
// the virtual hosts prev does not have.
//
// warm, when not nil, holds encodings of validated resources made ahead
// (Server.Warm): an item that is the very message warm holds takes its
// encoding from there.
func newTypeResources(typeURL, version string, items []types.Resource, prev, warm *typeResources) (*typeResources, error) {
	return buildTypeResources(typeURL, func(string) string { return version }, items, prev, warm)
}

// newTypeResourcesDigest is newTypeResources with the version prefix
// followed by the content's digest: a version that every replica derives
// alike from the content, with no second pass over the resources to hash
// them.
func newTypeResourcesDigest(typeURL, prefix string, items []types.Resource, prev *typeResources) (*typeResources, error) {
	return buildTypeResources(typeURL, func(digest string) string { return prefix + digest[:12] }, items, prev, nil)
}

func buildTypeResources(typeURL string, versionOf func(digest string) string, items []types.Resource, prev, warm *typeResources) (*typeResources, error) {
	t, err := encodeTypeResources(typeURL, items, prev, warm)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		for _, name := range prev.names {
			if _, ok := t.byName[name]; !ok {
				t.gone = append(t.gone, name)
			}
		}
	}
	digest := sha256.New()
	for _, name := range t.names {
		digest.Write([]byte(name))
		digest.Write([]byte{'='})
		digest.Write([]byte(t.hashes[name]))
		digest.Write([]byte{';'})
	}
	t.digest = hex.EncodeToString(digest.Sum(nil)[:8])
	if prev != nil && prev.digest == t.digest {
		return prev, nil
	}
	version := versionOf(t.digest)
	t.version = version
	if prev != nil {
		t.prevVersion = prev.version
	}
	if prev != nil && prev.version == version {
		// Same version label for different content would make proxies
		// believe they are up to date; tell the versions apart.
		t.version = version + "." + t.digest
	}
	registerShared(t.version, t.typeURL, t.all)
	return t, nil
}

// encodeTypeResources is newTypeResources without the version: items
// marshalled and hashed, in name order, nothing registered.
func encodeTypeResources(typeURL string, items []types.Resource, prev, warm *typeResources) (*typeResources, error) {
	t := &typeResources{
		typeURL: typeURL,
		byName:  make(map[string]*anypb.Any, len(items)),
		nameOf:  make(map[*anypb.Any]string, len(items)),
		hashes:  make(map[string]string, len(items)),
		raw:     make(map[string]types.Resource, len(items)),
	}
	// First what prev or warm holds already is taken; the rest is
	// marshalled and hashed next, in parallel. A route configuration
	// marshals its own virtual hosts in parallel (marshalRoutes).
	encs := make([]encoded, len(items))
	var todo []int
	for i, item := range items {
		name := cache.GetResourceName(item)
		if _, dup := t.raw[name]; dup {
			return nil, fmt.Errorf("%s: duplicate resource name %q", typeURL, name)
		}
		t.names = append(t.names, name)
		t.raw[name] = item
		if src := holder(name, item, prev, warm); src != nil {
			a := src.byName[name]
			t.byName[name], t.nameOf[a], t.hashes[name] = a, name, src.hashes[name]
			if rc, ok := item.(*routev3.RouteConfiguration); ok {
				t.keepParts(rc, src)
			}
			if src != prev && prev != nil && prev.hashes[name] != src.hashes[name] {
				t.changed = append(t.changed, name)
			}
			continue
		}
		if rc, ok := item.(*routev3.RouteConfiguration); ok {
			b, err := t.marshalRoutes(rc, prev, warm)
			encs[i] = encoded{body: b, err: err, done: true}
			encs[i].hash()
		}
		todo = append(todo, i)
	}
	parallel.Chunks(len(todo), parallelMin, func(start, end int) {
		opts := proto.MarshalOptions{Deterministic: true}
		for _, i := range todo[start:end] {
			if !encs[i].done {
				encs[i].body, encs[i].err = opts.Marshal(items[i])
				encs[i].hash()
			}
		}
	})
	for _, i := range todo {
		name := cache.GetResourceName(items[i])
		e := encs[i]
		if e.err != nil {
			return nil, fmt.Errorf("marshal %s %q: %w", typeURL, name, e.err)
		}
		a := &anypb.Any{TypeUrl: typeURL, Value: e.body}
		t.byName[name] = a
		t.nameOf[a] = name
		t.hashes[name] = e.version
		if prev != nil && prev.hashes[name] != e.version {
			t.changed = append(t.changed, name)
		}
	}
	slices.Sort(t.names)
	slices.Sort(t.changed)
	t.all = make([]*anypb.Any, len(t.names))
	for i, name := range t.names {
		t.all[i] = t.byName[name]
	}
	return t, nil
}

// holder returns prev or warm, whichever holds item, the very message,
// under name; nil when neither does.
func holder(name string, item types.Resource, prev, warm *typeResources) *typeResources {
	switch {
	case prev != nil && prev.raw[name] == item:
		return prev
	case warm != nil && warm.raw[name] == item:
		return warm
	}
	return nil
}

// encoded is a resource marshalled for a snapshot, and its per-resource
// version: a hash of the very bytes served.
type encoded struct {
	body    []byte
	version string
	err     error
	done    bool
}

func (e *encoded) hash() {
	if e.err == nil {
		sum := sha256.Sum256(e.body)
		e.version = hex.EncodeToString(sum[:8])
	}
}

// wildcardReturned stands, in the returned-resources map of a wildcard
// state-of-the-world subscription, for "every resource of this version". A
// wildcard response always carries every resource of its version, so naming
// them one by one per stream would only cost memory: with a thousand clusters
// and a thousand proxies, a million map entries. No resource name is empty.
const wildcardReturned = ""

// sotwResponse builds the state-of-the-world response for one watch. The
// DiscoveryResponse is per stream (the server writes the nonce into it) but
// the resources in it are shared.
func (t *typeResources) sotwResponse(req *cache.Request, sub cache.Subscription) *cache.PassthroughResponse {
	var res []*anypb.Any
	var returned map[string]string
	if sub.IsWildcard() {
		res = t.all
		returned = map[string]string{wildcardReturned: t.version}
	} else {
		res = t.subset(sub.SubscribedResources())
		returned = make(map[string]string, len(res))
		for _, a := range res {
			returned[t.nameOf[a]] = t.version
		}
	}
	return &cache.PassthroughResponse{
		Request: req,
		DiscoveryResponse: &discovery.DiscoveryResponse{
			VersionInfo: t.version,
			Resources:   res,
			TypeUrl:     t.typeURL,
		},
		ReturnedResources: returned,
	}
}

// sentByName reports whether a state-of-the-world response of typeURL may
// carry only what the stream lacks. The xDS protocol asks for the complete
// set in every response for listeners and clusters alone, whose absence
// from a response means their removal. Route configurations, load
// assignments and secrets are subscribed to by name, and a client keeps
// those a response does not mention: Envoy hands a response only to the
// watches of the resources it carries, and grpc-go's xDS client does not
// require all of them in each response for these types. So one changed
// load assignment of a thousand goes out alone, instead of the thousand
// to every proxy.
func sentByName(typeURL string) bool {
	return typeURL == resource.RouteType || typeURL == resource.EndpointType || typeURL == resource.SecretType
}

// sotwAnswer returns the response a watch is owed now, or nil when it is
// to wait for the next snapshot.
func (t *typeResources) sotwAnswer(req *cache.Request, sub cache.Subscription) *cache.PassthroughResponse {
	if !sentByName(t.typeURL) || sub.IsWildcard() {
		if !t.sotwShouldRespond(req, sub) {
			return nil
		}
		return t.sotwResponse(req, sub)
	}
	known := sub.ReturnedResources()
	lacking := t.lacking(req, sub)
	// After a NACK, the client waits for something new: sending the
	// rejected resources again would only be rejected again, in a loop.
	// Otherwise a client at another version gets this version, even with
	// nothing it lacks, so every proxy's ACK says where it stands.
	if len(lacking) == 0 && (req.GetErrorDetail() != nil || req.GetVersionInfo() == t.version) {
		return nil
	}
	returned := maps.Clone(known)
	if returned == nil {
		returned = make(map[string]string, len(lacking))
	}
	for _, name := range lacking {
		returned[name] = t.hashes[name]
	}
	return &cache.PassthroughResponse{
		Request: req,
		DiscoveryResponse: &discovery.DiscoveryResponse{
			VersionInfo: t.version,
			Resources:   t.named(lacking),
			TypeUrl:     t.typeURL,
		},
		ReturnedResources: returned,
	}
}

// adsAnswer is sotwAnswer for the streams served by adsServer: the
// response a watch is owed now, or nil when it is to wait for the next
// snapshot.
func (t *typeResources) adsAnswer(req *discovery.DiscoveryRequest, sub *adsSub) *adsReply {
	nack := req.GetErrorDetail() != nil
	var res []*anypb.Any
	if !sentByName(t.typeURL) || sub.wildcard {
		if !t.adsShouldRespond(req, sub) {
			return nil
		}
		res = t.all
		if !sub.wildcard {
			res = t.subset(sub.names.set)
		}
	} else {
		lacking := t.adsLacking(nack, sub)
		// As in sotwAnswer: nothing again after a NACK; a stream at
		// another version hears of this one even with nothing lacking.
		if len(lacking) == 0 && (nack || req.GetVersionInfo() == t.version) {
			return nil
		}
		res = t.named(lacking)
	}
	return &adsReply{req: req, from: t, resp: &discovery.DiscoveryResponse{
		VersionInfo: t.version,
		Resources:   res,
		TypeUrl:     t.typeURL,
	}}
}

// adsShouldRespond is sotwShouldRespond over what the stream holds.
func (t *typeResources) adsShouldRespond(req *discovery.DiscoveryRequest, sub *adsSub) bool {
	if req.GetErrorDetail() != nil && sub.held != nil && sub.held.version == t.version {
		return false // a NACK of this very version
	}
	if req.GetVersionInfo() != t.version {
		return true
	}
	if sub.wildcard {
		return sub.held == nil && len(t.names) > 0
	}
	for _, name := range sub.names.sorted {
		if _, exists := t.byName[name]; exists && !sub.holdsAny(name) {
			return true
		}
	}
	return false
}

// adsLacking is lacking over what the stream holds: when it holds this
// version or the one before, in full, what it lacks is known without a
// look at each name.
func (t *typeResources) adsLacking(nack bool, sub *adsSub) []string {
	if !nack && sub.held != nil && sub.unheld == nil {
		switch sub.held.version {
		case t.version:
			return nil
		case t.prevVersion:
			var out []string
			for _, name := range t.changed {
				if sub.has(name) {
					out = append(out, name)
				}
			}
			return out
		}
	}
	var out []string
	for _, name := range sub.names.sorted {
		if _, ok := t.hashes[name]; ok && !sub.holds(t, name) {
			out = append(out, name)
		}
	}
	return out
}

// lacking returns the names, sorted, of the resources a stream subscribes to
// and lacks: its returned resources map each name to the hash of the
// resource last sent, so what it lacks is what differs. A push or an ACK
// to a thousand proxies subscribed to a thousand load assignments each
// would compare a million hashes that way, so the usual cases are told
// apart first. A stream whose every subscribed name has an entry (only
// subscribed names do: unsubscribing drops them) and that acknowledged
// version v was answered at v, and so holds v's resource for every name v
// has: at this version it lacks nothing, and at the version before this
// one it lacks what changed since.
func (t *typeResources) lacking(req *cache.Request, sub cache.Subscription) []string {
	known, subscribed := sub.ReturnedResources(), sub.SubscribedResources()
	if req.GetErrorDetail() == nil && len(known) == len(subscribed) {
		switch req.GetVersionInfo() {
		case t.version:
			return nil
		case t.prevVersion:
			var out []string
			for _, name := range t.changed {
				if _, ok := subscribed[name]; ok {
					out = append(out, name)
				}
			}
			return out
		}
	}
	var out []string
	for name := range subscribed {
		if h, ok := t.hashes[name]; ok && known[name] != h {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// sotwShouldRespond reports whether a request must be answered now rather
// than parked until the next snapshot: the client has another version, or it
// subscribes to resources that exist and it has not been sent yet.
func (t *typeResources) sotwShouldRespond(req *cache.Request, sub cache.Subscription) bool {
	known := sub.ReturnedResources()
	if req.GetErrorDetail() != nil && len(known) > 0 {
		// A NACK of the current version: sending it again would only be
		// rejected again, in a loop. Wait for a new snapshot instead.
		rejectedCurrent := true
		for _, v := range known {
			rejectedCurrent = rejectedCurrent && v == t.version
		}
		if rejectedCurrent {
			return false
		}
	}
	if req.GetVersionInfo() != t.version {
		return true
	}
	if sub.IsWildcard() {
		// Same version, so the same names: the client lacks them only if
		// what it was sent was not this wildcard response.
		_, sent := known[wildcardReturned]
		return !sent && len(t.names) > 0
	}
	for name := range sub.SubscribedResources() {
		if _, ok := known[name]; !ok {
			if _, exists := t.byName[name]; exists {
				return true
			}
		}
	}
	return false
}

// deltaResponse builds the incremental response for one watch, or returns nil
// when the client already has everything it subscribes to.
// keep, when not nil, says which resources the stream may have (see
// vhdsStreams), and keepGen names that choice; those it holds and may not
// are removed.
func (t *typeResources) deltaResponse(req *cache.DeltaRequest, sub cache.Subscription, keep func(string) bool, keepGen string) *cache.DeltaPassthroughResponse {
	returned := sub.ReturnedResources()
	var res []*discovery.Resource
	var removed []string
	wanted := func(name string) bool {
		_, ok := t.byName[name]
		return ok && (keep == nil || keep(name))
	}
	consider := func(name string) {
		if v, ok := returned[name]; !ok || v != t.hashes[name] {
			res = append(res, &discovery.Resource{Name: name, Version: t.hashes[name], Resource: t.byName[name]})
		}
	}
	// The first wildcard request of a stream is always answered, even when
	// empty: Envoy waits for it to finish initialising.
	first := sub.IsWildcard() && req.GetResponseNonce() == ""
	// Every ACK of every stream comes here, mostly to find nothing new,
	// and a new version changes few resources: a stream known to hold
	// all it may have of a version (deltaHeld) is answered from what
	// changed since, without a look at every resource. Otherwise the
	// changes are found by lookups alone, and the map of what the stream
	// will hold is built only when there are some.
	mark := t.version + "\x00" + keepGen
	held, known := returned[deltaHeld]
	// A stream's first request may carry initial versions of its own
	// making; deltaHeld is only believed once this server set it.
	if known && req.GetResponseNonce() != "" && (sub.IsWildcard() || len(returned) == len(sub.SubscribedResources())+1) {
		switch held {
		case mark:
			return nil
		case t.prevVersion + "\x00" + keepGen:
			for _, name := range t.changed {
				if _, ok := sub.SubscribedResources()[name]; (ok || sub.IsWildcard()) && wanted(name) {
					res = append(res, &discovery.Resource{Name: name, Version: t.hashes[name], Resource: t.byName[name]})
				}
			}
			for _, name := range t.gone {
				if _, ok := returned[name]; ok {
					removed = append(removed, name)
				}
			}
			return t.deltaReply(req, returned, res, removed, mark, false)
		}
	}
	if sub.IsWildcard() {
		for _, name := range t.names {
			if keep == nil || keep(name) {
				consider(name)
			}
		}
		for name := range returned {
			if name != deltaHeld && !wanted(name) {
				removed = append(removed, name)
			}
		}
	} else {
		for name := range sub.SubscribedResources() {
			if wanted(name) {
				consider(name)
			} else if _, ok := returned[name]; ok {
				removed = append(removed, name)
			}
		}
	}
	if len(res) == 0 && len(removed) == 0 && !first && held == mark {
		return nil
	}
	return t.deltaReply(req, returned, res, removed, mark, first)
}

// deltaHeld is the entry of a delta stream's returned-resources map that
// says which version (and choice of virtual hosts) of the type it holds
// in full. No resource is named so: resource names are never empty and
// this one is.
const deltaHeld = "\x00"

// deltaReply answers with res and removed, held being what the stream
// then holds in full. A reply with neither, only to record held, is not
// sent: the stream's map is updated in place. That is safe because the
// server touches the map of a type only from the stream's goroutine,
// after it cancelled the type's watch, which takes the cache's lock that
// every caller of this holds.
func (t *typeResources) deltaReply(req *cache.DeltaRequest, returned map[string]string, res []*discovery.Resource, removed []string, held string, first bool) *cache.DeltaPassthroughResponse {
	if len(res) == 0 && len(removed) == 0 && !first {
		if returned != nil {
			returned[deltaHeld] = held
		}
		return nil
	}
	// go-control-plane keeps the map as the stream's own and changes it
	// when the stream unsubscribes, so it is a copy.
	next := maps.Clone(returned)
	if next == nil {
		next = make(map[string]string, len(res)+1)
	}
	for _, r := range res {
		next[r.Name] = r.Version
	}
	for _, name := range removed {
		delete(next, name)
	}
	next[deltaHeld] = held
	slices.SortFunc(res, func(a, b *discovery.Resource) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(removed)
	return &cache.DeltaPassthroughResponse{
		DeltaRequest:   req,
		NextVersionMap: next,
		DeltaDiscoveryResponse: &discovery.DeltaDiscoveryResponse{
			SystemVersionInfo: t.version,
			Resources:         res,
			RemovedResources:  removed,
			TypeUrl:           t.typeURL,
		},
	}
}

// snapshot is the complete, validated configuration of one node group
// (node.cluster), immutable once built.
type snapshot struct {
	version string
	types   map[string]*typeResources
	// vhds, when the server delivers routes by VHDS, holds what delta
	// streams get instead of types (see vhds.go).
	vhds *vhdsForms
}

// deltaOrder is typeOrder for delta streams, which may also subscribe to
// virtual hosts: after the route configurations that hold them.
var deltaOrder = append(slices.Clone(typeOrder), resource.VirtualHostType)

// deltaType returns what a delta stream of typeURL is served, or nil.
func (s *snapshot) deltaType(typeURL string) *typeResources {
	if s.vhds != nil {
		if t := s.vhds.types[typeURL]; t != nil {
			return t
		}
	}
	return s.types[typeURL]
}

type sotwWatch struct {
	req *cache.Request
	sub cache.Subscription
	ch  chan cache.Response
}

type deltaWatch struct {
	req *cache.DeltaRequest
	sub cache.Subscription
	ch  chan cache.DeltaResponse
}

// group holds what one node.cluster key has: its snapshot and the watches
// parked until the snapshot changes.
type group struct {
	snap  *snapshot
	sotw  map[int64]*sotwWatch
	delta map[int64]*deltaWatch
	// ads holds the parked watches of the streams served by adsServer
	// by type URL: an endpoint change answers the load assignment
	// watches of a thousand proxies without a look at their three
	// thousand others.
	ads  map[string]map[int64]*adsWatch
	nADS int // watches in ads
}

type adsWatch struct {
	req *discovery.DiscoveryRequest
	sub *adsSub
	ch  chan *adsReply
}

// snapshotCache implements go-control-plane's cache.Cache over pre-marshalled
// snapshots keyed by node.cluster.
type snapshotCache struct {
	log *slog.Logger

	mu     sync.Mutex
	groups map[string]*group
	nextID int64
	// vhdsStreams holds, by delta stream, the route configurations it
	// subscribes to (see vhds.go).
	vhdsStreams map[*corev3.Node]streamRoutes
	vhdsGen     uint64
}

var _ cache.Cache = (*snapshotCache)(nil)

func newSnapshotCache(log *slog.Logger) *snapshotCache {
	return &snapshotCache{log: log, groups: make(map[string]*group), vhdsStreams: make(map[*corev3.Node]streamRoutes)}
}

func (c *snapshotCache) groupLocked(key string) *group {
	g, ok := c.groups[key]
	if !ok {
		g = &group{sotw: make(map[int64]*sotwWatch), delta: make(map[int64]*deltaWatch), ads: make(map[string]map[int64]*adsWatch)}
		c.groups[key] = g
	}
	return g
}

// get returns the current snapshot of key, or nil.
func (c *snapshotCache) get(key string) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.groups[key]; ok {
		return g.snap
	}
	return nil
}

// keys returns the keys that have a snapshot, sorted.
func (c *snapshotCache) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k, g := range c.groups {
		if g.snap != nil {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// set installs snap for key and answers every parked watch whose client is
// now out of date, in typeOrder.
func (c *snapshotCache) set(key string, snap *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groupLocked(key)
	old := g.snap
	if old != nil {
		for typeURL, t := range old.types {
			if snap.types[typeURL] != t {
				t.release()
			}
		}
		old.vhds.release(snap.vhds)
	}
	g.snap = snap
	for _, typeURL := range deltaOrder {
		// A delta watch parked on the very resources still served has
		// nothing new to get (a change of the virtual hosts a stream may
		// have is answered where it happens, in routesSubscribed).
		if t := snap.deltaType(typeURL); t != nil && (old == nil || old.deltaType(typeURL) != t) {
			for id, w := range g.delta {
				if w.req.GetTypeUrl() != typeURL {
					continue
				}
				if resp := c.deltaAnswer(t, w.req, w.sub); resp != nil {
					c.sendDelta(w.ch, resp)
					delete(g.delta, id)
				}
			}
		}
		t := snap.types[typeURL]
		if t == nil {
			continue
		}
		for id, w := range g.sotw {
			if w.req.GetTypeUrl() != typeURL {
				continue
			}
			if resp := t.sotwAnswer(w.req, w.sub); resp != nil {
				c.sendSotw(w.ch, resp)
				delete(g.sotw, id)
			}
		}
		for id, w := range g.ads[typeURL] {
			if r := t.adsAnswer(w.req, w.sub); r != nil {
				select {
				case w.ch <- r:
				default:
					c.log.Error("xds: response channel full, dropping response", "typeUrl", typeURL)
				}
				g.dropADS(typeURL, id)
			}
		}
	}
}

// clear drops key's snapshot. Parked watches stay parked: their proxies
// keep what they have until a snapshot for key is set again.
func (c *snapshotCache) clear(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.groups[key]
	if !ok {
		return
	}
	if g.snap != nil {
		for _, t := range g.snap.types {
			t.release()
		}
		g.snap.vhds.release(nil)
		g.snap = nil
	}
	if len(g.sotw) == 0 && len(g.delta) == 0 && g.nADS == 0 {
		delete(c.groups, key)
	}
}

// dropIdleLocked forgets key's group once it has neither a snapshot nor
// a watch: proxies may name any node.cluster, and one that names a
// gateway that does not exist must leave nothing behind when it goes.
func (c *snapshotCache) dropIdleLocked(key string, g *group) {
	if g.snap == nil && len(g.sotw) == 0 && len(g.delta) == 0 && g.nADS == 0 && c.groups[key] == g {
		delete(c.groups, key)
	}
}

// The server gives each stream a response channel with room for one response
// per resource type, and a watch is answered at most once, so these sends do
// not block; the default case only guards against a future change of that.
func (c *snapshotCache) sendSotw(ch chan cache.Response, r cache.Response) {
	select {
	case ch <- r:
	default:
		c.log.Error("xds: response channel full, dropping response", "typeUrl", r.GetRequest().GetTypeUrl())
	}
}

func (c *snapshotCache) sendDelta(ch chan cache.DeltaResponse, r cache.DeltaResponse) {
	select {
	case ch <- r:
	default:
		c.log.Error("xds: delta response channel full, dropping response", "typeUrl", r.GetDeltaRequest().GetTypeUrl())
	}
}

// CreateWatch answers a state-of-the-world request at once when the client is
// out of date, and otherwise parks it until the next snapshot. Unlike
// go-control-plane's SnapshotCache in ADS mode, a request naming resources
// the snapshot lacks is still answered with those it has: snapshots are
// consistent as a whole, and Envoy waits for named resources that are absent.
func (c *snapshotCache) CreateWatch(req *cache.Request, sub cache.Subscription, ch chan cache.Response) (func(), error) {
	key := req.GetNode().GetCluster()
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groupLocked(key)
	if g.snap != nil {
		if t := g.snap.types[req.GetTypeUrl()]; t != nil {
			if resp := t.sotwAnswer(req, sub); resp != nil {
				c.sendSotw(ch, resp)
				return func() {}, nil
			}
		}
	}
	c.nextID++
	id := c.nextID
	g.sotw[id] = &sotwWatch{req: req, sub: sub, ch: ch}
	return func() {
		c.mu.Lock()
		delete(g.sotw, id)
		c.dropIdleLocked(key, g)
		c.mu.Unlock()
	}, nil
}

// watchADS answers a request of a state-of-the-world ADS stream at once
// when the stream is owed a response, and otherwise parks it until the
// next snapshot; cancel drops the parked watch.
func (c *snapshotCache) watchADS(req *discovery.DiscoveryRequest, sub *adsSub, ch chan *adsReply) (reply *adsReply, cancel func()) {
	key := req.GetNode().GetCluster()
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groupLocked(key)
	if g.snap != nil {
		if t := g.snap.types[req.GetTypeUrl()]; t != nil {
			if r := t.adsAnswer(req, sub); r != nil {
				c.dropIdleLocked(key, g)
				return r, nil
			}
		}
	}
	c.nextID++
	id := c.nextID
	typeURL := req.GetTypeUrl()
	if g.ads[typeURL] == nil {
		g.ads[typeURL] = map[int64]*adsWatch{}
	}
	g.ads[typeURL][id] = &adsWatch{req: req, sub: sub, ch: ch}
	g.nADS++
	return nil, func() {
		c.mu.Lock()
		g.dropADS(typeURL, id)
		c.dropIdleLocked(key, g)
		c.mu.Unlock()
	}
}

// dropADS forgets the ADS watch id of typeURL, if still parked.
func (g *group) dropADS(typeURL string, id int64) {
	if _, ok := g.ads[typeURL][id]; ok {
		delete(g.ads[typeURL], id)
		g.nADS--
	}
}

// CreateDeltaWatch is CreateWatch for incremental xDS.
func (c *snapshotCache) CreateDeltaWatch(req *cache.DeltaRequest, sub cache.Subscription, ch chan cache.DeltaResponse) (func(), error) {
	key := req.GetNode().GetCluster()
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groupLocked(key)
	if req.GetTypeUrl() == resource.RouteType {
		// After this watch's own answer, so that route configurations
		// reach the stream before their virtual hosts.
		defer c.routesSubscribed(g, req.GetNode(), sub)
	}
	if g.snap != nil {
		if t := g.snap.deltaType(req.GetTypeUrl()); t != nil {
			if resp := c.deltaAnswer(t, req, sub); resp != nil {
				c.sendDelta(ch, resp)
				return func() {}, nil
			}
		}
	}
	c.nextID++
	id := c.nextID
	g.delta[id] = &deltaWatch{req: req, sub: sub, ch: ch}
	return func() {
		c.mu.Lock()
		delete(g.delta, id)
		c.dropIdleLocked(key, g)
		c.mu.Unlock()
	}, nil
}

// Fetch serves REST polling requests from the current snapshot.
func (c *snapshotCache) Fetch(_ context.Context, req *cache.Request) (cache.Response, error) {
	snap := c.get(req.GetNode().GetCluster())
	if snap == nil {
		return nil, fmt.Errorf("no snapshot for node cluster %q", req.GetNode().GetCluster())
	}
	t := snap.types[req.GetTypeUrl()]
	if t == nil {
		return nil, fmt.Errorf("unknown type %q", req.GetTypeUrl())
	}
	if req.GetVersionInfo() == t.version {
		return nil, types.SkipFetchError{}
	}
	sub := stream.NewSotwSubscription(req.GetResourceNames(), true)
	return t.sotwResponse(req, &sub), nil
}
