package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// envoyResource is one item of the API's Envoy export.
type envoyResource struct {
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	Resource json.RawMessage `json:"resource"`
}

// newExportEnvoyCmd is `export envoy`: the Envoy v3 resources the server
// generates for a gateway, as Envoy itself would read them.
func newExportEnvoyCmd(o *options) *cobra.Command {
	var gateway, typ, output string
	var version int64
	var withSecrets bool
	cmd := &cobra.Command{
		Use:   "envoy --gateway G [--version N] [--type listeners|routes|clusters|endpoints|secrets|all] [--with-secrets] [-o yaml|json]",
		Short: "Print the Envoy v3 resources routedeck generates for a gateway",
		Long: `Prints the gateway's listeners, route configurations, clusters, load
assignments and secrets, in that order and each sorted by name: one YAML
document per resource, under a comment naming its type. The draft is
translated unless --version names a published version; discovered endpoints
are the ones the server knows now.

Credentials are printed as their fingerprints (fp:...): private keys, the
password hashes of basic-auth users and the API keys routes accept. With
--with-secrets they are printed as Envoy gets them; that needs the admin
role, and the server records it in the audit log.

--type routes prints the route configuration alone, ready for
routedeck check -c (or Envoy's router_check_tool) when the gateway has one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "yaml" && output != "json" {
				return fmt.Errorf("-o: want yaml or json, not %q", output)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			q := url.Values{"type": {typ}}
			if version > 0 {
				q.Set("version", strconv.FormatInt(version, 10))
			}
			if withSecrets {
				q.Set("secrets", "true")
			}
			var res struct {
				Items []envoyResource `json:"items"`
			}
			path := "/gateways/" + url.PathEscape(gateway) + "/export/envoy?" + q.Encode()
			if err := c.do(cmd.Context(), "GET", path, nil, &res); err != nil {
				return err
			}
			if !withSecrets {
				for _, it := range res.Items {
					if it.Type == secretTypeURL && !strings.HasSuffix(it.Name, "/ca") {
						fmt.Fprintf(o.stderr, "routedeck: secret %s: private key printed as a fingerprint, not usable as is\n", it.Name)
					}
				}
			}
			if output == "json" {
				b, err := json.MarshalIndent(res, "", "  ")
				if err != nil {
					return fmt.Errorf("render resources: %w", err)
				}
				_, err = fmt.Fprintf(o.stdout, "%s\n", b)
				return err
			}
			return writeEnvoyYAML(o, res.Items)
		},
	}
	f := cmd.Flags()
	f.StringVar(&gateway, "gateway", "", "gateway whose resources to print")
	f.Int64Var(&version, "version", 0, "published version to translate (default: the draft)")
	f.StringVar(&typ, "type", "all", "listeners, routes, clusters, endpoints, secrets or all")
	f.StringVarP(&output, "output", "o", "yaml", "yaml or json")
	f.BoolVar(&withSecrets, "with-secrets", false, "print credentials as Envoy gets them (admin; audited)")
	_ = cmd.MarkFlagRequired("gateway")
	return cmd
}

// secretTypeURL is the type of an SDS secret.
const secretTypeURL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// writeEnvoyYAML prints one document per resource. The comment goes inside
// the document, so a single resource is still a single document.
func writeEnvoyYAML(o *options, items []envoyResource) error {
	for i, it := range items {
		b, err := yaml.JSONToYAML(it.Resource)
		if err != nil {
			return fmt.Errorf("render %s %s: %w", it.Type, it.Name, err)
		}
		if i > 0 {
			fmt.Fprintln(o.stdout, "---")
		}
		fmt.Fprintf(o.stdout, "# %s %s\n%s", it.Type, it.Name, b)
	}
	return nil
}
