// Package cli is routedeck's command line: `serve`; the offline commands
// that open the data directory or read files directly (user add, token
// create, check, bootstrap, manifests); and the client commands that talk
// to a server's API (apply, get, delete, validate, diff, publish, rollback,
// test, export, import).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Environment variables the CLI reads, as the design names them.
const (
	EnvDataDir = "ROUTEDECK_DATA_DIR"
	EnvServer  = "ROUTEDECK_SERVER"
	EnvToken   = "ROUTEDECK_TOKEN"
	EnvCAFile  = "ROUTEDECK_CA_FILE"
)

// options are the flags shared by every command.
type options struct {
	dataDir   string
	server    string
	token     string
	caFile    string
	logFormat string
	logLevel  string

	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// NewRoot builds the command tree. stdin/stdout/stderr are parameters so
// tests run commands in-process.
func NewRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	o := &options{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "routedeck",
		Short: "Routes for Envoy gateways as readable rules: write, prove in a sandbox, publish over ADS",
		Long: `routedeck manages API-gateway routes for Envoy. Routes are condition rules
("host == \"shop.example.com\" && path.prefix(\"/static\")") kept as revisions,
tested in a local sandbox and published to Envoys over ADS.

Run "routedeck serve" for the dashboard and API; the other commands talk to a
running server (--server, --token) or open the data directory directly.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(o.stderr, o.logFormat, o.logLevel)
			if err != nil {
				return err
			}
			o.log = log
			return nil
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&o.dataDir, "data-dir", envOr(EnvDataDir, ".routedeck"), "data directory (env "+EnvDataDir+")")
	pf.StringVar(&o.server, "server", envOr(EnvServer, "http://127.0.0.1:8080"), "server URL for client commands (env "+EnvServer+")")
	pf.StringVar(&o.caFile, "ca-file", os.Getenv(EnvCAFile), "PEM CA certificates to trust, besides the system's, for an https --server (env "+EnvCAFile+")")
	// No default from the environment here: cobra prints flag defaults in
	// every command's help, and a token must never be printed. client()
	// reads the variable when a command runs.
	pf.StringVar(&o.token, "token", "", "API token for client commands (default $"+EnvToken+")")
	pf.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")

	root.AddCommand(
		newServeCmd(o),
		newUserCmd(o),
		newTokenCmd(o),
		newSecretsCmd(o),
		newApplyCmd(o),
		newValidateCmd(o),
		newLintCmd(o),
		newSchemaCmd(o),
		newGetCmd(o),
		newDeleteCmd(o),
		newEditCmd(o),
		newDiffCmd(o),
		newPublishCmd(o),
		newRollbackCmd(o),
		newCheckCmd(o),
		newBootstrapCmd(o),
		newProxyCmd(o),
		newManifestsCmd(o),
		newCertsCmd(o),
		newExportCmd(o),
		newTestCmd(o),
		newImportCmd(o),
		newLogsCmd(o),
		newBackupCmd(o),
		newRestoreCmd(o),
		newReplayCmd(o),
		newAlertsCmd(o),
		newExplainCmd(o),
	)
	return root
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// Run executes the command line args and returns the exit status: 0, or 1
// after printing the error, or the status a command chose itself (check
// exits as router_check_tool does). An error is one line, except a file with
// several problems, which gets one line per problem.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if code, quiet := statusOf(err); quiet {
			return code
		}
		msg := err.Error()
		if errors.Is(err, context.Canceled) {
			msg = "interrupted"
		}
		if !strings.Contains(msg, "\n") {
			msg = "routedeck: " + msg
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	return 0
}
