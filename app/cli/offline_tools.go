package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/checktool"
)

// exitStatus is an error that only carries an exit status: the command has
// already written its own output (router_check_tool's verdicts).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newCheckCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "check -c ROUTECONFIG -t TESTS [--details] [--only-show-failures] [-f PERCENT] [--covall] [-o RESULTS]",
		Short: "Run Envoy router_check_tool tests against a route configuration with the simulated router",
		Long: `check takes the same arguments as Envoy's router_check_tool: a RouteConfiguration
(YAML or JSON) and a test file of requests with expected routes, and reports
the same verdicts with the same exit status. No Envoy and no Bazel needed.

-o/--output-path writes the results as Envoy's tool does: the test file
schema's ValidationResult message (envoy.RouterCheckToolSchema, Envoy's
validation.proto) in protobuf binary, each failed test with the expected and
actual value of every failed assertion.`,
		// router_check_tool's own flag syntax is the contract, so the
		// arguments go to it untouched.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
				return cmd.Help()
			}
			if code := checktool.Run(args, o.stdout, o.stderr); code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
}

func newBootstrapCmd(o *options) *cobra.Command {
	var gateway, file, node, out string
	var ads []string
	var adminPort int
	var plaintext, delta bool
	tlsDirs := xds.ADSTLS{}
	cmd := &cobra.Command{
		Use:   "bootstrap --gateway G [--ads HOST:PORT] [-f FILE] [--out DIR] [--cert-dir DIR] [--config-dir DIR]",
		Short: "Print (or write) the Envoy bootstrap that connects a proxy of a gateway to routedeck's ADS",
		Long: `bootstrap prints an Envoy bootstrap for a proxy of the gateway. ADS runs over
mutual TLS: the proxy presents the certificate in --cert-dir (tls.crt,
tls.key, and ca.crt to check the server; write them with "routedeck certs
issue --gateway G --out DIR") through two SDS files that must be in
--config-dir. Envoy watches both directories, so a re-issued certificate is
used without a restart.

The gateway is read from -f FILE, or else from the server when one is
named (--server or ` + EnvServer + `), or else from the data directory; an
unknown gateway is an error. With a server, the ADS address its proxies
dial (unless --ads names another) and whether ADS runs in plaintext come
from it; without one, --ads defaults to ` + defaultADS + `, where serve
listens by default (manifests asks for it instead: pods do not reach the
server on loopback).

With --out DIR, bootstrap writes DIR/envoy.yaml and the two SDS files there
(--config-dir defaults to DIR); without it, it prints the bootstrap and the
SDS files are yours to place (run it once with --out to get them).

--ads may be repeated: several xDS replicas ("serve --role xds") become
hosts of the bootstrap's ADS cluster, and Envoy moves its ADS stream to
another when one goes away.

--ads-insecure-plaintext leaves TLS out, for a server started with the same
flag on loopback.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if node == "" {
				host, err := os.Hostname()
				if err != nil {
					return fmt.Errorf("--node not given and no host name: %w", err)
				}
				node = gateway + "-" + host
			}
			if out != "" && tlsDirs.ConfigDir == "" {
				abs, err := filepath.Abs(out)
				if err != nil {
					return err
				}
				tlsDirs.ConfigDir = abs
			}
			opts := api.BootstrapOptions{Gateway: gateway, Node: node, AdminPort: adminPort,
				Plaintext: plaintext, CertDir: tlsDirs.CertDir, ConfigDir: tlsDirs.ConfigDir, Delta: delta}
			if len(ads) > 0 {
				opts.ADS, opts.ADSAlternates = ads[0], ads[1:]
			}
			rep, err := o.renderBootstrap(cmd, opts, file)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = io.WriteString(o.stdout, rep.Bootstrap)
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, BootstrapFile), []byte(rep.Bootstrap), 0o644); err != nil {
				return err
			}
			for name, data := range rep.Files {
				if err := os.WriteFile(filepath.Join(out, name), []byte(data), 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(o.stderr, "wrote %s\n", filepath.Join(out, BootstrapFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&gateway, "gateway", "", "gateway the proxy serves (its node.cluster)")
	f.StringVarP(&file, "file", "f", "", "read the gateway from this manifest instead of the server or the data directory")
	f.StringArrayVar(&ads, "ads", nil, "routedeck ADS address as the proxy reaches it, repeatable for xDS replicas (default: the server's; "+defaultADS+" without a server)")
	f.StringVar(&node, "node", "", "node id (default GATEWAY-HOSTNAME)")
	f.IntVar(&adminPort, "admin-port", 9901, "Envoy admin port on 127.0.0.1")
	f.StringVar(&out, "out", "", "write envoy.yaml and the SDS files into this directory instead of printing")
	f.StringVar(&tlsDirs.CertDir, "cert-dir", xds.DefaultCertDir, "where the proxy finds tls.crt, tls.key and ca.crt")
	f.StringVar(&tlsDirs.ConfigDir, "config-dir", "", "where the proxy finds the SDS files (default --out, else "+xds.DefaultConfigDir+")")
	f.BoolVar(&delta, "ads-delta", false, "use delta ADS (DELTA_GRPC), as a server started with --ads-vhds needs; taken from the server when one is named")
	f.BoolVar(&plaintext, "ads-insecure-plaintext", false, "connect to ADS without TLS (a server on loopback started with the same flag; taken from the server when one is named)")
	_ = cmd.MarkFlagRequired("gateway")
	return cmd
}

// defaultADS is the ADS address bootstrap dials when no server says better:
// serve's default.
const defaultADS = "127.0.0.1:18000"

// renderBootstrap renders a bootstrap through the server when one is named
// (which knows the gateway, its ADS address and TLS mode), else from the
// data directory. With -f the gateway comes from the file, as with
// manifests, and the ADS address and TLS mode still from the server when
// one is named: a gateway not applied yet gets its proxies ready.
func (o *options) renderBootstrap(cmd *cobra.Command, opts api.BootstrapOptions, file string) (api.BootstrapReply, error) {
	server := o.viaServer(cmd)
	if file != "" || !server {
		if _, err := o.gatewayFor(cmd, opts.Gateway, file); err != nil {
			return api.BootstrapReply{}, err
		}
		if server {
			var err error
			if opts.ADS, opts.Plaintext, err = o.adsFor(cmd, opts.ADS, opts.Plaintext); err != nil {
				return api.BootstrapReply{}, err
			}
		} else if opts.ADS == "" && len(opts.ADSAlternates) == 0 {
			opts.ADS = defaultADS
		}
		return api.RenderBootstrap(opts)
	}
	c, err := o.client()
	if err != nil {
		return api.BootstrapReply{}, err
	}
	q := url.Values{"node": {opts.Node}, "adminPort": {strconv.Itoa(opts.AdminPort)}}
	for k, v := range map[string]string{"ads": opts.ADS, "certDir": opts.CertDir, "configDir": opts.ConfigDir} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for _, a := range opts.ADSAlternates {
		q.Add("ads", a)
	}
	var rep api.BootstrapReply
	if err := c.do(cmd.Context(), "GET", "/gateways/"+url.PathEscape(opts.Gateway)+"/bootstrap?"+q.Encode(), nil, &rep); err != nil {
		return rep, err
	}
	if err := checkPlaintext(cmd, opts.Plaintext, rep.Plaintext); err != nil {
		return rep, err
	}
	return rep, nil
}

// checkPlaintext refuses an --ads-insecure-plaintext that disagrees with
// how the server serves ADS: the proxy could not connect.
func checkPlaintext(cmd *cobra.Command, asked, server bool) error {
	if f := cmd.Flag("ads-insecure-plaintext"); f == nil || !f.Changed || asked == server {
		return nil
	}
	if server {
		return errors.New("the server serves ADS in plaintext: drop --ads-insecure-plaintext=false")
	}
	return errors.New("the server serves ADS over mutual TLS: drop --ads-insecure-plaintext")
}

// BootstrapFile is the name bootstrap --out gives the bootstrap.
const BootstrapFile = "envoy.yaml"

// statusOf returns the exit status an error asks for.
func statusOf(err error) (int, bool) {
	var s exitStatus
	if errors.As(err, &s) {
		return int(s), true
	}
	return 1, false
}
