package cli

import (
	"errors"
	"fmt"
	"os"
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
	var gateway, ads, node string
	var adminPort int
	cmd := &cobra.Command{
		Use:   "bootstrap --gateway G --ads HOST:PORT",
		Short: "Print the Envoy bootstrap that connects a proxy of a gateway to routedeck's ADS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if node == "" {
				host, err := os.Hostname()
				if err != nil {
					return fmt.Errorf("--node not given and no host name: %w", err)
				}
				node = gateway + "-" + host
			}
			b, err := xds.Bootstrap(gateway, node, ads, adminPort)
			if err != nil {
				return err
			}
			out, err := xds.BootstrapYAML(b)
			if err != nil {
				return err
			}
			_, err = o.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&gateway, "gateway", "", "gateway the proxy serves (its node.cluster)")
	cmd.Flags().StringVar(&ads, "ads", "127.0.0.1:18000", "routedeck ADS address as the proxy reaches it")
	cmd.Flags().StringVar(&node, "node", "", "node id (default GATEWAY-HOSTNAME)")
	cmd.Flags().IntVar(&adminPort, "admin-port", 9901, "Envoy admin port on 127.0.0.1")
	_ = cmd.MarkFlagRequired("gateway")
	return cmd
}

// statusOf returns the exit status an error asks for.
func statusOf(err error) (int, bool) {
	var s exitStatus
	if errors.As(err, &s) {
		return int(s), true
	}
	return 1, false
}
