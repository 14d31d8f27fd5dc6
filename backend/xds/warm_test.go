package xds

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds/xdsload"
)

// A warmed snapshot is served with the encodings Warm made, byte for byte
// what SetGateway alone serves, with the same per-resource versions and
// changes; Warm itself serves nothing; what it made is used once.
func TestWarmThenSetGateway(t *testing.T) {
	ctx := context.Background()
	res, err := xdsload.Gateway(200, 1)
	if err != nil {
		t.Fatal(err)
	}
	edited := editVirtualHost(res, 4, func(vh *routev3.VirtualHost) { vh.Routes[0].Name += "-edited" })
	warmed := New(Options{Logger: slog.New(slog.DiscardHandler)})
	plain := New(Options{Logger: slog.New(slog.DiscardHandler)})
	for i, r := range []*translate.Resources{res, edited} {
		version := strconv.Itoa(i + 1)
		warmed.Warm("gw", r)
		if v := warmed.Version("gw"); i == 0 && v != "" || i == 1 && v != "1" {
			t.Fatalf("step %d: Warm changed the version served to %q", i, v)
		}
		made := warmed.warm.byKey["gw"]
		if len(made) == 0 {
			t.Fatalf("step %d: Warm kept nothing", i)
		}
		if err := warmed.SetGateway(ctx, "gw", r, version); err != nil {
			t.Fatal(err)
		}
		if err := plain.SetGateway(ctx, "gw", r, version); err != nil {
			t.Fatal(err)
		}
		if _, ok := warmed.warm.byKey["gw"]; ok {
			t.Fatalf("step %d: what Warm made is kept after SetGateway took it", i)
		}
		got, want := warmed.cache.get("gw"), plain.cache.get("gw")
		for _, typeURL := range typeOrder {
			g, w := got.types[typeURL], want.types[typeURL]
			if g.version != w.version || g.digest != w.digest || strings.Join(g.changed, ",") != strings.Join(w.changed, ",") {
				t.Fatalf("step %d %s: version %q digest %s changed %v, without Warm %q %s %v", i, typeURL, g.version, g.digest, g.changed, w.version, w.digest, w.changed)
			}
			for name, a := range w.byName {
				if !bytes.Equal(g.byName[name].Value, a.Value) || g.hashes[name] != w.hashes[name] {
					t.Fatalf("step %d %s %q: served differently after Warm", i, typeURL, name)
				}
			}
		}
		// The encodings are Warm's, not made again: the route
		// configuration (all new at the first step, one virtual host
		// new at the second) and, at the first step only, the clusters.
		// At the second the clusters are the served ones: Warm makes
		// nothing for them.
		for _, typeURL := range []string{resource.RouteType, resource.ClusterType} {
			if i == 1 && typeURL == resource.ClusterType {
				if made[typeURL] != nil {
					t.Fatalf("step %d: Warm encoded clusters the snapshot served already", i)
				}
				continue
			}
			for name, a := range got.types[typeURL].byName {
				if made[typeURL] == nil || made[typeURL].byName[name] != a {
					t.Fatalf("step %d %s %q: not the encoding Warm made", i, typeURL, name)
				}
			}
		}
	}
}

// Warm keeps no type with an invalid resource: SetGateway reports it as
// without Warm and the previous snapshot stays served.
func TestWarmInvalidRefusedBySetGateway(t *testing.T) {
	ctx := context.Background()
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	res, err := xdsload.Gateway(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetGateway(ctx, "gw", res, "1"); err != nil {
		t.Fatal(err)
	}
	bad := editVirtualHost(res, 7, func(vh *routev3.VirtualHost) { vh.Domains = nil })
	s.Warm("gw", bad)
	if s.warm.byKey["gw"][resource.RouteType] != nil {
		t.Fatal("Warm kept route configurations with an invalid virtual host")
	}
	if err := s.SetGateway(ctx, "gw", bad, "2"); err == nil || !strings.Contains(err.Error(), "Domains") {
		t.Fatalf("warmed invalid virtual host: err = %v, want a validation error naming Domains", err)
	}
	if v := s.Version("gw"); v != "1" {
		t.Fatalf("version served after a refused update = %q, want 1", v)
	}
	// A warmed gateway deleted drops what Warm made.
	s.Warm("gw", res)
	s.DeleteGateway("gw")
	if _, ok := s.warm.byKey["gw"]; ok {
		t.Fatal("DeleteGateway kept what Warm made")
	}
}
