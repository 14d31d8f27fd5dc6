package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/convert"
	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
)

// converter turns an input file into routes (and upstreams) of a gateway.
type converter func(data []byte, gateway string) (convert.Result, error)

// newConvertCmd returns an import command that reads FILE, converts it for
// --gateway and prints or applies the result (see emitImport).
func newConvertCmd(o *options, use, fileHelp, short, long string, conv converter) *cobra.Command {
	var file, gateway string
	var apply bool
	cmd := &cobra.Command{
		Use:   use + " -f FILE --gateway G [--apply]",
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if gateway == "" {
				return fmt.Errorf("--gateway is required")
			}
			data, name, err := o.readInput(file)
			if err != nil {
				return err
			}
			res, err := conv(data, gateway)
			if input.IsLimit(err) {
				return input.Named(err, name)
			} else if err != nil {
				return fmt.Errorf("import %s: %w", name, err)
			}
			return o.emitImport(cmd.Context(), name, res, apply)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", fileHelp+" (- for stdin)")
	cmd.Flags().StringVar(&gateway, "gateway", "", "gateway the routes belong to")
	cmd.Flags().BoolVar(&apply, "apply", false, "send the routes and upstreams to the server instead of printing them")
	return cmd
}

// newImportConvertCmds returns `import gateway-api`, `import ingress` and
// `import kong`.
func newImportConvertCmds(o *options) []*cobra.Command {
	return []*cobra.Command{
		newConvertCmd(o, "gateway-api", "Kubernetes YAML to read",
			"Convert a Gateway API Gateway, HTTPRoutes and GRPCRoutes into a gateway and routes; print them, or --apply them",
			`Reads gateway.networking.k8s.io/v1 Gateways, HTTPRoutes and GRPCRoutes from
FILE. The Gateway named G (or the only one) becomes gateway G with its HTTP
and HTTPS listeners; routes attach to it through their parentRefs
(sectionName, port, allowedRoutes), their hostnames intersected with the
listeners'. Each hostname becomes a host condition of its own route,
PathPrefix a segment prefix (Gateway API prefixes match whole path
segments), a GRPCRoute method match conditions on grpc.service and
grpc.method, weighted backendRefs a weighted forward; header, redirect,
rewrite and CORS filters, timeouts and one RequestMirror map to their
policies. Route names are G.http.NAMESPACE.NAME.rI.mJ: stable, and a name
held by another gateway's route is refused on --apply.`+k8sImportTail,
			convert.GatewayAPI),
		newConvertCmd(o, "ingress", "Kubernetes YAML to read",
			"Convert networking.k8s.io/v1 Ingresses into routes; print them, or --apply them",
			`Reads networking.k8s.io/v1 Ingresses from FILE. Prefix paths match whole
segments, Exact paths the full path, ImplementationSpecific is read as a
plain prefix; the defaultBackend becomes a catch-all with priority 0.
Annotations and TLS sections are reported, not imported: certificates must
be added as Secret objects.`+k8sImportTail,
			convert.Ingress),
		newConvertCmd(o, "kong", "Kong declarative configuration, YAML or JSON",
			"Convert a Kong declarative configuration into routes and upstreams; print them, or --apply them",
			`Reads a Kong declarative configuration (decK or kong.yml, YAML or JSON,
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
			convert.Kong),
	}
}

// k8sImportTail ends the help of the Kubernetes importers.
const k8sImportTail = `

Each match becomes a Route of gateway G (which must exist when applying),
prioritised by specificity as Kubernetes does (exact path, longest path,
method, header and query counts), and each Service port an Upstream of kind
kubernetes. The result is printed as multi-document YAML, ready for apply,
or with --apply sent to the server as apply -f does, all or nothing.
Everything that does not translate is listed on stderr.`

// emitImport reports what did not translate on stderr, then prints the
// converted workspace as YAML or, with apply, applies it.
func (o *options) emitImport(ctx context.Context, name string, res convert.Result, apply bool) error {
	for _, is := range res.Report {
		fmt.Fprintf(o.stderr, "routedeck: not imported as is: %s\n", is)
	}
	ws := res.Workspace
	if len(ws.Routes) == 0 {
		return model.Errorf(model.EINVALID, "%s: nothing to import", name)
	}
	if !apply {
		return writeYAMLDocs(o.stdout, ws.Objects())
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	if err := foreignRoutes(ctx, c, ws); err != nil {
		return fmt.Errorf("apply the routes imported from %s: %w", name, err)
	}
	if err := o.applyWorkspace(ctx, c, ws); err != nil {
		return fmt.Errorf("apply the routes imported from %s: %w", name, err)
	}
	return nil
}

// foreignRoutes refuses an import that would change what another gateway
// runs: route names taken by routes of another gateway (applying would
// move them away from it), and upstreams other gateways' routes use that
// the import would change.
func foreignRoutes(ctx context.Context, c *client, ws model.Workspace) error {
	var routes struct {
		Items []struct {
			Name    string `json:"name"`
			Gateway string `json:"gateway"`
			Then    struct {
				Forward []struct {
					Upstream string `json:"upstream"`
				} `json:"forward"`
				Mirror *struct {
					Upstream string `json:"upstream"`
				} `json:"mirror"`
			} `json:"then"`
		} `json:"items"`
	}
	if err := c.do(ctx, "GET", "/routes", nil, &routes); err != nil {
		return err
	}
	var upstreams struct {
		Items []model.Upstream `json:"items"`
	}
	if err := c.do(ctx, "GET", "/upstreams", nil, &upstreams); err != nil {
		return err
	}
	gateway := ""
	if len(ws.Routes) > 0 {
		gateway = ws.Routes[0].Gateway
	}
	owner := make(map[string]string, len(routes.Items))
	usedBy := map[string]string{} // upstream -> a gateway other than the import's that uses it
	for _, r := range routes.Items {
		owner[r.Name] = r.Gateway
		if r.Gateway == gateway {
			continue
		}
		for _, f := range r.Then.Forward {
			usedBy[f.Upstream] = r.Gateway
		}
		if m := r.Then.Mirror; m != nil {
			usedBy[m.Upstream] = r.Gateway
		}
	}
	stored := map[string]model.Upstream{}
	for _, u := range upstreams.Items {
		stored[u.Name] = u
	}
	var p model.Problems
	for i, r := range ws.Routes {
		if g, ok := owner[r.Name]; ok && g != r.Gateway {
			p.Add(model.Index("routes", i)+".name", "route %s of gateway %s already exists: the import for gateway %s would take it over", r.Name, g, r.Gateway)
		}
	}
	for i, u := range ws.Upstreams {
		s, ok := stored[u.Name]
		g, used := usedBy[u.Name]
		if ok && used && !sameUpstream(s, u) {
			p.Add(model.Index("upstreams", i)+".name", "upstream %s is used by gateway %s and differs from the import for gateway %s, which would change it", u.Name, g, gateway)
		}
	}
	return p.Err()
}

// sameUpstream compares two upstreams but for their bookkeeping.
func sameUpstream(a, b model.Upstream) bool {
	a.Meta, b.Meta = model.Meta{Name: a.Name}, model.Meta{Name: b.Name}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// readInput reads FILE, or stdin for "-", within the input size cap,
// returning the name to report.
func (o *options) readInput(name string) ([]byte, string, error) {
	if name == "" {
		return nil, "", fmt.Errorf("-f FILE is required")
	}
	if name == "-" {
		name = "<stdin>"
		data, err := input.Read(name, o.stdin)
		return data, name, err
	}
	data, err := input.ReadFile(name)
	return data, name, err
}
