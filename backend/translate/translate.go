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
}

// Resources are a gateway's Envoy configuration, each list sorted by name.
// Resources are shared with the Translator's cache: treat them as read-only.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
	Secrets   []*tlsv3.Secret
}

// Gateway translates the named gateway of ws. Everything the model allows is
// either mapped or rejected with an EINVALID *model.Error naming the rule and
// condition; nothing is silently dropped. Every resource passes Validate().
func Gateway(ws model.Workspace, gateway string, opts Options) (*Resources, error) {
	return NewTranslator().Translate(ws, gateway, opts)
}

// Version is a hash of the deterministic wire form of every resource, so
// equal configurations get equal versions across processes and restarts.
// It marshals everything: call it once per translation.
func (r *Resources) Version() string {
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	for typ, list := range r.lists() {
		fmt.Fprintf(h, "%s/%d\n", typ, len(list))
		for _, m := range list {
			var err error
			buf, err = opts.MarshalAppend(buf[:0], m)
			if err != nil {
				// Only an invalid UTF-8 string can fail here; hash its
				// text form so the version still changes with content.
				fmt.Fprintf(h, "%v", m)
				continue
			}
			fmt.Fprintf(h, "%d:", len(buf))
			h.Write(buf)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
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
