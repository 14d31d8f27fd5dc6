package cli

import (
	"errors"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/accesslog"
)

func newServeCmd(o *options) *cobra.Command {
	cfg := app.Config{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboard and API (and ADS for Envoys) from the data directory",
		Long: `serve opens (or creates) the database in --data-dir and serves the HTTP API
and dashboard on --listen. On first start it loads the demo workspace and, if
there is no user, creates "admin" and prints its password once on stderr.
With --tls-cert and --tls-key the dashboard and API are served over HTTPS
(session cookies are then Secure and answers carry HSTS); replacing the two
files rotates the certificate without a restart.
SIGINT or SIGTERM stops it gracefully.

ADS (--ads-listen) requires mutual TLS: an Envoy presents a certificate of
the data directory's CA naming its gateway ("routedeck certs issue") and
receives that gateway's configuration only. The server's own certificate,
from the same CA, names the listen address, localhost and --ads-san.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cfg.DataDir, cfg.Logger, cfg.Notices = o.dataDir, o.log, o.stderr
			svc := app.New(cfg)
			if err := svc.Start(ctx); err != nil {
				return err
			}
			var serveErr error
			select {
			case <-ctx.Done():
				o.log.Info("shutting down")
			case serveErr = <-svc.Done():
			}
			return errors.Join(serveErr, svc.Stop())
		},
	}
	cmd.Flags().StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HTTP address for the dashboard and API")
	cmd.Flags().StringVar(&cfg.ADSListen, "ads-listen", "127.0.0.1:18000", "gRPC address for Envoy ADS")
	cmd.Flags().StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate chain to serve the dashboard and API over HTTPS (with --tls-key)")
	cmd.Flags().StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	cmd.Flags().BoolVar(&cfg.NoDemo, "no-demo", false, "do not load the demo workspace into a new database")
	cmd.Flags().StringSliceVar(&cfg.ADSNames, "ads-san", nil, "extra host names or addresses Envoys use to reach ADS, for the server certificate (repeatable)")
	cmd.Flags().BoolVar(&cfg.ADSInsecurePlaintext, "ads-insecure-plaintext", false,
		"serve ADS without TLS, for loopback development only: any client that connects gets any gateway's configuration, keys included")
	cmd.Flags().BoolVar(&cfg.ADSInsecureAllowRemote, "ads-insecure-allow-remote", false, "allow --ads-insecure-plaintext on a non-loopback --ads-listen")
	cmd.Flags().DurationVar(&cfg.AccessLog.MaxAge, "access-log-max-age", accesslog.DefaultMaxAge, "how long each gateway's request log keeps requests")
	cmd.Flags().IntVar(&cfg.AccessLog.MaxEntries, "access-log-max-entries", accesslog.DefaultMaxEntries, "most requests each gateway's request log keeps")
	return cmd
}
