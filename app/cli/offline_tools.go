package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/checktool"
)

// exitStatus is an error that only carries an exit status: the command has
// already written its own output (router_check_tool's verdicts).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newCheckCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "check -c ROUTECONFIG -t TESTS [--details] [--only-show-failures] [-f PERCENT] [--covall]",
		Short: "Run Envoy router_check_tool tests against a route configuration with the simulated router",
		Long: `check takes the same arguments as Envoy's router_check_tool: a RouteConfiguration
(YAML or JSON) and a test file of requests with expected routes, and reports
the same verdicts with the same exit status. No Envoy and no Bazel needed.`,
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
	var gateway, ads, node, out string
	var adminPort int
	var plaintext bool
	tlsDirs := xds.ADSTLS{}
	cmd := &cobra.Command{
		Use:   "bootstrap --gateway G --ads HOST:PORT [--out DIR] [--cert-dir DIR] [--config-dir DIR]",
		Short: "Print (or write) the Envoy bootstrap that connects a proxy of a gateway to routedeck's ADS",
		Long: `bootstrap prints an Envoy bootstrap for a proxy of the gateway. ADS runs over
mutual TLS: the proxy presents the certificate in --cert-dir (tls.crt,
tls.key, and ca.crt to check the server; write them with "routedeck certs
issue --gateway G --out DIR") through two SDS files that must be in
--config-dir. Envoy watches both directories, so a re-issued certificate is
used without a restart.

With --out DIR, bootstrap writes DIR/envoy.yaml and the two SDS files there
(--config-dir defaults to DIR); without it, it prints the bootstrap and the
SDS files are yours to place (run it once with --out to get them).

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
			var adsTLS *xds.ADSTLS
			if !plaintext {
				if out != "" && tlsDirs.ConfigDir == "" {
					abs, err := filepath.Abs(out)
					if err != nil {
						return err
					}
					tlsDirs.ConfigDir = abs
				}
				adsTLS = &tlsDirs
			}
			b, err := xds.Bootstrap(gateway, node, ads, adminPort, adsTLS)
			if err != nil {
				return err
			}
			y, err := xds.BootstrapYAML(b)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = o.stdout.Write(y)
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, BootstrapFile), y, 0o644); err != nil {
				return err
			}
			if adsTLS != nil {
				files, err := xds.SDSFiles(*adsTLS)
				if err != nil {
					return err
				}
				for name, data := range files {
					if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
						return err
					}
				}
			}
			fmt.Fprintf(o.stderr, "wrote %s\n", filepath.Join(out, BootstrapFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&gateway, "gateway", "", "gateway the proxy serves (its node.cluster)")
	f.StringVar(&ads, "ads", "127.0.0.1:18000", "routedeck ADS address as the proxy reaches it")
	f.StringVar(&node, "node", "", "node id (default GATEWAY-HOSTNAME)")
	f.IntVar(&adminPort, "admin-port", 9901, "Envoy admin port on 127.0.0.1")
	f.StringVar(&out, "out", "", "write envoy.yaml and the SDS files into this directory instead of printing")
	f.StringVar(&tlsDirs.CertDir, "cert-dir", xds.DefaultCertDir, "where the proxy finds tls.crt, tls.key and ca.crt")
	f.StringVar(&tlsDirs.ConfigDir, "config-dir", "", "where the proxy finds the SDS files (default --out, else "+xds.DefaultConfigDir+")")
	f.BoolVar(&plaintext, "ads-insecure-plaintext", false, "connect to ADS without TLS (a server on loopback started with the same flag)")
	_ = cmd.MarkFlagRequired("gateway")
	return cmd
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
