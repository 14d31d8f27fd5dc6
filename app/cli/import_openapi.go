package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/convert"
	"github.com/routedeck/routedeck/backend/input"
)

// newImportOpenAPICmd returns `import openapi`, which turns the paths of an
// OpenAPI 3.x document into routes forwarding to one upstream.
func newImportOpenAPICmd(o *options) *cobra.Command {
	var file string
	var opts convert.OpenAPIOptions
	var apply bool
	cmd := &cobra.Command{
		Use:   "openapi -f SPEC --gateway G --upstream U [--host H] [--prefix /api] [--apply]",
		Short: "Convert an OpenAPI 3.x document's paths into routes; print them, or --apply them",
		Long: `Reads an OpenAPI 3.x document (YAML or JSON) from SPEC and makes one Route
of gateway G per path, forwarding to upstream U (which must exist on the
server or be applied together with the routes: it is only referenced).

Each route matches its path and "method in [...]" of the path's operations;
--host adds host == H. A path without parameters becomes an exact match,
/pets/{petId} the template /pets/{petId}; parameter names are made valid
template variables, and paths a template cannot express (text before a
parameter inside a segment, as in /report.{format}) are skipped. --prefix
is prepended to every path; without it the path of servers[0].url is
(--prefix / for none). Concrete paths get higher priorities than templated
ones, longer literal text before shorter, so /pets/mine wins over
/pets/{petId} as OpenAPI intends.

The result is printed as multi-document YAML, ready for apply, or with
--apply sent to the server as apply -f does, all or nothing. What does not
translate is listed on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Gateway == "" {
				return fmt.Errorf("--gateway is required")
			}
			if opts.Upstream == "" {
				return fmt.Errorf("--upstream is required")
			}
			data, name, err := o.readInput(file)
			if err != nil {
				return err
			}
			res, err := convert.OpenAPI(data, opts)
			if input.IsLimit(err) {
				return input.Named(err, name)
			} else if err != nil {
				return fmt.Errorf("import %s: %w", name, err)
			}
			return o.emitImport(cmd.Context(), name, res, apply)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "OpenAPI 3.x document, YAML or JSON (- for stdin)")
	cmd.Flags().StringVar(&opts.Gateway, "gateway", "", "gateway the routes belong to")
	cmd.Flags().StringVar(&opts.Upstream, "upstream", "", "upstream every route forwards to")
	cmd.Flags().StringVar(&opts.Host, "host", "", "add host == H to every route")
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "prepend to every path (default: the path of servers[0].url; / for none)")
	cmd.Flags().BoolVar(&apply, "apply", false, "send the routes to the server instead of printing them")
	return cmd
}
