// Command routedeck manages Envoy gateway routes: `routedeck serve` runs the
// dashboard and API; the other subcommands are listed by `routedeck --help`.
package main

import (
	"context"
	"os"

	"github.com/routedeck/routedeck/app/cli"
)

func main() {
	// Nothing is opened here: each subcommand opens what it needs, so a
	// desktop build can show its window before any service starts.
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
