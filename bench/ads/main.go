// Command ads measures the ADS server: how long a publish takes to be ACKed
// by every connected proxy, and how much memory the server holds with a large
// gateway and many proxies (see package adsbench). Everything runs on
// loopback and stops by itself; results are printed as JSON on stdout.
//
//	go run ./bench/ads [-clients 100,500,2000] [-publishes 10] [-mem-routes 10000] [-mem-clients 1000]
//	                   [-edit-clients 1000 -edit-routes 10000 -edits 30 -edit-modes sotw,vhds]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/routedeck/routedeck/bench/adsbench"
)

// Result is the JSON printed on stdout.
type Result struct {
	GoMaxProcs int               `json:"gomaxprocs"`
	FanOut     []adsbench.FanOut `json:"fanOut"`
	Edit       []adsbench.Edit   `json:"edit,omitempty"`
	Memory     *adsbench.Memory  `json:"memory,omitempty"`
}

func main() {
	role := flag.String("role", "server", "server, or clients (internal: the fleet for the memory run)")
	clientsFlag := flag.String("clients", "100,500,2000", "fleet sizes for the fan-out runs")
	publishes := flag.Int("publishes", 10, "publishes per fan-out run")
	routes := flag.Int("routes", 100, "routes in the fan-out gateway")
	compare := flag.Bool("compare", true, "also run the fan-out with go-control-plane's own SnapshotCache")
	withTLS := flag.Bool("mtls", true, "also run the fan-out over mutual TLS, as serve runs ADS")
	memRoutes := flag.Int("mem-routes", 10000, "routes for the memory run (0 skips it)")
	memClients := flag.Int("mem-clients", 1000, "clients for the memory run")
	memProfile := flag.String("memprofile", "", "write a heap profile at the end of the memory run")
	timeout := flag.Duration("timeout", 5*time.Minute, "stop everything after this long")
	addr := flag.String("addr", "", "ADS address (clients role)")
	n := flag.Int("n", 0, "clients to run (clients role)")
	editClients := flag.Int("edit-clients", 0, "clients for the one-route edit runs, state of the world and delta with VHDS (0 skips them)")
	editRoutes := flag.Int("edit-routes", 10000, "routes of the edit runs' gateway, over a tenth as many hosts")
	edits := flag.Int("edits", 30, "edits per edit run")
	editModes := flag.String("edit-modes", "sotw,vhds", "edit runs: sotw (state-of-the-world clients), vhds (delta clients, VHDS server)")
	flag.Parse()

	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	adsbench.RaiseFileLimit()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	if *role == "clients" {
		if err := adsbench.RunClients(ctx, *addr, *n, ""); err != nil {
			fmt.Fprintln(os.Stderr, "clients:", err)
			os.Exit(1)
		}
		return
	}

	res := Result{GoMaxProcs: runtime.GOMAXPROCS(0)}
	if *editClients > 0 {
		for _, mode := range strings.Split(*editModes, ",") {
			if mode != "sotw" && mode != "vhds" {
				fail(fmt.Errorf("-edit-modes: unknown mode %q", mode))
			}
			vhds := mode == "vhds"
			e, err := adsbench.RunEdit(ctx, vhds, *editClients, *editRoutes, max(1, *editRoutes/10), *edits)
			if err != nil {
				fail(err)
			}
			res.Edit = append(res.Edit, e)
		}
	}
	// The memory run goes first, in a process that has held nothing else.
	if *memRoutes > 0 {
		m, err := adsbench.RunMemory(ctx, *memRoutes, *memClients, *memProfile)
		if err != nil {
			fail(err)
		}
		res.Memory = m
	}
	for _, f := range strings.Split(*clientsFlag, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c <= 0 {
			fail(fmt.Errorf("-clients: bad size %q", f))
		}
		servers := []adsbench.Server{adsbench.Routedeck}
		if *withTLS {
			servers = append(servers, adsbench.RoutedeckMTLS)
		}
		if *compare {
			servers = append(servers, adsbench.GoControlPlane)
		}
		for _, s := range servers {
			r, err := adsbench.RunFanOut(ctx, s, c, *routes, *publishes)
			if err != nil {
				fail(err)
			}
			res.FanOut = append(res.FanOut, r)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
