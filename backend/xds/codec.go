package xds

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"
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

// Unmarshal decodes a DiscoveryRequest's resource names through
// internedNames and tells an access log message its encoded size (so the
// service need not measure the decoded message again); everything else as
// gRPC's proto codec does.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*sizedMessage); ok {
		m.size = data.Len()
		return c.base.Unmarshal(data, m.msg)
	}
	req, ok := v.(*discovery.DiscoveryRequest)
	if !ok {
		return c.base.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return unmarshalRequest(buf.ReadOnlyData(), req)
}

// In the state of the world a proxy repeats every name it subscribes to in
// every request, ACKs included: an Envoy with a thousand EDS clusters sends
// a thousand names with each ACK of a load assignment, and so do all the
// other proxies of its gateway. Decoded as usual, that is a thousand
// strings allocated per request, to be compared with the same names and
// dropped. unmarshalRequest decodes the run of resource_names fields once
// per distinct run and hands every request carrying the same bytes the
// same slice, which consumers only read.

// resourceNamesField is DiscoveryRequest.resource_names.
const resourceNamesField protowire.Number = 3

// Bounds on the shared name lists: what a proxy sends must not grow them
// without limit. Past them, names are decoded per request.
const (
	maxInternedLists = 256
	maxInternedBytes = 32 << 20
	// minInternedRun is the shortest run of names worth sharing.
	minInternedRun = 256
)

var interned struct {
	sync.RWMutex
	lists map[string][]string
	bytes int
}

// unmarshalRequest decodes b into req.
func unmarshalRequest(b []byte, req *discovery.DiscoveryRequest) error {
	start, end, names, err := knownRun(b)
	if err != nil {
		return proto.Unmarshal(b, req)
	}
	if names == nil {
		start, end, err = namesRun(b)
	}
	if names == nil && (err != nil || end-start < minInternedRun) {
		return proto.Unmarshal(b, req)
	}
	run := b[start:end]
	if names == nil {
		interned.RLock()
		names = interned.lists[string(run)]
		interned.RUnlock()
	}
	if names == nil {
		if names, err = decodeNames(run); err != nil {
			return err
		}
		interned.Lock()
		if interned.lists == nil {
			interned.lists = map[string][]string{}
		}
		if len(interned.lists) < maxInternedLists && interned.bytes+len(run) <= maxInternedBytes {
			interned.lists[string(run)] = names
			interned.bytes += len(run)
		}
		interned.Unlock()
	}
	// The encoding of a message is the merge of its parts: decode what
	// precedes the names and what follows them.
	if err := proto.Unmarshal(b[:start], req); err != nil {
		return err
	}
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(b[end:], req); err != nil {
		return err
	}
	if len(req.ResourceNames) > 0 {
		// Names outside the run too (fields out of order): the whole
		// list, decoded the usual way.
		req.Reset()
		return proto.Unmarshal(b, req)
	}
	req.ResourceNames = names
	return nil
}

// knownRun finds where the names start in b (the fields before them are
// few and short) and whether a known list is what follows: the same
// bytes, then a field that is not a name. Comparing bytes is cheaper than
// walking a thousand names to find where they end.
func knownRun(b []byte) (start, end int, names []string, err error) {
	for start < len(b) {
		num, typ, n := protowire.ConsumeTag(b[start:])
		if n < 0 {
			return 0, 0, nil, protowire.ParseError(n)
		}
		if num == resourceNamesField && typ == protowire.BytesType {
			break
		}
		m := protowire.ConsumeFieldValue(num, typ, b[start+n:])
		if m < 0 {
			return 0, 0, nil, protowire.ParseError(m)
		}
		start += n + m
	}
	rest := b[start:]
	if len(rest) < minInternedRun {
		return start, start, nil, nil
	}
	interned.RLock()
	defer interned.RUnlock()
	for key, list := range interned.lists {
		if len(rest) < len(key) || string(rest[:len(key)]) != key {
			continue
		}
		if after := rest[len(key):]; len(after) > 0 {
			if num, _, n := protowire.ConsumeTag(after); n > 0 && num == resourceNamesField {
				continue // more names follow
			}
		}
		return start, start + len(key), list, nil
	}
	return start, start, nil, nil
}

// namesRun returns the bounds of the first run of consecutive
// resource_names fields in b; start == end when there is none.
func namesRun(b []byte) (start, end int, err error) {
	start, end = -1, -1
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[i+n:])
		if m < 0 {
			return 0, 0, protowire.ParseError(m)
		}
		switch {
		case num == resourceNamesField && typ == protowire.BytesType && start < 0:
			start = i
		case num != resourceNamesField && start >= 0:
			return start, i, nil
		}
		i += n + m
	}
	if start < 0 {
		return 0, 0, nil
	}
	return start, len(b), nil
}

// decodeNames decodes a run of resource_names fields, checking each is
// UTF-8 as the proto decoder does.
func decodeNames(run []byte) ([]string, error) {
	var names []string
	for len(run) > 0 {
		_, _, n := protowire.ConsumeTag(run)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		v, m := protowire.ConsumeBytes(run[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if !utf8.Valid(v) {
			return nil, errors.New("resource_names: invalid UTF-8")
		}
		names = append(names, string(v))
		run = run[n+m:]
	}
	return names, nil
}
