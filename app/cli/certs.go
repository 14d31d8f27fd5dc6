package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/xds"
)

// viaServer reports whether a command that can work either way goes
// through a server's API: when one is named (--server or the environment),
// else it opens the data directory.
func (o *options) viaServer(cmd *cobra.Command) bool {
	if f := cmd.Flag("server"); f != nil && f.Changed {
		return true
	}
	return os.Getenv(EnvServer) != ""
}

// issued is a gateway certificate as the CLI writes it.
type issued struct {
	creds    xds.Credentials
	identity string
	notAfter time.Time
}

// issueGateway issues a client certificate for gateway, through the server
// (admin token needed) or offline from the data directory; either way the
// audit log records it.
func (o *options) issueGateway(cmd *cobra.Command, gateway string, days int) (*issued, error) {
	if days < 0 {
		return nil, fmt.Errorf("--days %d: must not be negative", days)
	}
	ctx := cmd.Context()
	if o.viaServer(cmd) {
		c, err := o.client()
		if err != nil {
			return nil, err
		}
		var rep api.IssueReply
		if err := c.do(ctx, "POST", "/certs/gateways/"+url.PathEscape(gateway), api.IssueRequest{Days: days}, &rep); err != nil {
			return nil, err
		}
		return &issued{creds: xds.Credentials{Cert: []byte(rep.Cert), Key: []byte(rep.Key), CA: []byte(rep.CA)},
			identity: rep.Identity, notAfter: rep.NotAfter}, nil
	}
	certs, closeStore, err := o.offlineCerts(ctx)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	is, err := certs.IssueGateway(ctx, offlineActor, gateway, time.Duration(days)*24*time.Hour)
	if err != nil {
		return nil, err
	}
	return &issued{creds: xds.Credentials{Cert: is.CertPEM, Key: is.KeyPEM, CA: is.CAPEM}, identity: is.Identity, notAfter: is.NotAfter}, nil
}

// offlineCerts opens the data directory's CA and store.
func (o *options) offlineCerts(ctx context.Context) (*app.Certs, func(), error) {
	st, err := app.OpenStore(ctx, o.dataDir)
	if err != nil {
		return nil, nil, err
	}
	ca, err := app.OpenCA(o.dataDir, nil)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return &app.Certs{CA: ca, Store: st}, func() { st.Close() }, nil
}

func newCertsCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Certificates of routedeck's CA for Envoys' ADS connections",
		Long: `routedeck keeps a CA in its data directory (its key sealed with the master
key). Envoys connect to ADS with a client certificate of that CA naming their
gateway; they get nothing of another gateway's configuration.

Each command works on the server named by --server or ` + EnvServer + ` (admin
token), or else on the data directory directly. Both are audited.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCertsIssueCmd(o), newCertsRotateCACmd(o), newCertsListCmd(o))
	return cmd
}

func newCertsIssueCmd(o *options) *cobra.Command {
	var gateway, out string
	var days int
	var adsServer bool
	var sans []string
	cmd := &cobra.Command{
		Use:   "issue (--gateway G | --ads-server --san NAME...) --out DIR [--days N]",
		Short: "Issue a gateway's client certificate (or an xDS replica's server certificate): writes tls.crt, tls.key and ca.crt into DIR",
		Long: `issue writes DIR/tls.crt (the certificate, for spiffe://routedeck/gateway/G),
DIR/tls.key (its private key) and DIR/ca.crt (every CA the server trusts now).
Each file is replaced by a rename, so an Envoy watching DIR through the
bootstrap's SDS files picks up a renewed certificate without a restart: run
it again before the certificate expires (default lifetime 90 days).

With --ads-server instead of --gateway it issues the ADS server certificate
of an xDS replica ("serve --role xds --ads-cert-dir DIR"), for the names
proxies reach the replicas by (--san, repeatable: host names or addresses).
The replica reads the same three files, again when they change; it never
holds a key of the CA. This works on the data directory only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if adsServer {
				return o.issueServer(cmd, gateway, sans, days, out)
			}
			if gateway == "" {
				return fmt.Errorf("--gateway is required (or --ads-server for a replica's server certificate)")
			}
			is, err := o.issueGateway(cmd, gateway, days)
			if err != nil {
				return err
			}
			if err := xds.WriteCredentials(out, &is.creds); err != nil {
				return err
			}
			fmt.Fprintf(o.stderr, "wrote %s, %s and %s for %s, valid until %s\n",
				filepath.Join(out, xds.CertFile), filepath.Join(out, xds.KeyFile), filepath.Join(out, xds.CAFile),
				is.identity, is.notAfter.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&gateway, "gateway", "", "gateway whose proxies use the certificate (their node.cluster)")
	cmd.Flags().StringVar(&out, "out", "", "directory to write tls.crt, tls.key and ca.crt into (created 0700)")
	cmd.Flags().IntVar(&days, "days", int(pki.DefaultLifetime/(24*time.Hour)), "lifetime in days")
	cmd.Flags().BoolVar(&adsServer, "ads-server", false, "issue an xDS replica's ADS server certificate instead of a gateway's")
	cmd.Flags().StringSliceVar(&sans, "san", nil, "with --ads-server: a host name or address proxies reach the replicas by (repeatable)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// issueServer writes an xDS replica's ADS server certificate, from the
// data directory's CA.
func (o *options) issueServer(cmd *cobra.Command, gateway string, sans []string, days int, out string) error {
	switch {
	case gateway != "":
		return fmt.Errorf("--ads-server and --gateway: choose one")
	case len(sans) == 0:
		return fmt.Errorf("--ads-server needs --san: the host names or addresses proxies reach the replicas by")
	case days < 0:
		return fmt.Errorf("--days %d: must not be negative", days)
	case o.viaServer(cmd):
		return fmt.Errorf("--ads-server works on the data directory (--data-dir), not through --server")
	}
	certs, closeStore, err := o.offlineCerts(cmd.Context())
	if err != nil {
		return err
	}
	defer closeStore()
	is, err := certs.IssueServer(cmd.Context(), offlineActor, sans, time.Duration(days)*24*time.Hour)
	if err != nil {
		return err
	}
	if err := xds.WriteCredentials(out, &xds.Credentials{Cert: is.CertPEM, Key: is.KeyPEM, CA: is.CAPEM}); err != nil {
		return err
	}
	fmt.Fprintf(o.stderr, "wrote %s, %s and %s for %s (%v), valid until %s\n",
		filepath.Join(out, xds.CertFile), filepath.Join(out, xds.KeyFile), filepath.Join(out, xds.CAFile),
		is.Identity, sans, is.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func newCertsRotateCACmd(o *options) *cobra.Command {
	var overlapDays int
	cmd := &cobra.Command{
		Use:   "rotate-ca [--overlap-days N]",
		Short: "Add a new CA that issues from now on; the previous ones stay trusted for the overlap",
		Long: `rotate-ca creates a new CA. Certificates issued from now on (gateways' and the
ADS server's own) come from it; certificates of the previous CAs keep
working until the overlap ends (default 90 days, the default certificate
lifetime). A running server picks the new CA up without a restart. Re-issue
every gateway's certificate (certs issue, or manifests again) within the
overlap: the new ca.crt holds both CAs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if overlapDays < 0 {
				return fmt.Errorf("--overlap-days %d: must not be negative", overlapDays)
			}
			ctx := cmd.Context()
			var info pki.CAInfo
			if o.viaServer(cmd) {
				c, err := o.client()
				if err != nil {
					return err
				}
				if err := c.do(ctx, "POST", "/certs/rotate-ca", api.RotateCARequest{OverlapDays: overlapDays}, &info); err != nil {
					return err
				}
			} else {
				certs, closeStore, err := o.offlineCerts(ctx)
				if err != nil {
					return err
				}
				defer closeStore()
				if info, err = certs.RotateCA(ctx, offlineActor, time.Duration(overlapDays)*24*time.Hour); err != nil {
					return err
				}
			}
			fmt.Fprintf(o.stdout, "new CA %s (serial %s) issues from now on\n", info.Subject, info.Serial)
			return nil
		},
	}
	cmd.Flags().IntVar(&overlapDays, "overlap-days", int(pki.DefaultOverlap/(24*time.Hour)), "days the previous CAs stay trusted")
	return cmd
}

func newCertsListCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the trusted CAs, the issuing one last",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var cas []pki.CAInfo
			if o.viaServer(cmd) {
				c, err := o.client()
				if err != nil {
					return err
				}
				var rep struct {
					Items []pki.CAInfo `json:"items"`
				}
				if err := c.do(ctx, "GET", "/certs/cas", nil, &rep); err != nil {
					return err
				}
				cas = rep.Items
			} else {
				ca, err := app.OpenCA(o.dataDir, nil)
				if err != nil {
					return err
				}
				if cas, err = ca.CAs(); err != nil {
					return err
				}
			}
			for _, c := range cas {
				state := "trusted until " + c.TrustedUntil.UTC().Format(time.RFC3339)
				if c.Active {
					state = "issuing, expires " + c.NotAfter.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(o.stdout, "%s\t%s\t%s\n", c.Serial, c.Subject, state)
			}
			return nil
		},
	}
}
