// Command adsproxy joins a gateway as a proxy in the console's end-to-end
// tests: it runs routedeck's simulated Envoy, which subscribes over ADS like
// an Envoy of that gateway, ACKs what it can serve and NACKs what it cannot,
// so the publish screen shows a real data plane's answers. With -nack-node
// it also joins as a second proxy that rejects every route configuration
// with -nack-error, so the console has a NACK to show. It stops by itself
// after -for, or when killed.
//
//	go run ./frontend/e2e/adsproxy -ads 127.0.0.1:18000 -gateway public \
//		-nack-node e2e-nacker -nack-error 'route: rule/web/0: invalid regex'
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

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/sandbox/sim"
)

func main() {
	addr := flag.String("ads", "127.0.0.1:18000", "ADS address of routedeck serve")
	gateway := flag.String("gateway", "public", "gateway (node.cluster) to subscribe as")
	node := flag.String("node", "e2e-proxy-0", "node id")
	limit := flag.Duration("for", 10*time.Minute, "stop after this long")
	nackNode := flag.String("nack-node", "", "if set, also join as this node and NACK every route configuration")
	nackError := flag.String("nack-error", "invalid route configuration", "error_detail message of the NACKs of -nack-node")
	bootstrap := flag.String("bootstrap", "", "Envoy bootstrap to take the ADS address, gateway and TLS credentials from")
	printListeners := flag.Bool("print-listeners", false, "once the gateway's listeners serve, print where: \"adsproxy: listener NAME on HOST:PORT\"")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := sim.DataPlaneOptions{ADS: *addr, Cluster: *gateway}
	if *bootstrap != "" {
		var err error
		if opts, err = fromBootstrap(*bootstrap); err != nil {
			fmt.Fprintf(os.Stderr, "adsproxy: %v\n", err)
			os.Exit(1)
		}
		*addr, *gateway = opts.ADS, opts.Cluster
	}
	opts.NodeID, opts.Logger = *node, log
	dp, err := sim.Start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "adsproxy: connect %s: %v\n", *addr, err)
		os.Exit(1)
	}
	defer dp.Close()
	fmt.Println("adsproxy: simulated Envoy", *node, "connected for gateway", *gateway)
	if *printListeners {
		// Requests go through the proxy only once it serves its listeners.
		st, err := dp.WaitFor(ctx, func(st sim.Status) bool {
			for name := range st.Listeners {
				if !st.Ready[name] {
					return false
				}
			}
			return len(st.Listeners) > 0 && len(st.Warming) == 0
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "adsproxy: no listener: %v\n", err)
			os.Exit(1)
		}
		for name, addr := range st.Listeners {
			fmt.Println("adsproxy: listener", name, "on", addr)
		}
	}
	if *nackNode == "" {
		<-ctx.Done()
		return
	}
	n := &nacker{addr: *addr, node: *nackNode, cluster: *gateway, errText: *nackError, tls: opts.TLS, log: log}
	fmt.Println("adsproxy:", *nackNode, "joins gateway", *gateway, "and NACKs route configurations")
	n.run(ctx)
}

// fromBootstrap reads what an Envoy started with the bootstrap at path
// would use to reach ADS.
func fromBootstrap(path string) (sim.DataPlaneOptions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return sim.DataPlaneOptions{}, err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return sim.DataPlaneOptions{}, fmt.Errorf("%s: %w", path, err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		return sim.DataPlaneOptions{}, fmt.Errorf("%s: %w", path, err)
	}
	return sim.FromBootstrap(b)
}
