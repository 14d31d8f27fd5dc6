package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"reflect"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/model"
	consulpub "github.com/routedeck/routedeck/backend/publish/consul"
	"github.com/routedeck/routedeck/backend/seal"
)

func newImportCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Turn Gateway API, Ingress, Kong, OpenAPI or Consul-published configuration into routes",
		Long: `import reads routing configuration from elsewhere and prints it as routedeck
objects, or applies it with --apply. Sources:

  gateway-api  Kubernetes Gateway API HTTPRoutes (YAML)
  ingress      Kubernetes Ingress objects (YAML)
  kong         Kong declarative configuration (YAML or JSON)
  openapi      the paths of an OpenAPI 3.x document
  consul       what another routedeck published to Consul KV

What does not translate is reported on stderr.`,
		Args: cobra.NoArgs,
	}
	var gateway, addr string
	var apply, showCredentials bool
	consul := &cobra.Command{
		Use:   "consul [--gateway G] [--consul-addr HOST:PORT] [--apply]",
		Short: "Read what routedeck published to Consul KV; print it as a file, or --apply it to the server",
		Long: `Reads the workspace routedeck publishes to Consul KV (routedeck/v1/<kind>/<name>):
with --gateway, that gateway, its routes and the upstreams and secrets they
use; without, everything in the tree. It is printed as multi-document YAML,
ready for apply, or with --apply sent to the server as apply -f does, all or
nothing. Publish it there with: routedeck publish --gateway G.

The agent is CONSUL_HTTP_ADDR (and CONSUL_HTTP_TOKEN) unless --consul-addr
is given.

Credentials (basic-auth passwords, API keys) are sealed in Consul with the
publishing routedeck's master key: they are opened with the key of the data
directory (--data-dir) or ` + seal.EnvMasterKey + `, which must be the same.

Consul holds TLS secrets without their private keys. With --apply, such a
secret must already exist on the server (with its key): the server's copy is
kept and the one from Consul is left out. If any is missing, nothing is
applied and the missing secrets are listed.

Printed, credentials read as fingerprints (fp:...), as the server shows
them: applying the file to a server that holds those values keeps them.
--show-credentials prints them in clear instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := localKeys(o.dataDir, os.Getenv)
			if err != nil {
				return err
			}
			ws, err := readConsulKV(cmd.Context(), addr, gateway, keys)
			if err != nil {
				return err
			}
			if !apply {
				for _, s := range ws.Secrets {
					if s.KeepsStoredKey() {
						fmt.Fprintf(o.stderr, "routedeck: secret %s: consul holds no private key; add it before applying\n", s.Name)
					}
				}
				if keys != nil && !showCredentials {
					shown := model.RedactWorkspace(ws, keys)
					if !reflect.DeepEqual(shown, ws) {
						fmt.Fprintln(o.stderr, "routedeck: credentials are shown as fingerprints; --show-credentials prints them in clear")
					}
					ws = shown
				}
				return writeYAMLDocs(o.stdout, ws.Objects())
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if ws, err = keepServerSecrets(cmd.Context(), c, ws, func(name string) {
				fmt.Fprintf(o.stderr, "routedeck: secret %s: kept the server's copy (consul holds no private key)\n", name)
			}); err != nil {
				return err
			}
			if err := o.applyWorkspace(cmd.Context(), c, ws); err != nil {
				return fmt.Errorf("apply the workspace read from consul: %w", err)
			}
			return nil
		},
	}
	consul.Flags().StringVar(&gateway, "gateway", "", "gateway to import (default: everything in the tree)")
	consul.Flags().StringVar(&addr, "consul-addr", "", "Consul HTTP address (default: CONSUL_HTTP_ADDR)")
	consul.Flags().BoolVar(&apply, "apply", false, "send the workspace to the server instead of printing it")
	consul.Flags().BoolVar(&showCredentials, "show-credentials", false, "print basic-auth passwords and API keys in clear (default: fingerprints)")
	cmd.AddCommand(consul)
	cmd.AddCommand(newImportConvertCmds(o)...)
	cmd.AddCommand(newImportOpenAPICmd(o))
	return cmd
}

// readConsulKV reads gateway's published workspace (every object when
// gateway is empty) from the agent at addr, or the environment's agent.
// Versions and who-wrote-when belong to the routedeck that published, so
// they are cleared: on another server they would read as stale versions.
//
// keys open the credentials; nil leaves a workspace with credentials
// unreadable, with an error that says so.
func readConsulKV(ctx context.Context, addr, gateway string, keys *seal.Keyring) (model.Workspace, error) {
	cfg := consulapi.DefaultConfig()
	if addr != "" {
		cfg.Address = addr
	}
	client, err := consulapi.NewClient(cfg)
	if err != nil {
		return model.Workspace{}, fmt.Errorf("consul client for %s: %w", cfg.Address, err)
	}
	var opts []consulpub.Option
	if keys != nil {
		opts = append(opts, consulpub.WithKeys(keys))
	}
	kv := consulpub.New(client, opts...)
	var entries []consulpub.Entry
	if gateway != "" {
		entries, err = kv.ReadGateway(ctx, gateway)
	} else {
		entries, err = kv.ReadAll(ctx)
	}
	if err != nil {
		return model.Workspace{}, fmt.Errorf("read %s from consul at %s: %w", kv.Prefix(), cfg.Address, err)
	}
	if len(entries) == 0 {
		return model.Workspace{}, model.Errorf(model.ENOTFOUND, "nothing is published under %s in consul at %s", kv.Prefix(), cfg.Address)
	}
	ws := consulpub.Workspace(entries)
	for _, obj := range ws.Objects() {
		meta := obj.ObjectMeta()
		*meta = model.Meta{Name: meta.Name}
	}
	return ws, nil
}

// keepServerSecrets leaves out of ws the TLS secrets Consul holds without
// a private key, which the server must already have (kept reports each);
// if any is missing, it lists them all and nothing is applied.
func keepServerSecrets(ctx context.Context, c *client, ws model.Workspace, kept func(name string)) (model.Workspace, error) {
	var keep []model.Secret
	var missing []string
	for _, s := range ws.Secrets {
		if !s.KeepsStoredKey() {
			keep = append(keep, s)
			continue
		}
		err := c.do(ctx, "GET", "/secrets/"+url.PathEscape(s.Name), nil, nil)
		switch {
		case err == nil:
			kept(s.Name)
		case model.ErrorCode(err) == model.ENOTFOUND:
			missing = append(missing, s.Name)
		default:
			return ws, fmt.Errorf("look up secret %q on the server: %w", s.Name, err)
		}
	}
	if len(missing) > 0 {
		return ws, model.Errorf(model.EINVALID,
			"consul holds secret(s) %s without private keys and the server has none of that name: "+
				"create them with their keys first (routedeck apply -f), then import again; nothing was applied",
			strings.Join(missing, ", "))
	}
	ws.Secrets = keep
	return ws, nil
}

// localKeys is the master key of dataDir for a command that only reads
// with it: the environment's or the key file's, or nil when there is
// neither. Unlike a server's first start, it never creates a key file.
func localKeys(dataDir string, getenv func(string) string) (*seal.Keyring, error) {
	if getenv(seal.EnvMasterKey) == "" {
		if _, err := os.Stat(seal.KeyFile(dataDir)); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	keys, err := seal.Open(dataDir, getenv)
	if err != nil {
		return nil, fmt.Errorf("open master key: %w", err)
	}
	return keys, nil
}
