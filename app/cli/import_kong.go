package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/convert"
)

// newImportKongCmd returns `import kong`, which converts a Kong declarative
// configuration (decK / kong.yml) into routes and upstreams of a gateway.
func newImportKongCmd(o *options) *cobra.Command {
	var file, gateway string
	var apply bool
	cmd := &cobra.Command{
		Use:   "kong -f kong.yml --gateway G [--apply]",
		Short: "Convert a Kong declarative configuration into routes and upstreams; print them, or --apply them",
		Long: `Reads a Kong declarative configuration (decK or kong.yml, YAML or JSON,
_format_version 1.1, 2.1 or 3.0) from FILE and makes Routes of gateway G
(which must exist when applying) and Upstreams.

Each path of a Kong route becomes a Route matching its hosts, headers,
methods and path (a plain path is a prefix, ~ marks a regex; 1.x/2.x files
follow Kong's old guess of which paths are regexes). Priorities follow
Kong's router: more kinds of match first, hosts over headers over paths over
methods, plain hosts before wildcards, regex paths (by regex_priority)
before prefixes, longer prefixes first, then creation order. strip_path,
the service path, path_handling v0/v1 and preserve_host become rewrites.
A service becomes an Upstream (a Kong upstream's targets with their
weights), its timeouts and retries the route's policies; rate-limiting,
cors, ip-restriction and the header parts of request- and
response-transformer map to route policies.

The result is printed as multi-document YAML, ready for apply, or with
--apply sent to the server as apply -f does, all or nothing. Everything
that does not translate (consumers, credentials and the auth plugins that
need them, certificates, stream routes, SNI matches, ...) is listed on
stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if gateway == "" {
				return fmt.Errorf("--gateway is required")
			}
			data, name, err := o.readInput(file)
			if err != nil {
				return err
			}
			res, err := convert.Kong(data, gateway)
			if err != nil {
				return fmt.Errorf("import %s: %w", name, err)
			}
			return o.emitImport(cmd.Context(), name, res, apply)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "Kong declarative configuration, YAML or JSON (- for stdin)")
	cmd.Flags().StringVar(&gateway, "gateway", "", "gateway the routes belong to")
	cmd.Flags().BoolVar(&apply, "apply", false, "send the routes and upstreams to the server instead of printing them")
	return cmd
}
