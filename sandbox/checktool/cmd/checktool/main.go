// Command checktool runs Envoy router_check_tool test files with
// routedeck's simulated router (the same code as `routedeck check`).
package main

import (
	"os"

	"github.com/routedeck/routedeck/sandbox/checktool"
)

func main() {
	os.Exit(checktool.Run(os.Args[1:], os.Stdout, os.Stderr))
}
