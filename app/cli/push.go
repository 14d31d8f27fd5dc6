package cli

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	kubepub "github.com/routedeck/routedeck/backend/publish/kubernetes"
	"github.com/routedeck/routedeck/backend/xds"
)

func newManifestsCmd(o *options) *cobra.Command {
	var gateway, file, statusTokenFile string
	var days int
	var ads []string
	var opts kubepub.ManifestOptions
	var ropts kubepub.ReplicaOptions
	var sans []string
	cmd := &cobra.Command{
		Use:   "manifests --gateway G [--ads HOST:PORT] [-f FILE] [--namespace NS] [--service-type LoadBalancer|NodePort] [--aws-nlb]",
		Short: "Print Kubernetes manifests that run a gateway's Envoys (for kubectl apply -f -)",
		Long: `manifests prints a multi-document YAML stream: the Namespace (with
--create-namespace), a kubernetes.io/tls Secret with a new ADS client
certificate of the gateway (tls.crt, tls.key) and routedeck's CA bundle
(ca.crt), a ConfigMap holding the Envoy bootstrap and its SDS files, a
Deployment running Envoy with both mounted, and a Service exposing the
gateway's listeners. The gateway is read from -f FILE, or else from the
server when one is named (--server or ` + EnvServer + `), or else from the
data directory; an unknown gateway is an error. With a server, the ADS
address (unless --ads names another), its TLS mode and the CA come from it,
and the certificate is issued through it (admin token); without one,
--ads is required and the certificate is issued from the data directory.

Applying the output again renews the certificate in place: Envoy picks up
the updated Secret without a restart.

--ads may be repeated: several xDS replicas ("serve --role xds") become
hosts of the bootstrap's ADS cluster. A Kubernetes Service in front of the
replicas (manifests --xds-replicas prints one) is one address.

--xds-replicas N prints the xDS replicas instead ("serve --role xds"): a
kubernetes.io/tls Secret with their ADS server certificate (issued from the
data directory for the Service's names and --ads-san) and the CA bundle, a
Deployment of N pods of --image reading Consul at --consul-addr, the
Service proxies reach them by (` + kubepub.ReplicasName + `.NS.svc:18000: give it
as --ads to the gateways' manifests) and a PodDisruptionBudget letting one
pod go at a time. --xds-gateway, repeatable, limits the gateways they
serve. Their status API (status, proxies, metrics) needs a bearer token
over the network: the Secret ` + kubepub.StatusTokenSecret + ` holds it (key ` + kubepub.StatusTokenKey + `),
mounted as the file the replicas read when they start. --status-token-file
gives it; without, a random one is made each time, so re-applying then
needs the replicas restarted to take the new one. Read it back with
kubectl get secret ` + kubepub.StatusTokenSecret + ` -o jsonpath='{.data.token}' | base64 -d.
The master key that opens sealed credentials comes from the Secret
` + kubepub.MasterKeySecret + ` (key master-key) and a Consul token from ` + kubepub.ConsulTokenSecret + `
(key token), when they exist.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("xds-replicas") {
				return o.replicaManifests(cmd, ropts, sans, days, statusTokenFile)
			}
			if gateway == "" {
				return errors.New("--gateway is required (or --xds-replicas N for the xDS replicas)")
			}
			if cmd.Flags().Changed("status-token-file") {
				return errors.New("--status-token-file applies to --xds-replicas only")
			}
			gw, err := o.gatewayFor(cmd, gateway, file)
			if err != nil {
				return err
			}
			if len(ads) > 0 {
				opts.ADS, opts.ADSAlternates = ads[0], ads[1:]
			}
			if opts.ADS, opts.InsecurePlaintext, err = o.adsFor(cmd, opts.ADS, opts.InsecurePlaintext); err != nil {
				return err
			}
			if !opts.InsecurePlaintext {
				is, err := o.issueGateway(cmd, gw.Name, days)
				if err != nil {
					return err
				}
				opts.Credentials = &is.creds
			}
			objs, err := kubepub.Manifests(gw, opts)
			if err != nil {
				return err
			}
			out, err := kubepub.YAML(objs)
			if err != nil {
				return err
			}
			_, err = o.stdout.Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&gateway, "gateway", "", "gateway whose Envoys to run")
	f.Int32Var(&ropts.Replicas, "xds-replicas", 0, "print the manifests of this many xDS replicas instead of a gateway's")
	f.StringVar(&ropts.Consul, "consul-addr", "", "with --xds-replicas: the Consul HTTP address the replicas read (HOST:PORT)")
	f.StringSliceVar(&sans, "ads-san", nil, "with --xds-replicas: more names proxies reach the replicas by, for their certificate (repeatable)")
	f.StringSliceVar(&ropts.Gateways, "xds-gateway", nil, "with --xds-replicas: serve only these gateways (repeatable; default all)")
	f.StringVar(&statusTokenFile, "status-token-file", "", "with --xds-replicas: file with the replicas' status API token (default: a random one)")
	f.StringVarP(&file, "file", "f", "", "read the gateway from this manifest instead of the server or the data directory")
	f.StringArrayVar(&ads, "ads", nil, "routedeck ADS address as the pods reach it (HOST:PORT, repeatable for xDS replicas; default: the server's)")
	f.StringVar(&opts.Namespace, "namespace", "default", "namespace of the objects")
	f.BoolVar(&opts.CreateNamespace, "create-namespace", false, "include the Namespace object")
	f.StringVar(&opts.ServiceType, "service-type", "LoadBalancer", "Service type: LoadBalancer or NodePort")
	f.BoolVar(&opts.AWSNLB, "aws-nlb", false, "annotate the Service for an AWS Network Load Balancer")
	f.StringVar(&opts.ExternalTrafficPolicy, "external-traffic-policy", "Cluster", "Cluster, or Local to keep client source addresses")
	f.Int32Var(&opts.Replicas, "replicas", 2, "Envoy replicas")
	f.StringVar(&opts.Image, "image", kubepub.DefaultImage, "Envoy image")
	f.IntVar(&days, "days", int(pki.DefaultLifetime/(24*time.Hour)), "lifetime of the ADS client certificate in days")
	f.BoolVar(&opts.InsecurePlaintext, "ads-insecure-plaintext", false, "no ADS certificate: for a server started with the same flag (development only; taken from the server when one is named)")
	return cmd
}

// replicaManifests prints the xDS replicas' manifests (manifests
// --xds-replicas), with a server certificate from the data directory.
func (o *options) replicaManifests(cmd *cobra.Command, ropts kubepub.ReplicaOptions, sans []string, days int, statusTokenFile string) error {
	for _, name := range []string{"gateway", "file", "ads", "service-type", "aws-nlb", "external-traffic-policy", "replicas"} {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s does not apply to --xds-replicas", name)
		}
	}
	f := cmd.Flags()
	ropts.Namespace, _ = f.GetString("namespace")
	ropts.CreateNamespace, _ = f.GetBool("create-namespace")
	ropts.InsecurePlaintext, _ = f.GetBool("ads-insecure-plaintext")
	if f.Changed("image") {
		ropts.Image, _ = f.GetString("image")
	}
	if !ropts.InsecurePlaintext {
		if o.viaServer(cmd) {
			return errors.New("--xds-replicas issues the replicas' certificate from the data directory (--data-dir), not through --server")
		}
		if days < 0 {
			return fmt.Errorf("--days %d: must not be negative", days)
		}
		certs, closeStore, err := o.offlineCerts(cmd.Context())
		if err != nil {
			return err
		}
		defer closeStore()
		is, err := certs.IssueServer(cmd.Context(), offlineActor, append(kubepub.ServiceNames(ropts.Namespace), sans...), time.Duration(days)*24*time.Hour)
		if err != nil {
			return err
		}
		ropts.Credentials = &xds.Credentials{Cert: is.CertPEM, Key: is.KeyPEM, CA: is.CAPEM}
	}
	if statusTokenFile != "" {
		// Read as the replica reads it; its content is never repeated
		// in an error.
		b, err := input.ReadFile(statusTokenFile)
		if err != nil {
			return fmt.Errorf("--status-token-file: %w", err)
		}
		ropts.StatusToken = strings.TrimSpace(string(b))
	} else {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		ropts.StatusToken = base64.RawURLEncoding.EncodeToString(raw)
	}
	objs, err := kubepub.ReplicaManifests(ropts)
	if err != nil {
		return err
	}
	out, err := kubepub.YAML(objs)
	if err != nil {
		return err
	}
	_, err = o.stdout.Write(out)
	return err
}

// gatewayFor reads gateway from file when given, else from the server when
// one is named, else from the data directory. A gateway that is not there
// is an error.
func (o *options) gatewayFor(cmd *cobra.Command, gateway, file string) (*model.Gateway, error) {
	ctx := cmd.Context()
	if file != "" {
		f, err := o.loadFile(file)
		if err != nil {
			return nil, err
		}
		for i := range f.Workspace.Gateways {
			if gw := &f.Workspace.Gateways[i]; gw.Name == gateway {
				return gw, nil
			}
		}
		return nil, fmt.Errorf("%s has no gateway %q", file, gateway)
	}
	if o.viaServer(cmd) {
		c, err := o.client()
		if err != nil {
			return nil, err
		}
		var raw []byte
		if err := c.do(ctx, "GET", "/gateways/"+url.PathEscape(gateway), nil, &raw); err != nil {
			return nil, fmt.Errorf("gateway %q: %w", gateway, err)
		}
		obj, err := objectFromView(model.KindGateway, raw)
		if err != nil {
			return nil, err
		}
		return obj.(*model.Gateway), nil
	}
	// Opening a data directory that does not exist would create one, with
	// a new master key, for nothing.
	if _, err := os.Stat(filepath.Join(o.dataDir, app.DBFile)); err != nil {
		return nil, fmt.Errorf("no server named (--server or %s), no -f FILE, and no data directory at %s to read gateway %q from", EnvServer, o.dataDir, gateway)
	}
	st, err := app.OpenStore(ctx, o.dataDir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	obj, err := st.Get(ctx, model.KindGateway, gateway)
	if err != nil {
		return nil, fmt.Errorf("gateway %q in %s: %w", gateway, o.dataDir, err)
	}
	return obj.(*model.Gateway), nil
}

// adsFor is the ADS address and TLS mode proxies use: the flags as given,
// the rest from the server when one is named.
func (o *options) adsFor(cmd *cobra.Command, ads string, plaintext bool) (string, bool, error) {
	if !o.viaServer(cmd) {
		if ads == "" {
			return "", false, errors.New("--ads HOST:PORT is required without a server: the address the proxies reach routedeck's ADS at")
		}
		return ads, plaintext, nil
	}
	c, err := o.client()
	if err != nil {
		return "", false, err
	}
	var info api.ServerInfo
	if err := c.do(cmd.Context(), "GET", "/server", nil, &info); err != nil {
		return "", false, err
	}
	if err := checkPlaintext(cmd, plaintext, info.ADS.Plaintext); err != nil {
		return "", false, err
	}
	if ads == "" {
		ads = info.ADS.Address
	}
	return ads, info.ADS.Plaintext, nil
}

// exportIssue is one line of an export's report.
type exportIssue struct {
	Rule    string `json:"rule"`
	Field   string `json:"field"`
	Reason  string `json:"reason"`
	Skipped bool   `json:"skipped"`
}

func newExportCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Export a gateway's routes to other routing APIs, or as the Envoy resources routedeck serves", Args: cobra.NoArgs}
	var gateway, namespace string
	var apply, dryRun bool
	printReport := func(report []exportIssue) {
		for _, is := range report {
			what := "not translated"
			if is.Skipped {
				what = "rule left out"
			}
			where := is.Field
			if is.Rule != "" {
				where = "rule " + is.Rule + ": " + where
			}
			fmt.Fprintf(o.stderr, "routedeck: %s: %s: %s\n", what, where, is.Reason)
		}
	}
	gwapi := &cobra.Command{
		Use:   "gateway-api --gateway G [--namespace NS] [--apply [--dry-run]]",
		Short: "Print the gateway's rules as Gateway API HTTPRoutes; --apply applies them (server-side apply)",
		Long: `Prints HTTPRoutes (YAML) on stdout and, on stderr, what does not translate.
The published version is exported, or the draft if the gateway was never
published. --apply applies the routes to the server's Kubernetes target when
it serves the Gateway API CRDs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var res struct {
				YAML          string            `json:"yaml"`
				Report        []exportIssue     `json:"report"`
				CRDsInstalled *bool             `json:"crdsInstalled"`
				Applied       []json.RawMessage `json:"applied"`
			}
			path := "/gateways/" + url.PathEscape(gateway) + "/export/gateway-api"
			if apply {
				err = c.do(cmd.Context(), "POST", path, map[string]any{"namespace": namespace, "dryRun": dryRun}, &res)
			} else {
				err = c.do(cmd.Context(), "GET", path+"?namespace="+url.QueryEscape(namespace), nil, &res)
			}
			if err != nil {
				return err
			}
			fmt.Fprint(o.stdout, res.YAML)
			printReport(res.Report)
			if apply && res.CRDsInstalled != nil && !*res.CRDsInstalled {
				return fmt.Errorf("nothing applied: the Gateway API CRDs are not installed in the cluster")
			}
			if apply {
				fmt.Fprintf(o.stderr, "routedeck: applied %s%s\n", plural(len(res.Applied), "HTTPRoute", "HTTPRoutes"), dryRunNote(dryRun))
			}
			return nil
		},
	}
	gwapi.Flags().StringVar(&namespace, "namespace", "", "namespace of the HTTPRoutes (default: the target's)")
	gwapi.Flags().BoolVar(&dryRun, "dry-run", false, "with --apply: let the API server validate without storing")

	consul := &cobra.Command{
		Use:   "consul --gateway G [--apply]",
		Short: "Print the gateway's rules as Consul config entries; --apply writes them to the agent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var res struct {
				Entries []json.RawMessage `json:"entries"`
				Report  []exportIssue     `json:"report"`
				Applied []json.RawMessage `json:"applied"`
			}
			method := "GET"
			if apply {
				method = "POST"
			}
			if err := c.do(cmd.Context(), method, "/gateways/"+url.PathEscape(gateway)+"/export/consul", nil, &res); err != nil {
				return err
			}
			for i, e := range res.Entries {
				b, err := yaml.JSONToYAML(e)
				if err != nil {
					return fmt.Errorf("render config entry: %w", err)
				}
				if i > 0 {
					fmt.Fprintln(o.stdout, "---")
				}
				o.stdout.Write(b)
			}
			printReport(res.Report)
			if apply {
				fmt.Fprintf(o.stderr, "routedeck: wrote %s to consul\n", plural(len(res.Applied), "config entry", "config entries"))
			}
			return nil
		},
	}
	for _, sub := range []*cobra.Command{gwapi, consul} {
		sub.Flags().StringVar(&gateway, "gateway", "", "gateway whose routes to export")
		sub.Flags().BoolVar(&apply, "apply", false, "apply the export to the server's target")
		_ = sub.MarkFlagRequired("gateway")
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(newExportEnvoyCmd(o), newExportOpenAPICmd(o))
	return cmd
}

func dryRunNote(dryRun bool) string {
	if dryRun {
		return " (dry run: nothing stored)"
	}
	return ""
}
