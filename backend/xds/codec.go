package xds

import (
	"fmt"
	"sync"
	"unsafe"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// A publish sends the same resources to every proxy of a gateway; only the
// nonce differs. gRPC's proto codec would serialise the whole
// DiscoveryResponse, resources included, once per stream, and hold that copy
// until the proxy has read it: with a 10,000-route configuration and a
// thousand proxies that is gigabytes in flight. codec instead encodes the
// response without its nonce once, shares those bytes (read-only) across all
// streams, and appends the nonce field per stream. Protobuf accepts fields in
// any order, so the result is a valid DiscoveryResponse.
//
// The shared encoding is found through the resource slice itself: a
// typeResources hands every stream with the same subscription the same
// backing array, registered in sharedEncodings.

// sharedEncoding is the lazily built wire form of one shared resource list.
type sharedEncoding struct {
	version, typeURL string
	resources        []*anypb.Any

	once  sync.Once
	bytes []byte
	err   error
}

func (e *sharedEncoding) encode() ([]byte, error) {
	e.once.Do(func() {
		e.bytes, e.err = proto.MarshalOptions{Deterministic: true}.Marshal(&discovery.DiscoveryResponse{
			VersionInfo: e.version,
			Resources:   e.resources,
			TypeUrl:     e.typeURL,
		})
	})
	return e.bytes, e.err
}

// sharedEncodings maps the address of a shared slice's first element to its
// *sharedEncoding.
var sharedEncodings sync.Map

func registerShared(version, typeURL string, resources []*anypb.Any) {
	if len(resources) == 0 {
		return
	}
	sharedEncodings.Store(unsafe.SliceData(resources), &sharedEncoding{version: version, typeURL: typeURL, resources: resources})
}

func unregisterShared(resources []*anypb.Any) {
	if len(resources) > 0 {
		sharedEncodings.Delete(unsafe.SliceData(resources))
	}
}

// lookupShared returns the shared encoding of resp, or nil when resp is not
// exactly a registered list with nothing else set but the nonce.
func lookupShared(resp *discovery.DiscoveryResponse) *sharedEncoding {
	if len(resp.Resources) == 0 || resp.Canary || resp.ControlPlane != nil || len(resp.ResourceErrors) > 0 || len(resp.ProtoReflect().GetUnknown()) > 0 {
		return nil
	}
	v, ok := sharedEncodings.Load(unsafe.SliceData(resp.Resources))
	if !ok {
		return nil
	}
	e := v.(*sharedEncoding)
	if len(e.resources) != len(resp.Resources) || e.version != resp.VersionInfo || e.typeURL != resp.TypeUrl {
		return nil
	}
	return e
}

// codec is gRPC's proto codec with shared encodings for discovery responses.
type codec struct{ base encoding.CodecV2 }

func newCodec() codec { return codec{base: encoding.GetCodecV2(protocodec.Name)} }

func (c codec) Name() string { return protocodec.Name }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*sizedMessage); ok {
		m.size = data.Len()
		return c.base.Unmarshal(data, m.msg)
	}
	return c.base.Unmarshal(data, v)
}

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	resp, ok := v.(*discovery.DiscoveryResponse)
	if !ok {
		return c.base.Marshal(v)
	}
	e := lookupShared(resp)
	if e == nil {
		return c.base.Marshal(v)
	}
	b, err := e.encode()
	if err != nil {
		return nil, fmt.Errorf("encode shared %s response: %w", e.typeURL, err)
	}
	out := mem.BufferSlice{mem.SliceBuffer(b)}
	if resp.Nonce != "" {
		nonce := protowire.AppendTag(nil, 5, protowire.BytesType) // DiscoveryResponse.nonce
		nonce = protowire.AppendString(nonce, resp.Nonce)
		out = append(out, mem.SliceBuffer(nonce))
	}
	return out, nil
}
