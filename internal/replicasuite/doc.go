// Package replicasuite is the integration suite of xDS replicas: a real
// three-server Consul cluster on loopback, a writer (`routedeck serve`
// with KV publishing and no ADS of its own) and two replicas (`serve
// --role xds`) as processes of their own, and proxies connected to the
// replicas over mutual TLS: simulated Envoys started from bootstraps that
// list both replicas, with requests going through them all along, and
// fleets of gRPC ADS clients. It kills the writer, a replica and a Consul
// server, and a publisher between two batches of a split publish, and
// checks what every proxy is served and that no request fails.
//
// The processes are this test binary started again as the routedeck
// command (see TestMain), so the suite needs no separate build.
package replicasuite
