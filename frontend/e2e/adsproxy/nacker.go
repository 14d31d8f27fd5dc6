package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// nacker is a bare state-of-the-world ADS client that behaves like an Envoy
// which cannot load any route configuration: it subscribes to listeners and
// clusters, follows them to the route configurations and endpoints they
// name, ACKs every response except route configurations, which it rejects
// with a fixed error_detail. The console then has a real NACK to show.
type nacker struct {
	addr, node, cluster, errText string
	// tls is the gateway's credentials; nil dials in plaintext.
	tls *tls.Config
	log *slog.Logger
}

// run keeps a stream open until ctx ends, reconnecting after a pause when
// the server goes away (a restart must not leave the console without the
// NACK the tests look for).
func (n *nacker) run(ctx context.Context) {
	creds := insecure.NewCredentials()
	if n.tls != nil {
		creds = credentials.NewTLS(n.tls)
	}
	conn, err := grpc.NewClient(n.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		n.log.Error("adsproxy: nacker dial", "addr", n.addr, "err", err)
		return
	}
	defer conn.Close()
	for ctx.Err() == nil {
		if err := n.stream(ctx, discovery.NewAggregatedDiscoveryServiceClient(conn)); err != nil && ctx.Err() == nil {
			n.log.Warn("adsproxy: nacker stream ended, reconnecting", "node", n.node, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// stream runs one ADS stream until it fails or ctx ends.
func (n *nacker) stream(ctx context.Context, client discovery.AggregatedDiscoveryServiceClient) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := client.StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open ADS stream: %w", err)
	}
	node := &corev3.Node{Id: n.node, Cluster: n.cluster}
	// Per type: the last accepted version and the names subscribed to.
	accepted := map[string]string{}
	names := map[string][]string{}
	send := func(req *discovery.DiscoveryRequest) error {
		req.Node = node
		req.VersionInfo = accepted[req.TypeUrl]
		if err := s.Send(req); err != nil {
			return fmt.Errorf("send %s: %w", req.TypeUrl, err)
		}
		return nil
	}
	// Like Envoy: wildcard listeners and clusters first; routes and
	// endpoints once something names them.
	for _, typ := range []string{resource.ClusterType, resource.ListenerType} {
		if err := send(&discovery.DiscoveryRequest{TypeUrl: typ}); err != nil {
			return err
		}
	}
	for {
		resp, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return errors.New("server closed the stream")
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		typ := resp.GetTypeUrl()
		if typ == resource.RouteType {
			// Rejected the way Envoy reports a route configuration it
			// cannot load: the old version stays, error_detail says why.
			n.log.Info("adsproxy: nacker rejects route configuration", "version", resp.GetVersionInfo())
			if err := send(&discovery.DiscoveryRequest{
				TypeUrl:       typ,
				ResourceNames: names[typ],
				ResponseNonce: resp.GetNonce(),
				ErrorDetail:   &status.Status{Code: int32(codes.InvalidArgument), Message: n.errText},
			}); err != nil {
				return err
			}
			continue
		}
		accepted[typ] = resp.GetVersionInfo()
		if err := send(&discovery.DiscoveryRequest{TypeUrl: typ, ResourceNames: names[typ], ResponseNonce: resp.GetNonce()}); err != nil {
			return err
		}
		// Listeners name route configurations, clusters name endpoints:
		// subscribe to what they name when the set changes.
		var dep string
		var want []string
		switch typ {
		case resource.ListenerType:
			dep, want = resource.RouteType, routeNames(resp)
		case resource.ClusterType:
			dep, want = resource.EndpointType, endpointNames(resp)
		default:
			continue
		}
		if _, asked := names[dep]; asked && slices.Equal(names[dep], want) {
			continue
		}
		names[dep] = want
		if err := send(&discovery.DiscoveryRequest{TypeUrl: dep, ResourceNames: want}); err != nil {
			return err
		}
	}
}

// routeNames lists the route configurations the listeners of resp load
// over RDS, sorted.
func routeNames(resp *discovery.DiscoveryResponse) []string {
	var out []string
	for _, a := range resp.GetResources() {
		l := &listenerv3.Listener{}
		if a.UnmarshalTo(l) != nil {
			continue
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig() == nil || f.GetTypedConfig().UnmarshalTo(hcm) != nil {
					continue
				}
				if name := hcm.GetRds().GetRouteConfigName(); name != "" && !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// endpointNames lists the EDS service names of the clusters of resp, sorted.
func endpointNames(resp *discovery.DiscoveryResponse) []string {
	var out []string
	for _, a := range resp.GetResources() {
		c := &clusterv3.Cluster{}
		if a.UnmarshalTo(c) != nil || c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
