// Package translate turns a gateway's rules into Envoy v3 resources.
//
// CONTRACT: Gateway and Resources are what backend/xds and the sandbox code
// against; keep the signatures.
//
// Envoy routes in two steps (virtual host by :authority, then the first
// matching route of that virtual host) while rules are one list ordered by
// priority. The translator gives every host value a rule compares with its
// own virtual host, decides each rule's host tests per virtual host
// (placement.go), expands the rest of the condition into alternatives
// (dnf.go) and maps each alternative to one Envoy route (match.go, routes.go,
// policies.go). Clusters and load assignments come from upstreams
// (cluster.go), listeners from the gateway (listener.go).
package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/routedeck/routedeck/backend/model"
)

// Options tune one translation.
type Options struct {
	// Endpoints overrides an upstream's endpoints by upstream name, as
	// discovery (Kubernetes, Consul) or the sandbox's mock upstreams report
	// them. Upstreams not in the map use their static/DNS source.
	Endpoints map[string][]model.Endpoint
	// Identified says the workspace's objects are as the store wrote
	// them (a draft or a published version read from it), where every
	// write moves an object's version and time of last change: a rule
	// with the version and time of one a Translator translated before is
	// that rule, and its cache key is not computed again. Leave it unset
	// for objects changed in memory.
	Identified bool
}

// Resources are a gateway's Envoy configuration, each list sorted by name.
// Resources are shared with the Translator's cache: treat them as read-only.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
	Secrets   []*tlsv3.Secret

	digests *digestCache // shared with the Translator that made these
}

// Gateway translates the named gateway of ws. Everything the model allows is
// either mapped or rejected with an EINVALID *model.Error naming the rule and
// condition; nothing is silently dropped. Every resource passes Validate().
func Gateway(ws model.Workspace, gateway string, opts Options) (*Resources, error) {
	return NewTranslator().Translate(ws, gateway, opts)
}

// Version is a hash of the deterministic wire form of every resource, so
// equal configurations get equal versions across processes and restarts.
// Resources from a Translator remember the digest of each virtual host,
// listener and cluster they share with earlier translations, so after a
// small edit only the changed parts are marshalled again.
func (r *Resources) Version() string {
	h := sha256.New()
	d := r.digests
	if d == nil {
		d = newDigestCache()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	live := make(map[proto.Message][32]byte, len(d.m))
	for typ, list := range r.lists() {
		fmt.Fprintf(h, "%s/%d\n", typ, len(list))
		for _, m := range list {
			var sum [32]byte
			if rc, ok := m.(*routev3.RouteConfiguration); ok {
				// Hash route configurations per virtual host: a rule edit
				// changes one or two of them.
				rh := sha256.New()
				shell := &routev3.RouteConfiguration{Name: rc.Name, IgnorePortInHostMatching: rc.IgnorePortInHostMatching}
				rh.Write(d.marshal(shell))
				for _, vh := range rc.VirtualHosts {
					vs := d.digest(vh, live)
					rh.Write(vs[:])
				}
				rh.Sum(sum[:0])
			} else {
				sum = d.digest(m, live)
			}
			h.Write(sum[:])
		}
	}
	d.m = live
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// digestCache maps resources (by identity: they are immutable once
// returned) to the SHA-256 of their deterministic encoding.
type digestCache struct {
	mu  sync.Mutex
	m   map[proto.Message][32]byte
	buf []byte
}

func newDigestCache() *digestCache { return &digestCache{m: map[proto.Message][32]byte{}} }

func (d *digestCache) digest(m proto.Message, live map[proto.Message][32]byte) [32]byte {
	sum, ok := d.m[m]
	if !ok {
		sum = sha256.Sum256(d.marshal(m))
	}
	live[m] = sum
	return sum
}

func (d *digestCache) marshal(m proto.Message) []byte {
	var err error
	d.buf, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(d.buf[:0], m)
	if err != nil {
		// Only invalid UTF-8 can fail; fall back to the text form so the
		// digest still follows the content.
		d.buf = append(d.buf[:0], fmt.Sprint(m)...)
	}
	return d.buf
}

// lists yields the resource lists in a fixed type order.
func (r *Resources) lists() func(yield func(string, []proto.Message) bool) {
	return func(yield func(string, []proto.Message) bool) {
		for _, t := range []struct {
			typ  string
			list []proto.Message
		}{
			{resourcev3.ListenerType, messages(r.Listeners)},
			{resourcev3.RouteType, messages(r.Routes)},
			{resourcev3.ClusterType, messages(r.Clusters)},
			{resourcev3.EndpointType, messages(r.Endpoints)},
			{resourcev3.SecretType, messages(r.Secrets)},
		} {
			if !yield(t.typ, t.list) {
				return
			}
		}
	}
}

func messages[M proto.Message](list []M) []proto.Message {
	out := make([]proto.Message, len(list))
	for i, m := range list {
		out[i] = m
	}
	return out
}

// ByType groups the resources by xDS type URL, the shape
// cache.NewSnapshot(version, r.ByType()) takes.
func (r *Resources) ByType() map[resourcev3.Type][]types.Resource {
	out := map[resourcev3.Type][]types.Resource{}
	for typ, list := range r.lists() {
		res := make([]types.Resource, len(list))
		for i, m := range list {
			res[i] = m
		}
		out[typ] = res
	}
	return out
}

// validatable is every generated Envoy message: protoc-gen-validate gives
// each one a Validate method.
type validatable interface {
	proto.Message
	Validate() error
}

// anyOf validates msg and packs it into an Any, so a typed_config that
// Envoy would NACK is caught here, where the rule is known.
func anyOf(msg validatable) (*anypb.Any, error) {
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	// Deterministic, so configs with maps (JWT providers, RBAC policies)
	// marshal to the same bytes every time and versions stay stable.
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + string(msg.ProtoReflect().Descriptor().FullName()), Value: b}, nil
}

// fieldError is an EINVALID error about one field.
func fieldError(path string, err error) error {
	if path == "" {
		path = "when"
	}
	return &model.Error{Code: model.EINVALID, Message: "invalid", Fields: []model.FieldError{{Field: path, Message: err.Error()}}}
}
