// Command adsproxy joins a gateway as a proxy in the console's end-to-end
// tests: it runs routedeck's simulated Envoy, which subscribes over ADS like
// an Envoy of that gateway, ACKs what it can serve and NACKs what it cannot,
// so the publish screen shows a real data plane's answers. It stops by
// itself after -for, or when killed.
//
//	go run ./frontend/e2e/adsproxy -ads 127.0.0.1:18000 -gateway public
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/routedeck/routedeck/sandbox/sim"
)

func main() {
	addr := flag.String("ads", "127.0.0.1:18000", "ADS address of routedeck serve")
	gateway := flag.String("gateway", "public", "gateway (node.cluster) to subscribe as")
	node := flag.String("node", "e2e-proxy-0", "node id")
	limit := flag.Duration("for", 10*time.Minute, "stop after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	dp, err := sim.Start(sim.DataPlaneOptions{
		ADS:     *addr,
		NodeID:  *node,
		Cluster: *gateway,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "adsproxy: connect %s: %v\n", *addr, err)
		os.Exit(1)
	}
	defer dp.Close()
	fmt.Println("adsproxy: simulated Envoy", *node, "connected for gateway", *gateway)
	<-ctx.Done()
}
