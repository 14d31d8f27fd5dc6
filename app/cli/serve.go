package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/memlimit"
)

// Roles of `serve`.
const (
	roleWriter = "writer"
	roleXDS    = "xds"
)

func newServeCmd(o *options) *cobra.Command {
	cfg := app.Config{}
	rcfg := app.ReplicaConfig{}
	role := roleWriter
	serveADS := true
	memLimit := memlimit.Auto
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
from the same CA, names the listen address, localhost and --ads-san.
With KV publishing to Consul on, --serve-ads=false leaves ADS to xDS
replicas (the sandbox keeps a loopback ADS port of its own).

--role xds runs an xDS replica instead: no database, no dashboard. It
follows the versions the writer publishes to Consul KV (CONSUL_HTTP_ADDR or
--consul-addr) with blocking queries, serves only complete publishes, and
serves them over ADS on --ads-listen with mutual TLS from --ads-cert-dir
(tls.crt and tls.key from "certs issue --ads-server", ca.crt the CAs whose
gateway certificates it accepts). --listen serves /api/v1/health and
/api/v1/ready to anyone, for probes; its status (/api/v1/status,
/api/v1/gateways/NAME/proxies, /metrics) needs the bearer token in
--status-token-file, or without one answers clients on loopback only. It
reports its proxies to Consul for the writer's console. Credentials
sealed in KV open with ROUTEDECK_MASTER_KEY or --master-key-file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if err := checkRoleFlags(cmd, role); err != nil {
				return err
			}
			if v := os.Getenv(EnvMemoryLimit); v != "" && !cmd.Flags().Changed("memory-limit") {
				if err := memLimit.Set(v); err != nil {
					return fmt.Errorf("%s: %w", EnvMemoryLimit, err)
				}
			}
			defer memlimit.Start(memLimit, memlimit.Env{}, o.log)()
			if role == roleXDS {
				rcfg.Listen, rcfg.ADSListen = cfg.Listen, cfg.ADSListen
				rcfg.ADSInsecurePlaintext, rcfg.ADSInsecureAllowRemote = cfg.ADSInsecurePlaintext, cfg.ADSInsecureAllowRemote
				rcfg.Logger = o.log
				return runUntilStopped(ctx, o, app.NewReplica(rcfg))
			}
			if !serveADS {
				cfg.ADSListen = ""
			}
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
	cmd.Flags().BoolVar(&cfg.ADSVHDS, "ads-vhds", false,
		"send route configurations to delta ADS streams with their virtual hosts as resources of their own (VHDS), so an edit sends only the hosts it changed; bootstraps rendered by this server then use delta ADS")
	cmd.Flags().BoolVar(&cfg.ADSInsecureAllowRemote, "ads-insecure-allow-remote", false, "allow --ads-insecure-plaintext on a non-loopback --ads-listen")
	cmd.Flags().DurationVar(&cfg.AccessLog.MaxAge, "access-log-max-age", accesslog.DefaultMaxAge, "how long each gateway's request log keeps requests")
	cmd.Flags().IntVar(&cfg.AccessLog.MaxEntries, "access-log-max-entries", accesslog.DefaultMaxEntries, "most requests each gateway's request log keeps")
	cmd.Flags().StringVar(&role, "role", roleWriter, "writer (the console, with the database) or xds (a replica serving ADS from Consul KV)")
	cmd.Flags().BoolVar(&serveADS, "serve-ads", true, "writer: serve ADS to proxies on --ads-listen; false leaves them to xDS replicas")
	cmd.Flags().StringVar(&rcfg.ConsulAddr, "consul-addr", "", "xds: Consul HTTP address (default: CONSUL_HTTP_ADDR)")
	cmd.Flags().StringVar(&rcfg.ADSCertDir, "ads-cert-dir", "", "xds: directory with tls.crt, tls.key (certs issue --ads-server) and ca.crt")
	cmd.Flags().StringSliceVar(&rcfg.Gateways, "gateway", nil, "xds: serve only these gateways (repeatable; default every published gateway)")
	cmd.Flags().StringVar(&rcfg.ID, "replica-id", "", "xds: this replica's name in reports (default: the host name)")
	cmd.Flags().StringVar(&rcfg.MasterKeyFile, "master-key-file", "", "xds: the writer's master.key, to open sealed credentials (or ROUTEDECK_MASTER_KEY)")
	cmd.Flags().StringVar(&rcfg.StatusTokenFile, "status-token-file", "",
		"xds: file holding the bearer token that reads the status, proxies and metrics over the network (default: loopback clients only)")
	cmd.Flags().Var(&memLimit, "memory-limit", fmt.Sprintf("soft memory limit the runtime collects and returns memory to stay under: auto (%d%% of the container's limit, none outside a container; GOMEMLIMIT when set), off, or a size such as 512MiB; "+
		"raised while the live heap needs more, so the collector keeps %d%% headroom (env %s)",
		int(memlimit.CgroupShare*100), int(memlimit.MinHeadroom*100), EnvMemoryLimit))
	cmd.Flags().StringVar(&cfg.AccessLog.Files.Dir, "access-log-dir", "",
		"also write each gateway's requests as JSON lines to GATEWAY.jsonl in this directory, for log shippers; rotated by size")
	cmd.Flags().Int64Var(&cfg.AccessLog.Files.MaxBytes, "access-log-file-max-bytes", accesslog.DefaultFileMaxBytes,
		"size at which a gateway's JSON-lines file is rotated (to GATEWAY.jsonl.1, .2, ...)")
	cmd.Flags().IntVar(&cfg.AccessLog.Files.MaxFiles, "access-log-file-max-files", accesslog.DefaultFileMaxFiles,
		"rotated JSON-lines files kept per gateway")
	return cmd
}

// EnvMemoryLimit sets --memory-limit.
const EnvMemoryLimit = "ROUTEDECK_MEMORY_LIMIT"

// writerOnly and xdsOnly are the flags that belong to one role.
var (
	writerOnly = []string{"tls-cert", "tls-key", "no-demo", "ads-san", "access-log-max-age", "access-log-max-entries", "serve-ads", "data-dir"}
	xdsOnly    = []string{"consul-addr", "ads-cert-dir", "gateway", "replica-id", "master-key-file", "status-token-file"}
)

// checkRoleFlags refuses a role that does not exist and flags of the other
// role, which would otherwise be ignored without a word.
func checkRoleFlags(cmd *cobra.Command, role string) error {
	var wrong []string
	switch role {
	case roleWriter:
		wrong = xdsOnly
	case roleXDS:
		wrong = writerOnly
	default:
		return fmt.Errorf("--role %q: want %s or %s", role, roleWriter, roleXDS)
	}
	for _, name := range wrong {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			return fmt.Errorf("--%s does not apply to --role %s", name, role)
		}
		if f := cmd.InheritedFlags().Lookup(name); f != nil && f.Changed {
			return fmt.Errorf("--%s does not apply to --role %s", name, role)
		}
	}
	return nil
}

// runUntilStopped runs a replica until SIGINT/SIGTERM or a serving failure.
func runUntilStopped(ctx context.Context, o *options, svc *app.ReplicaService) error {
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
}
