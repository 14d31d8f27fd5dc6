// Command conformance runs every router_check test file of a corpus folder
// (Envoy's layout) and checks that each gets Envoy's verdict.
package main

import (
	"fmt"
	"os"

	"github.com/routedeck/routedeck/sandbox/checktool"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: conformance DIR")
		os.Exit(2)
	}
	bad, err := checktool.Conformance(os.Args[1], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "%d test files did not get Envoy's verdict\n", bad)
		os.Exit(1)
	}
}
