package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for this program as the access
// log runs' server and client children, which are this program again
// (os.Args[0]) with -role=als-server or -role=als-client.
func TestMain(m *testing.M) {
	args := map[string]string{}
	for _, a := range os.Args[1:] {
		if k, v, ok := strings.Cut(strings.TrimPrefix(a, "-"), "="); ok {
			args[k] = v
		}
	}
	role := args["role"]
	if role != "als-server" && role != "als-client" {
		os.Exit(m.Run())
	}
	n, _ := strconv.Atoi(args["n"])
	var err error
	if role == "als-server" {
		err = runALSServer(context.Background(), n, args["cpuprofile"])
	} else {
		err = runALSClient(context.Background(), args["addr"], n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, role+":", err)
		os.Exit(1)
	}
	os.Exit(0)
}
