package xds

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds/xdsload"
)

// BenchmarkPublishAcked measures a route publish until every connected ADS
// client has ACKed it: 100 routes, N clients on loopback, each its own gRPC
// connection. Targets: 500 clients in 300ms, 2,000 in 1s.
func BenchmarkPublishAcked(b *testing.B) {
	for _, clients := range []int{100, 500, 2000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			s, addr := startServer(b)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			gen := 0
			publish := func() string {
				gen++
				res, err := xdsload.Gateway(100, gen)
				if err != nil {
					b.Fatal(err)
				}
				v := strconv.Itoa(gen)
				if err := s.SetGateway(ctx, "bench", res, v); err != nil {
					b.Fatal(err)
				}
				return v
			}
			v := publish()
			fleet, err := xdsload.Start(ctx, addr, "bench", "envoy", clients)
			if err != nil {
				b.Fatal(err)
			}
			defer fleet.Stop()
			if err := fleet.WaitAll(ctx, v); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				v := publish()
				if err := fleet.Wait(ctx, resource.RouteType, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSetGateway measures validation and marshalling of a 10,000-route
// snapshot, which happens once per publish whatever the number of proxies.
func BenchmarkSetGateway(b *testing.B) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	var gens [2]*translate.Resources
	for i := range gens {
		res, err := xdsload.Gateway(10000, i)
		if err != nil {
			b.Fatal(err)
		}
		gens[i] = res
	}
	i := 0
	for b.Loop() {
		i++
		if err := s.SetGateway(ctx, "bench", gens[i%2], strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetGatewayEdit measures a publish after a one-rule edit of a
// 10,000-route snapshot: one virtual host differs, the rest are the very
// messages already served, as the translator hands them over.
func BenchmarkSetGatewayEdit(b *testing.B) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	res, err := xdsload.Gateway(10000, 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SetGateway(ctx, "bench", res, "0"); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		res = editVirtualHost(res, i%len(res.Routes[0].VirtualHosts), func(vh *routev3.VirtualHost) {
			vh.Routes[0].Name = "edited-" + strconv.Itoa(i)
		})
		if err := s.SetGateway(ctx, "bench", res, strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
}
