// Command adsproxy stands in for an Envoy in the console's end-to-end tests:
// one real ADS stream that subscribes as a proxy of a gateway and ACKs every
// configuration, so the publish screen has a proxy to show. It stops by
// itself after -for, or when killed.
//
//	go run ./frontend/e2e/adsproxy -ads 127.0.0.1:18000 -gateway public
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/routedeck/routedeck/backend/xds/xdsload"
)

func main() {
	addr := flag.String("ads", "127.0.0.1:18000", "ADS address of routedeck serve")
	gateway := flag.String("gateway", "public", "gateway (node.cluster) to subscribe as")
	node := flag.String("node", "e2e-proxy", "node id prefix")
	limit := flag.Duration("for", 10*time.Minute, "stop after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	fleet, err := xdsload.Start(ctx, *addr, *gateway, *node, 1)
	if err != nil {
		fmt.Fprintf(os.Stderr, "adsproxy: connect %s: %v\n", *addr, err)
		os.Exit(1)
	}
	defer fleet.Stop()
	fmt.Println("adsproxy: connected as", *node+"-0", "for gateway", *gateway)
	<-ctx.Done()
}
