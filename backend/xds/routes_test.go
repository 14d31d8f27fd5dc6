package xds

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds/xdsload"
)

// editVirtualHost returns a copy of res whose route configuration differs
// from res's in virtual host i alone, replaced by edit's result, the way the
// translator shares unchanged virtual hosts between translations.
func editVirtualHost(res *translate.Resources, i int, edit func(*routev3.VirtualHost)) *translate.Resources {
	out := *res
	old := res.Routes[0]
	rc := &routev3.RouteConfiguration{
		Name:                old.Name,
		VirtualHosts:        append([]*routev3.VirtualHost(nil), old.VirtualHosts...),
		ValidateClusters:    old.ValidateClusters,
		RequestHeadersToAdd: old.RequestHeadersToAdd,
	}
	vh := proto.Clone(old.VirtualHosts[i]).(*routev3.VirtualHost)
	edit(vh)
	rc.VirtualHosts[i] = vh
	out.Routes = []*routev3.RouteConfiguration{rc}
	return &out
}

// servedRoutes returns the bytes key's snapshot serves for route
// configuration name.
func servedRoutes(t *testing.T, s *Server, key, name string) []byte {
	t.Helper()
	a := s.cache.get(key).types[resource.RouteType].byName[name]
	if a == nil {
		t.Fatalf("no route configuration %q served", name)
	}
	return a.Value
}

// The route configuration is encoded virtual host by virtual host, reusing
// the encodings of unchanged ones; the result must be the bytes a plain
// deterministic marshal gives, fields after virtual_hosts included.
func TestRouteConfigurationEncodedLikeMarshal(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	res, err := xdsload.Gateway(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	rc := res.Routes[0]
	rc.ValidateClusters = wrapperspb.Bool(false)
	rc.RequestHeadersToAdd = []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-gw", Value: "a"}}}
	steps := []*translate.Resources{
		res,
		editVirtualHost(res, 3, func(vh *routev3.VirtualHost) { vh.Routes[0].Name += "-edited" }),
	}
	steps = append(steps, editVirtualHost(steps[1], 0, func(vh *routev3.VirtualHost) { vh.Domains = append(vh.Domains, "extra.example") }))
	for i, step := range steps {
		if err := s.SetGateway(ctx, "gw", step, strconv.Itoa(i+1)); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := servedRoutes(t, s, "gw", rc.Name); !bytes.Equal(got, marshalDet(t, step.Routes[0])) {
			t.Fatalf("step %d: served encoding differs from proto.Marshal (%d vs %d bytes)", i, len(got), len(marshalDet(t, step.Routes[0])))
		}
		parts := s.cache.get("gw").types[resource.RouteType].parts
		for _, vh := range step.Routes[0].VirtualHosts {
			if !bytes.Equal(parts[vh], marshalDet(t, vh)) {
				t.Fatalf("step %d: recorded encoding of virtual host %q is wrong", i, vh.Name)
			}
		}
		if len(parts) != len(step.Routes[0].VirtualHosts) {
			t.Fatalf("step %d: %d virtual host encodings held, want %d (only the served ones)", i, len(parts), len(step.Routes[0].VirtualHosts))
		}
	}
}

func marshalDet(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Unchanged virtual hosts skip validation, changed ones do not: an edit
// that makes one virtual host invalid is refused and the previous snapshot
// keeps being served.
func TestChangedVirtualHostValidated(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	res, err := xdsload.Gateway(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetGateway(ctx, "gw", res, "1"); err != nil {
		t.Fatal(err)
	}
	// The first and the last virtual host: each validated by a
	// different goroutine.
	for _, i := range []int{0, len(res.Routes[0].VirtualHosts) - 1} {
		bad := editVirtualHost(res, i, func(vh *routev3.VirtualHost) { vh.Domains = nil })
		err = s.SetGateway(ctx, "gw", bad, "2")
		if err == nil || !strings.Contains(err.Error(), "Domains") {
			t.Fatalf("virtual host %d without domains: err = %v, want a validation error naming Domains", i, err)
		}
		if v := s.Version("gw"); v != "1" {
			t.Fatalf("version served after a refused update = %q, want 1", v)
		}
	}
	// A route configuration level violation is caught too.
	badName := editVirtualHost(res, 2, func(*routev3.VirtualHost) {})
	badName.Routes[0].RequestHeadersToAdd = []*corev3.HeaderValueOption{{}}
	if err := s.SetGateway(ctx, "gw", badName, "3"); err == nil {
		t.Fatal("route configuration with an empty header to add was accepted")
	}
}
