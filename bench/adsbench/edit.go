package adsbench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/backend/xds/xdsload"
)

// Edit is how long one-route edits take to reach every connected proxy.
type Edit struct {
	// Mode is "sotw" (state-of-the-world clients, whole route
	// configurations) or "vhds" (delta clients, virtual hosts by VHDS).
	Mode      string  `json:"mode"`
	Clients   int     `json:"clients"`
	Routes    int     `json:"routes"`
	Hosts     int     `json:"hosts"`
	Edits     int     `json:"edits"`
	ConnectMs float64 `json:"connectMs"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
	MaxMs     float64 `json:"maxMs"`
	// SetP50Ms is the part of an edit spent setting the snapshot.
	SetP50Ms float64 `json:"setP50Ms"`
}

// RunEdit serves a gateway of routes routes over hosts virtual hosts
// (xdsload.GatewayHosts) to clients ADS clients and times edits one-route
// edits, each from the snapshot set until every client ACKed it. With
// vhds, the server runs with Options.VHDS and the clients speak delta
// xDS, so an edit reaches them as the one virtual host it changed;
// otherwise they are state-of-the-world clients, sent the whole route
// configuration.
func RunEdit(ctx context.Context, vhds bool, clients, routes, hosts, edits int) (Edit, error) {
	r := Edit{Mode: "sotw", Clients: clients, Routes: routes, Hosts: hosts, Edits: edits}
	if vhds {
		r.Mode = "vhds"
	}
	s := xds.New(xds.Options{Logger: slog.New(slog.DiscardHandler), VHDS: vhds})
	addr, stop, err := serve(ctx, s.Serve)
	if err != nil {
		return r, err
	}
	defer stop()
	res, err := xdsload.GatewayHosts(routes, hosts, 1)
	if err != nil {
		return r, err
	}
	if err := s.SetGateway(ctx, "bench", res, "1"); err != nil {
		return r, err
	}
	start := time.Now()
	var fleet *xdsload.Fleet
	if vhds {
		fleet, err = xdsload.StartDelta(ctx, addr, "bench", "envoy", clients)
	} else {
		fleet, err = xdsload.Start(ctx, addr, "bench", "envoy", clients)
	}
	if err != nil {
		return r, err
	}
	defer fleet.Stop()
	// What a proxy must hold to serve the routes, and so what an edit
	// is acknowledged as.
	waitType := resource.RouteType
	if vhds {
		waitType = resource.VirtualHostType
	}
	for _, t := range append(slices.Clone(xdsload.Types), waitType) {
		if err := fleet.Wait(ctx, t, "1"); err != nil {
			return r, fmt.Errorf("%s, %d clients, connect: %w", r.Mode, clients, err)
		}
	}
	r.ConnectMs = ms(time.Since(start))
	var took, set []float64
	for i := range edits {
		// Routes far apart, so successive edits touch other hosts.
		res = xdsload.EditRoute(res, i*7919, fmt.Sprintf("/edited/%d", i))
		v := strconv.Itoa(i + 2)
		start := time.Now()
		if err := s.SetGateway(ctx, "bench", res, v); err != nil {
			return r, err
		}
		set = append(set, ms(time.Since(start)))
		if err := fleet.Wait(ctx, waitType, v); err != nil {
			return r, fmt.Errorf("%s, %d clients, edit %d: %w", r.Mode, clients, i, err)
		}
		took = append(took, ms(time.Since(start)))
	}
	slices.Sort(took)
	r.P50Ms = took[len(took)/2]
	r.P99Ms = took[min(len(took)-1, len(took)*99/100)]
	r.MaxMs = took[len(took)-1]
	slices.Sort(set)
	r.SetP50Ms = set[len(set)/2]
	return r, nil
}
