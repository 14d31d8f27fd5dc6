// Package localgw runs routedeck's simulated Envoy (sandbox/sim) as a
// gateway's proxy: the standalone `routedeck proxy` process, and the local
// gateways the server runs in its own process on loopback ports, so a
// gateway can be tried, and its traffic seen, without an Envoy binary or a
// cluster. Either way the proxy is an ordinary client of the server: it
// takes the gateway's published configuration over ADS with the gateway's
// identity and reports its requests over the access log service.
package localgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/routedeck/routedeck/sandbox/sim"
)

// Proxy is a running simulated Envoy with the part of Envoy's admin
// interface that probes and scripts use.
type Proxy struct {
	dp        *sim.DataPlane
	admin     *http.Server
	adminAddr net.Addr
	served    chan struct{} // closed when the admin server has stopped
}

// Start binds the admin interface on admin (host:port; port 0 picks a
// free one), then starts the data plane: an address that cannot be bound
// is reported before anything connects to ADS.
func Start(opts sim.DataPlaneOptions, admin string) (*Proxy, error) {
	lis, err := net.Listen("tcp", admin)
	if err != nil {
		return nil, fmt.Errorf("admin interface: %w", err)
	}
	dp, err := sim.Start(opts)
	if err != nil {
		lis.Close()
		return nil, err
	}
	p := &Proxy{dp: dp, adminAddr: lis.Addr(), served: make(chan struct{}),
		admin: &http.Server{Handler: AdminHandler(dp), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(p.served)
		_ = p.admin.Serve(lis)
	}()
	return p, nil
}

// DataPlane is the simulated Envoy.
func (p *Proxy) DataPlane() *sim.DataPlane { return p.dp }

// AdminAddr is the address the admin interface listens on.
func (p *Proxy) AdminAddr() net.Addr { return p.adminAddr }

// WaitLive waits until the proxy serves its first configuration (see Live)
// or ctx ends.
func (p *Proxy) WaitLive(ctx context.Context) (sim.Status, error) {
	return p.dp.WaitFor(ctx, Live)
}

// Close stops the admin interface, the ADS stream and every listener; the
// ports are free when it returns.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.admin.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = p.admin.Close()
	}
	<-p.served
	return errors.Join(err, p.dp.Close())
}

// Live reports whether a proxy has its first configuration: clusters and
// listeners accepted, every EDS cluster with its load assignment and every
// listener served with its routes, no secret awaited, as Envoy's
// initialization finishes before it is LIVE.
func Live(st sim.Status) bool {
	if st.Versions[sim.TypeCluster] == "" || st.Versions[sim.TypeListener] == "" || len(st.Warming) > 0 || len(st.WarmingClusters) > 0 || len(st.AwaitingEndpoints) > 0 {
		return false
	}
	for name := range st.Listeners {
		if !st.Ready[name] {
			return false
		}
	}
	return true
}

// AdminHandler serves what the proxy answers of Envoy's admin interface:
//
//	/ready  200 LIVE once the first clusters and listeners are served,
//	        503 INITIALIZING before
//	/stats  counters and gauges as "name: value" lines (?format=json)
func AdminHandler(dp *sim.DataPlane) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		if Live(dp.Status()) {
			fmt.Fprintln(w, "LIVE")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "INITIALIZING")
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		stats := dp.Stats()
		names := sim.StatNames(stats)
		switch r.URL.Query().Get("format") {
		case "json":
			type stat struct {
				Name  string `json:"name"`
				Value uint64 `json:"value"`
			}
			out := struct {
				Stats []stat `json:"stats"`
			}{Stats: make([]stat, 0, len(names))}
			for _, n := range names {
				out.Stats = append(out.Stats, stat{n, stats[n]})
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		case "":
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			for _, n := range names {
				fmt.Fprintf(w, "%s: %d\n", n, stats[n])
			}
		default:
			http.Error(w, "usage: /stats?format=json", http.StatusBadRequest)
		}
	})
	return mux
}
