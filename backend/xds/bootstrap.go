package xds

import (
	"fmt"
	"net"
	"strconv"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
)

// XDSClusterName is the static cluster through which a bootstrapped Envoy
// reaches routedeck's ADS server.
const XDSClusterName = "xds_cluster"

// Envoy refuses a regex whose RE2 program is larger than the runtime value
// re2.max_program_size.error_level, 100 by default, which translated rules
// (host lists, case-insensitive values) easily exceed. The bootstrap raises
// it to twice the translator's own bound (translate.MaxRegexProgramSize,
// measured with Go's compiler, which counts a little lower than RE2) and
// asks Envoy to warn, and count re2.exceeded_warn_level, from that bound.
const (
	RegexProgramSizeErrorLevel = 2 * translate.MaxRegexProgramSize
	RegexProgramSizeWarnLevel  = translate.MaxRegexProgramSize
)

// Runtime keys of Envoy's RE2 program size checks.
const (
	runtimeRegexErrorLevel = "re2.max_program_size.error_level"
	runtimeRegexWarnLevel  = "re2.max_program_size.warn_level"
)

// Bootstrap returns the Envoy bootstrap for a proxy of gateway: node
// (id nodeID, cluster gateway), LDS and CDS over ADS at adsHostPort, and the
// admin interface on 127.0.0.1:adminPort. A host that is an IP address gets
// a STATIC cluster; a name is resolved by Envoy (STRICT_DNS), as in
// Kubernetes where it is a Service name. A static runtime layer sets the
// RE2 program size limits (see RegexProgramSizeErrorLevel), with an admin
// layer above it so /runtime_modify keeps working.
//
// With tls, ADS runs over mutual TLS with the credentials it names (see
// SDSFiles for the files that go with the bootstrap); nil is plaintext,
// which the server refuses unless started for it.
func Bootstrap(gateway, nodeID, adsHostPort string, adminPort int, tls *ADSTLS) (*bootstrapv3.Bootstrap, error) {
	return BootstrapHosts(gateway, nodeID, []string{adsHostPort}, adminPort, tls)
}

// UseDeltaADS switches b's ADS stream to incremental xDS (DELTA_GRPC), as
// proxies of a server with Options.VHDS need: Envoy takes virtual hosts
// by VHDS only over a delta ADS stream, and refuses a route configuration
// with vhds otherwise. No on_demand filter is needed, since the server
// sends every virtual host of a route configuration once the proxy holds
// it, before any request could ask for one.
func UseDeltaADS(b *bootstrapv3.Bootstrap) {
	b.GetDynamicResources().GetAdsConfig().ApiType = corev3.ApiConfigSource_DELTA_GRPC
}

// MaxADSHosts bounds the ADS addresses of one bootstrap.
const MaxADSHosts = 64

