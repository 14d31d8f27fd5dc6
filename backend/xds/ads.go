package xds

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// State-of-the-world ADS streams are served here rather than by
// go-control-plane's server, for what a push costs per proxy. An Envoy
// subscribes to the load assignment of every EDS cluster by name and, in
// the state-of-the-world protocol, repeats every name in every request,
// ACKs included. go-control-plane rebuilds a map of those names on every
// request, and its cache interface hands each stream a map of every
// resource it was sent, to be copied on every response: with a thousand
// clusters and a thousand proxies, a million map entries built and copied
// for one changed load assignment, and as many held in memory. Here a
// stream keeps what it subscribes to as one name set shared by every
// stream that asks for the same names, and what it holds as the version
// of the type it was last sent (whose per-resource hashes the snapshot
// keeps anyway). Delta streams, the per-type services and REST stay with
// go-control-plane.

// adsServer is the ADS service: state of the world here, delta through
// go-control-plane's server, which it embeds.
type adsServer struct {
	discovery.AggregatedDiscoveryServiceServer
	cache     *snapshotCache
	callbacks serverv3.Callbacks
	// streams numbers the streams served here. Their ids are negative,
	// apart from those go-control-plane gives the per-type streams, since
	// the callbacks keep state by id.
	streams atomic.Int64
}

// adsType is what a stream keeps per type URL.
type adsType struct {
	sub *adsSub
	// nonce is the nonce of the last response sent of the type; a request
	// answering an older one is stale and ignored, as the protocol says.
	nonce  string
	cancel func() // the parked watch, if any
}

// adsSub is a stream's subscription to one type and what it holds of it.
// The stream goroutine changes it only while no watch of its type is
// parked; the cache reads it only under its lock while one is.
type adsSub struct {
	// wildcard: an empty first request (listeners, clusters) or "*".
	wildcard bool
	names    *nameSet // nil for a wildcard subscription
	// held is the type as last sent on the stream: for each subscribed
	// name it has, the stream holds that resource, except the names in
	// unheld, subscribed again since (a proxy forgets what it unsubscribes
	// from). nil before the first response.
	held   *typeResources
	unheld map[string]struct{}
}

