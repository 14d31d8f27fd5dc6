package xds

import (
	"sync/atomic"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/routedeck/routedeck/backend/parallel"
)

// virtualHostsField is RouteConfiguration.virtual_hosts; name (1) is the
// only field before it, so name, virtual hosts, then the rest encoded one
// after the other is the same byte sequence as marshalling the whole.
const virtualHostsField protowire.Number = 2

// routeShell returns a copy of rc without its virtual hosts (and without its
// name unless withName), sharing every other field with rc.
func routeShell(rc *routev3.RouteConfiguration, withName bool) *routev3.RouteConfiguration {
	out := &routev3.RouteConfiguration{}
	dst := out.ProtoReflect()
	src := rc.ProtoReflect()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch fd.Number() {
		case virtualHostsField:
		case 1:
			if withName {
				dst.Set(fd, v)
			}
		default:
			dst.Set(fd, v)
		}
		return true
	})
	dst.SetUnknown(src.GetUnknown())
	return out
}

// marshalRoutes encodes rc deterministically, taking the encoding of every
// virtual host prev or warm already has from there, and records where each
// virtual host's encoding lies in the result.
func (t *typeResources) marshalRoutes(rc *routev3.RouteConfiguration, prev, warm *typeResources) ([]byte, error) {
	opts := proto.MarshalOptions{Deterministic: true}
	head, err := opts.Marshal(&routev3.RouteConfiguration{Name: rc.GetName()})
	if err != nil {
		return nil, err
	}
	tail, err := opts.Marshal(routeShell(rc, false))
	if err != nil {
		return nil, err
	}
	vhs := rc.GetVirtualHosts()
	encs := make([][]byte, len(vhs))
	errs := make([]error, len(vhs))
	parallel.Chunks(len(vhs), parallelMin, func(start, end int) {
		for i := start; i < end; i++ {
			b, ok := prev.part(vhs[i])
			if !ok {
				b, ok = warm.part(vhs[i])
			}
			if !ok {
				b, errs[i] = opts.Marshal(vhs[i])
			}
			encs[i] = b
		}
	})
	size := len(head) + len(tail)
	for i, b := range encs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		size += protowire.SizeTag(virtualHostsField) + protowire.SizeBytes(len(b))
	}
	if t.parts == nil {
		t.parts = make(map[*routev3.VirtualHost][]byte, len(encs))
	}
	// Sized exactly, so the windows recorded below stay valid.
	buf := make([]byte, 0, size)
	buf = append(buf, head...)
	for i, vh := range rc.GetVirtualHosts() {
		buf = protowire.AppendTag(buf, virtualHostsField, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(len(encs[i])))
		start := len(buf)
		buf = append(buf, encs[i]...)
		if vh != nil {
			t.parts[vh] = buf[start:len(buf):len(buf)]
		}
	}
	return append(buf, tail...), nil
}

// keepParts carries the virtual host encodings of rc, unchanged since prev,
// over to t.
func (t *typeResources) keepParts(rc *routev3.RouteConfiguration, prev *typeResources) {
	if t.parts == nil {
		t.parts = make(map[*routev3.VirtualHost][]byte, len(rc.GetVirtualHosts()))
	}
	for _, vh := range rc.GetVirtualHosts() {
		if b, ok := prev.part(vh); ok {
			t.parts[vh] = b
		}
	}
}

// part returns the encoding of vh that t holds. Only virtual hosts of a
// snapshot that passed validation are held, so a hit is also valid.
func (t *typeResources) part(vh *routev3.VirtualHost) ([]byte, bool) {
	if t == nil || vh == nil {
		return nil, false
	}
	b, ok := t.parts[vh]
	return b, ok
}

// routesValid reports whether rc passes validation, validating only the
// virtual hosts neither prev nor warm holds already.
func routesValid(rc *routev3.RouteConfiguration, prev, warm *typeResources) bool {
	if routeShell(rc, true).ValidateAll() != nil {
		return false
	}
	vhs := rc.GetVirtualHosts()
	var invalid atomic.Bool
	parallel.Chunks(len(vhs), parallelMin, func(start, end int) {
		for _, vh := range vhs[start:end] {
			if invalid.Load() {
				return
			}
			if _, ok := prev.part(vh); ok {
				continue
			}
			if _, ok := warm.part(vh); ok {
				continue
			}
			if vh.ValidateAll() != nil {
				invalid.Store(true)
				return
			}
		}
	})
	return !invalid.Load()
}

// parallelMin is the fewest resources (or virtual hosts) per goroutine:
// marshalling one costs tens of microseconds, starting a goroutine one.
const parallelMin = 4
