package translate

import (
	"math"
	"strings"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/model"
)

// AccessLogCluster is the cluster every listener sends its access log
// entries through: the bootstrap's ADS cluster, because routedeck's ADS
// server is also its access log service (same address, same mutual TLS
// identity), so a proxy needs nothing beyond its bootstrap to report.
const AccessLogCluster = "xds_cluster"

// AccessLogSamplingRuntimeKey is the runtime key that overrides a
// gateway's sampling percentage on a proxy (an integer percentage, as
// Envoy's runtime reads it), for an operator who must turn logging down
// on one proxy without a publish.
const AccessLogSamplingRuntimeKey = "routedeck.access_log.sampling"

// Envoy's defaults for a gRPC access logger, written out so the sim and
// the console's documentation read the same values Envoy would use.
const (
	accessLogFlushInterval = time.Second
	accessLogBufferBytes   = 16 << 10
)

// accessLogs is the connection manager's access log list for gw: one
// http_grpc logger to routedeck, sampled when the gateway asks for less
// than every request, or none when logging is off. log_name is the
// gateway's name so an entry names its gateway even before the server
// has matched the stream to the proxy's certificate.
func accessLogs(gw *model.Gateway, problems *model.Problems) []*accesslogv3.AccessLog {
	al := gw.AccessLog
	if al != nil && al.Disabled {
		return nil
	}
	var headers []string
	if al != nil {
		for _, h := range al.RequestHeaders {
			headers = append(headers, strings.ToLower(h))
		}
	}
	cfg, err := anyOf(&grpcalsv3.HttpGrpcAccessLogConfig{
		CommonConfig: &grpcalsv3.CommonGrpcAccessLogConfig{
			LogName: gw.Name,
			GrpcService: &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
				EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: AccessLogCluster},
			}},
			TransportApiVersion: corev3.ApiVersion_V3,
			BufferFlushInterval: durationpb.New(accessLogFlushInterval),
			BufferSizeBytes:     wrapperspb.UInt32(accessLogBufferBytes),
		},
		AdditionalRequestHeadersToLog: headers,
	})
	if err != nil {
		problems.Add("accessLog", "envoy access log: %v", err)
		return nil
	}
	out := &accesslogv3.AccessLog{
		Name:       "envoy.access_loggers.http_grpc",
		ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: cfg},
	}
	if pct := al.SamplingPercent(); pct < 100 {
		// Per million, the finest denominator Envoy has: four decimals
		// of a percentage. Independent randomness, because a gateway at
		// the edge generates the request id itself and a sample drawn
		// from it says nothing more than a random one.
		out.Filter = &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_RuntimeFilter{
			RuntimeFilter: &accesslogv3.RuntimeFilter{
				RuntimeKey: AccessLogSamplingRuntimeKey,
				PercentSampled: &typev3.FractionalPercent{
					Numerator:   uint32(math.Round(pct * 10000)),
					Denominator: typev3.FractionalPercent_MILLION,
				},
				UseIndependentRandomness: true,
			},
		}}
	}
	if err := out.Validate(); err != nil {
		problems.Add("accessLog", "envoy access log: %v", err)
		return nil
	}
	return []*accesslogv3.AccessLog{out}
}