// BootstrapHosts is Bootstrap with several ADS addresses (xDS replicas):
// the ADS cluster gets them all as hosts, and Envoy opens its ADS stream
// to one and moves to another when that one goes away. All IP addresses
// make a STATIC cluster, else STRICT_DNS. The SNI is the host name when
// there is exactly one.
func BootstrapHosts(gateway, nodeID string, ads []string, adminPort int, tls *ADSTLS) (*bootstrapv3.Bootstrap, error) {
	var p model.Problems
	if gateway == "" {
		p.Add("gateway", "required")
	}
	if nodeID == "" {
		p.Add("node", "required")
	}
	if len(ads) == 0 {
		p.Add("ads", "required: HOST:PORT")
	}
	if len(ads) > MaxADSHosts {
		p.Add("ads", "%d addresses, at most %d", len(ads), MaxADSHosts)
		ads = ads[:MaxADSHosts]
	}
	type hostPort struct {
		host string
		port int
	}
	var hosts []hostPort
	allIPs := true
	names := map[string]bool{}
	seen := map[string]bool{}
	for i, a := range ads {
		field := "ads"
		if len(ads) > 1 {
			field = fmt.Sprintf("ads[%d]", i)
		}
		host, portText, err := net.SplitHostPort(a)
		port, perr := strconv.Atoi(portText)
		switch {
		case err != nil:
			p.Add(field, "want HOST:PORT: %v", err)
		case host == "":
			p.Add(field, "host is empty")
		case perr != nil || port < 1 || port > 65535:
			p.Add(field, "port %q is not in 1-65535", portText)
		case seen[a]:
			p.Add(field, "%s is given twice", a)
		default:
			seen[a] = true
			hosts = append(hosts, hostPort{host, port})
			if net.ParseIP(host) == nil {
				allIPs = false
				names[host] = true
			}
		}
	}
	if adminPort < 0 || adminPort > 65535 {
		p.Add("adminPort", "%d is not in 0-65535", adminPort)
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}

	// ADS is a gRPC stream: the cluster must speak HTTP/2 upstream.
	h2, err := anypb.New(&httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("envoy bootstrap: http2 options: %w", err)
	}
	discoveryType := clusterv3.Cluster_STRICT_DNS
	if allIPs {
		discoveryType = clusterv3.Cluster_STATIC
	}
	var lbEndpoints []*endpointv3.LbEndpoint
	for _, h := range hosts {
		lbEndpoints = append(lbEndpoints, &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: socketAddress(h.host, h.port)}},
		})
	}
	adsSource := &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
	b := &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Id: nodeID, Cluster: gateway},
		Admin: &bootstrapv3.Admin{
			Address: socketAddress("127.0.0.1", adminPort),
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Clusters: []*clusterv3.Cluster{{
				Name:                 XDSClusterName,
				ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: discoveryType},
				ConnectTimeout:       durationpb.New(5 * time.Second),
				TypedExtensionProtocolOptions: map[string]*anypb.Any{
					"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": h2,
				},
				LoadAssignment: &endpointv3.ClusterLoadAssignment{
					ClusterName: XDSClusterName,
					Endpoints:   []*endpointv3.LocalityLbEndpoints{{LbEndpoints: lbEndpoints}},
				},
			}},
		},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			AdsConfig: &corev3.ApiConfigSource{
				ApiType:             corev3.ApiConfigSource_GRPC,
				TransportApiVersion: corev3.ApiVersion_V3,
				// The node is the same on every request of a stream; sending
				// it once saves bytes on each ACK.
				SetNodeOnFirstMessageOnly: true,
				GrpcServices: []*corev3.GrpcService{{
					TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
						EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: XDSClusterName},
					},
				}},
			},
			LdsConfig: adsSource,
			CdsConfig: adsSource,
		},
		LayeredRuntime: &bootstrapv3.LayeredRuntime{Layers: []*bootstrapv3.RuntimeLayer{
			{
				Name: "routedeck",
				LayerSpecifier: &bootstrapv3.RuntimeLayer_StaticLayer{StaticLayer: &structpb.Struct{Fields: map[string]*structpb.Value{
					runtimeRegexErrorLevel: structpb.NewNumberValue(RegexProgramSizeErrorLevel),
					runtimeRegexWarnLevel:  structpb.NewNumberValue(RegexProgramSizeWarnLevel),
				}}},
			},
			{Name: "admin", LayerSpecifier: &bootstrapv3.RuntimeLayer_AdminLayer_{AdminLayer: &bootstrapv3.RuntimeLayer_AdminLayer{}}},
		}},
	}
	if tls != nil {
		// The host name as SNI lets a TLS-routing load balancer in front
		// of routedeck pick the right backend; an IP address is no SNI,
		// and one SNI cannot name several hosts.
		sni := ""
		if len(names) == 1 {
			for name := range names {
				sni = name
			}
		}
		ts, err := tls.transportSocket(sni)
		if err != nil {
			return nil, fmt.Errorf("envoy bootstrap: %w", err)
		}
		b.StaticResources.Clusters[0].TransportSocket = ts
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	return b, nil
}

func socketAddress(host string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

// BootstrapYAML renders b as Envoy reads it: the proto's JSON mapping
// (typed configs carry their @type) as YAML.
func BootstrapYAML(b *bootstrapv3.Bootstrap) ([]byte, error) {
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("render bootstrap: %w", err)
	}
	out, err := yaml.JSONToYAML(js)
	if err != nil {
		return nil, fmt.Errorf("render bootstrap: %w", err)
	}
	return out, nil
}

// ParseBootstrapYAML is the inverse of BootstrapYAML.
func ParseBootstrapYAML(data []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parse bootstrap: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("parse bootstrap: %w", err)
	}
	return b, nil
}
