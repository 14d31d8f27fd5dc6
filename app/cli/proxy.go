package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/sim"
)

func newProxyCmd(o *options) *cobra.Command {
	var bootstrap, adminPath string
	cmd := &cobra.Command{
		Use:   "proxy --bootstrap FILE",
		Short: "Run the simulated Envoy as a gateway proxy, configured by an Envoy bootstrap",
		Long: `proxy runs routedeck's simulated Envoy as a proxy of a gateway, from the
bootstrap "routedeck bootstrap" writes: it connects to the ADS server the
bootstrap names as its node (over mutual TLS with the certificate and trust
of its SDS files, read again on every reconnect), serves the listeners it
receives on their configured addresses, and answers on the bootstrap's
admin address as Envoy's admin interface does for:

  /ready   200 LIVE once the first clusters and listeners are served,
           503 with the state before
  /stats   counters and gauges as "name: value" lines (?format=json)

--admin-address-path FILE writes the admin address there, as Envoy's flag
of that name does (useful with an admin port of 0). The proxy runs until
interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(o.stderr, o.logFormat, o.logLevel)
			if err != nil {
				return err
			}
			data, err := input.ReadFile(bootstrap)
			if err != nil {
				return err
			}
			b, err := xds.ParseBootstrapYAML(data)
			if err != nil {
				return fmt.Errorf("%s: %w", bootstrap, err)
			}
			opts, err := sim.FromBootstrap(b)
			if err != nil {
				return fmt.Errorf("%s: %w", bootstrap, err)
			}
			sa := b.GetAdmin().GetAddress().GetSocketAddress()
			if sa == nil {
				return fmt.Errorf("%s: admin.address: a socket address is required", bootstrap)
			}
			adminAddr := net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
			opts.BindConfiguredAddress, opts.Logger = true, log
			lis, err := net.Listen("tcp", adminAddr)
			if err != nil {
				return fmt.Errorf("admin interface: %w", err)
			}
			dp, err := sim.Start(opts)
			if err != nil {
				lis.Close()
				return err
			}
			defer dp.Close()
			if adminPath != "" {
				if err := os.WriteFile(adminPath, []byte(lis.Addr().String()), 0o600); err != nil {
					lis.Close()
					return err
				}
			}
			admin := &http.Server{Handler: adminHandler(dp), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = admin.Serve(lis) }()
			fmt.Fprintf(o.stdout, "routedeck proxy: node %s of gateway %s, ADS at %s, admin at %s\n", opts.NodeID, opts.Cluster, opts.ADS, lis.Addr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return admin.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&bootstrap, "bootstrap", "", "Envoy bootstrap file (YAML or JSON), as routedeck bootstrap writes it")
	f.StringVar(&adminPath, "admin-address-path", "", "write the admin interface's address to this file")
	_ = cmd.MarkFlagRequired("bootstrap")
	return cmd
}

// live reports whether the proxy has its first configuration: clusters
// and listeners accepted and every listener served with its routes, no
// secret awaited, as Envoy's initialization finishes before it is LIVE.
func live(st sim.Status) bool {
	if st.Versions[sim.TypeCluster] == "" || st.Versions[sim.TypeListener] == "" || len(st.Warming) > 0 || len(st.WarmingClusters) > 0 {
		return false
	}
	for name := range st.Listeners {
		if !st.Ready[name] {
			return false
		}
	}
	return true
}

// adminHandler is the part of Envoy's admin interface the proxy serves.
func adminHandler(dp *sim.DataPlane) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		if live(dp.Status()) {
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
