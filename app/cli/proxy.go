package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/localgw"
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
			proxy, err := localgw.Start(opts, adminAddr)
			if err != nil {
				return err
			}
			if adminPath != "" {
				if err := os.WriteFile(adminPath, []byte(proxy.AdminAddr().String()), 0o600); err != nil {
					return errors.Join(err, proxy.Close())
				}
			}
			fmt.Fprintf(o.stdout, "routedeck proxy: node %s of gateway %s, ADS at %s, admin at %s\n", opts.NodeID, opts.Cluster, opts.ADS, proxy.AdminAddr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return proxy.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&bootstrap, "bootstrap", "", "Envoy bootstrap file (YAML or JSON), as routedeck bootstrap writes it")
	f.StringVar(&adminPath, "admin-address-path", "", "write the admin interface's address to this file")
	_ = cmd.MarkFlagRequired("bootstrap")
	return cmd
}
