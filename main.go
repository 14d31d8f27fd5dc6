// Command routedeck manages Envoy gateway routes: `routedeck serve` runs the
// dashboard and API; the other subcommands are listed by `routedeck --help`.
// The desktop build (tag desktop) opens a window when run without arguments.
package main

import (
	"context"
	"os"

	"github.com/routedeck/routedeck/app/cli"
)

// openWindow is set by the desktop build; the server build has no window.
var openWindow func() int

func main() {
	// Nothing is opened here: each subcommand opens what it needs, and the
	// desktop window starts its services from its own startup hook.
	if len(os.Args) == 1 && openWindow != nil {
		os.Exit(openWindow())
	}
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