// StreamAggregatedResources serves one state-of-the-world ADS stream.
func (a *adsServer) StreamAggregatedResources(st discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	ctx := st.Context()
	id := -a.streams.Add(1)
	if err := a.callbacks.OnStreamOpen(ctx, id, resource.AnyType); err != nil {
		return err
	}
	s := &adsStream{a: a, st: st, id: id, types: map[string]*adsType{},
		replies: make(chan *adsReply, len(typeOrder))}
	defer s.close()

	reqs := make(chan *discovery.DiscoveryRequest)
	go func() {
		defer close(reqs)
		for {
			req, err := st.Recv()
			if err != nil {
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-s.replies:
			if err := s.send(r); err != nil {
				return err
			}
		case req, ok := <-reqs:
			if !ok {
				return nil
			}
			if err := s.request(req); err != nil {
				return err
			}
		}
	}
}

type adsStream struct {
	a     *adsServer
	st    discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer
	id    int64
	node  *corev3.Node
	nonce int64
	types map[string]*adsType
	// replies carries the answers of parked watches. Each type has at
	// most one watch, answered at most once, so it never fills.
	replies chan *adsReply
}

func (s *adsStream) close() {
	for _, t := range s.types {
		if t.cancel != nil {
			t.cancel()
		}
		if t.sub.names != nil {
			t.sub.names.release()
		}
	}
	s.a.callbacks.OnStreamClosed(s.id, s.node)
}

// request handles one request: a new subscription, an ACK or NACK, or a
// change of names, each of which opens a new watch of its type.
func (s *adsStream) request(req *discovery.DiscoveryRequest) error {
	// Only the first request need carry the node.
	if req.GetNode() != nil {
		s.node = req.GetNode()
	} else {
		req.Node = s.node
	}
	typeURL := req.GetTypeUrl()
	if typeURL == "" {
		return status.Error(codes.InvalidArgument, "type_url is required for ADS")
	}
	if err := s.a.callbacks.OnStreamRequest(s.id, req); err != nil {
		return err
	}
	t := s.types[typeURL]
	if t == nil {
		t = &adsType{sub: &adsSub{}}
		s.types[typeURL] = t
		if len(req.GetResourceNames()) == 0 {
			t.sub.wildcard = true
		} else {
			t.sub.subscribe(req.GetResourceNames())
		}
	} else {
		if t.nonce != "" && req.GetResponseNonce() != t.nonce {
			return nil // answers a response superseded since
		}
		if t.cancel != nil {
			t.cancel()
			t.cancel = nil
		}
		// A reply of this type waiting to go out answered the request
		// this one replaces: drop it, send the others.
		if err := s.drainExcept(typeURL); err != nil {
			return err
		}
		t.sub.resubscribe(req.GetResourceNames())
	}
	// The watch keeps the request for its version, nonce and error; the
	// names, often thousands, live in the subscription.
	kept := &discovery.DiscoveryRequest{VersionInfo: req.GetVersionInfo(), Node: req.GetNode(), TypeUrl: typeURL,
		ResponseNonce: req.GetResponseNonce(), ErrorDetail: req.GetErrorDetail()}
	reply, cancel := s.a.cache.watchADS(kept, t.sub, s.replies)
	if reply != nil {
		return s.send(reply)
	}
	t.cancel = cancel
	return nil
}

// drainExcept sends the waiting replies of every type but typeURL and drops
// those of typeURL.
func (s *adsStream) drainExcept(typeURL string) error {
	for {
		select {
		case r := <-s.replies:
			if r.req.GetTypeUrl() == typeURL {
				continue
			}
			if err := s.send(r); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// send sends r and records that the stream holds what it carries.
func (s *adsStream) send(r *adsReply) error {
	t := s.types[r.req.GetTypeUrl()]
	if t == nil {
		return errors.New("reply for a type never subscribed to")
	}
	s.nonce++
	r.resp.Nonce = strconv.FormatInt(s.nonce, 10)
	t.nonce = r.resp.Nonce
	t.cancel = nil
	t.sub.held, t.sub.unheld = r.from, nil
	s.a.callbacks.OnStreamResponse(s.st.Context(), s.id, r.req, r.resp)
	if err := s.st.Send(r.resp); err != nil {
		return status.Errorf(codes.Unavailable, "send %s: %v", r.req.GetTypeUrl(), err)
	}
	return nil
}

// adsReply is a response owed to a stream: resp (without its nonce),
// built from the type's resources from.
type adsReply struct {
	req  *discovery.DiscoveryRequest
	resp *discovery.DiscoveryResponse
	from *typeResources
}

// subscribe sets the subscription to names (a non-empty request).
func (sub *adsSub) subscribe(names []string) {
	ns := internNames(names)
	if sub.names != nil {
		// Names subscribed to again were forgotten by the proxy when
		// it unsubscribed: it no longer holds them.
		if sub.held != nil {
			for _, n := range ns.sorted {
				if _, was := sub.names.set[n]; !was && sub.held.hashes[n] != "" {
					if sub.unheld == nil {
						sub.unheld = map[string]struct{}{}
					}
					sub.unheld[n] = struct{}{}
				}
			}
		}
		sub.names.release()
	}
	sub.names, sub.wildcard = ns, false
}

// resubscribe takes the names of a later request. In the state of the
// world an empty list on a wildcard subscription keeps it, and "*" asks
// for everything.
func (sub *adsSub) resubscribe(names []string) {
	switch {
	case sub.wildcard && len(names) == 0:
		return
	case slices.Contains(names, "*"):
		if sub.names != nil {
			sub.names.release()
		}
		sub.names, sub.wildcard = nil, true
		return
	case sub.names != nil && sameSlice(names, sub.names.order):
		// The codec hands every request repeating a list the same
		// slice: an ACK costs no comparison of names at all.
		return
	case sub.names != nil && (slices.Equal(names, sub.names.sorted) || slices.Equal(names, sub.names.order)):
		// Every ACK repeats the names: a comparison, no set built.
		return
	}
	sub.subscribe(names)
}

// sameSlice reports whether a and b are the very same slice.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && len(a) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// has reports whether the subscription covers name.
func (sub *adsSub) has(name string) bool {
	if sub.wildcard {
		return true
	}
	_, ok := sub.names.set[name]
	return ok
}

// holds reports whether the stream holds name as t has it.
func (sub *adsSub) holds(t *typeResources, name string) bool {
	if sub.held == nil {
		return false
	}
	if _, ok := sub.unheld[name]; ok {
		return false
	}
	h, ok := sub.held.hashes[name]
	return ok && h == t.hashes[name]
}

// holdsAny reports whether the stream holds some version of name.
func (sub *adsSub) holdsAny(name string) bool {
	if sub.held == nil {
		return false
	}
	if _, ok := sub.unheld[name]; ok {
		return false
	}
	_, ok := sub.held.hashes[name]
	return ok
}

// nameSet is a set of resource names, shared by every subscription to the
// same names (proxies of one gateway ask for the same load assignments).
// Immutable but for its reference count.
type nameSet struct {
	key    string
	sorted []string
	// order is the first list of these names seen, in a proxy's order,
	// which its later requests repeat.
	order []string
	set   map[string]struct{}
	refs  int // guarded by namesMu
}

var (
	namesMu sync.Mutex
	names   = map[string]*nameSet{}
)

// internNames returns the shared set of names, which the caller releases
// once it no longer uses it.
func internNames(list []string) *nameSet {
	sorted := slices.Clone(list)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	key := strings.Join(sorted, "\x00")
	namesMu.Lock()
	defer namesMu.Unlock()
	ns := names[key]
	if ns == nil {
		ns = &nameSet{key: key, sorted: sorted, order: list, set: make(map[string]struct{}, len(sorted))}
		for _, n := range sorted {
			ns.set[n] = struct{}{}
		}
		names[key] = ns
	}
	ns.refs++
	return ns
}

func (ns *nameSet) release() {
	namesMu.Lock()
	defer namesMu.Unlock()
	ns.refs--
	if ns.refs == 0 && names[ns.key] == ns {
		delete(names, ns.key)
	}
}
