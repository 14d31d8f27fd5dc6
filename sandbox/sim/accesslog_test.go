package sim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// alsRecorder is an access log service that keeps what it receives.
type alsRecorder struct {
	alsv3.UnimplementedAccessLogServiceServer
	mu          sync.Mutex
	identifiers []*alsv3.StreamAccessLogsMessage_Identifier
	entries     map[string][]*accesslogdata.HTTPAccessLogEntry // by log name
	changed     chan struct{}
}

func (r *alsRecorder) StreamAccessLogs(st alsv3.AccessLogService_StreamAccessLogsServer) error {
	var logName string
	for {
		msg, err := st.Recv()
		if err != nil {
			return nil
		}
		r.mu.Lock()
		if id := msg.GetIdentifier(); id != nil {
			r.identifiers = append(r.identifiers, id)
			logName = id.GetLogName()
		}
		r.entries[logName] = append(r.entries[logName], msg.GetHttpLogs().GetLogEntry()...)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

// wait waits until logName has n entries.
func (r *alsRecorder) wait(t *testing.T, logName string, n int) []*accesslogdata.HTTPAccessLogEntry {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		got, ch := r.entries[logName], r.changed
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("log %q: %d entries, want %d", logName, len(got), n)
		}
	}
}

// newALSHarness is newHarness with the access log service on the ADS
// server, as routedeck serves it.
func newALSHarness(t *testing.T) (*harness, *alsRecorder) {
	t.Helper()
	h := &harness{cache: cache.NewSnapshotCache(true, cache.IDHash{}, nil)}
	rec := &alsRecorder{entries: map[string][]*accesslogdata.HTTPAccessLogEntry{}, changed: make(chan struct{})}
	g := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(g, serverv3.NewServer(context.Background(), h.cache, nil))
	alsv3.RegisterAccessLogServiceServer(g, rec)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	h.dp, err = Start(DataPlaneOptions{ADS: lis.Addr().String(), NodeID: "n1", Cluster: "sandbox/test", ADSClusterName: "ads",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.dp.Close() })
	return h, rec
}

// grpcLog is an http_grpc access log to cluster, flushed at once.
func grpcLog(t *testing.T, logName, cluster string, filter *accesslogv3.AccessLogFilter, headers ...string) *accesslogv3.AccessLog {
	t.Helper()
	return &accesslogv3.AccessLog{Name: "envoy.access_loggers.http_grpc", Filter: filter,
		ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(t, &grpcalsv3.HttpGrpcAccessLogConfig{
			CommonConfig: &grpcalsv3.CommonGrpcAccessLogConfig{
				LogName:             logName,
				GrpcService:         &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: cluster}}},
				TransportApiVersion: corev3.ApiVersion_V3,
				// Flushed by size (every entry is larger), never by time.
				BufferSizeBytes:     u32(1),
				BufferFlushInterval: durationpb.New(time.Hour),
			},
			AdditionalRequestHeadersToLog: headers,
		})}}
}

// withAccessLogs is listener(t) with access logs on its connection manager.
func withAccessLogs(t *testing.T, logs ...*accesslogv3.AccessLog) *listenerv3.Listener {
	t.Helper()
	l := listener(t)
	hcm := &hcmv3.HttpConnectionManager{}
	if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
		t.Fatal(err)
	}
	hcm.AccessLog = logs
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, hcm)}
	return l
}

func TestAccessLogEntries(t *testing.T) {
	h, rec := newALSHarness(t)
	web := mock(t, "web", upstream.Profile{})
	rewrite := prefixRoute("rule/api/0", "/api/", "web")
	rewrite.GetRoute().PrefixRewrite = "/v2/"
	errorsOnly := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslogv3.StatusCodeFilter{
		Comparison: &accesslogv3.ComparisonFilter{Op: accesslogv3.ComparisonFilter_GE, Value: &corev3.RuntimeUInt32{DefaultValue: 400, RuntimeKey: "unset"}}}}}
	never := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_RuntimeFilter{RuntimeFilter: &accesslogv3.RuntimeFilter{
		RuntimeKey: "unset", PercentSampled: &typev3.FractionalPercent{Numerator: 0}, UseIndependentRandomness: true}}}
	h.set(t, "1",
		withAccessLogs(t,
			grpcLog(t, "all", "ads", nil, "x-trace", "X-Absent"),
			grpcLog(t, "errors", "ads", errorsOnly),
			grpcLog(t, "never", "ads", never),
			grpcLog(t, "elsewhere", "not-ads", nil)),
		routeConfig(rewrite),
		edsCluster("web", clusterv3.Cluster_ROUND_ROBIN), loadAssignment("web", web))

	h.do(t, "GET", "http://Shop.example.com:8080/api/cart?x=1", "x-trace", "a", "x-trace", "b", "user-agent", "tester")
	h.do(t, "POST", "http://shop.example.com/nowhere")

	all := rec.wait(t, "all", 2)
	ok, miss := all[0], all[1]
	cp, req, resp := ok.GetCommonProperties(), ok.GetRequest(), ok.GetResponse()
	if cp.GetRouteName() != "rule/api/0" || cp.GetUpstreamCluster() != "web" ||
		cp.GetUpstreamRemoteAddress().GetSocketAddress().GetPortValue() != uint32(web.Port()) ||
		cp.GetDownstreamRemoteAddress().GetSocketAddress().GetAddress() != "127.0.0.1" || cp.GetStartTime() == nil ||
		cp.GetResponseFlags() != nil || cp.GetDuration().AsDuration() <= 0 {
		t.Errorf("common properties = %v", cp)
	}
	// The router rewrote :path in place; the original is kept apart.
	// Envoy strips the port from Host but keeps its case.
	if req.GetRequestMethod() != corev3.RequestMethod_GET || req.GetAuthority() != "Shop.example.com" || req.GetPath() != "/v2/cart?x=1" ||
		req.GetOriginalPath() != "/api/cart?x=1" || req.GetUserAgent() != "tester" || req.GetRequestId() == "" || req.GetScheme() != "http" ||
		len(req.GetRequestHeaders()) != 1 || req.GetRequestHeaders()["x-trace"] != "a,b" {
		t.Errorf("request properties = %v", req)
	}
	if resp.GetResponseCode().GetValue() != 200 || resp.GetResponseBodyBytes() == 0 || resp.GetResponseCodeDetails() != "via_upstream" {
		t.Errorf("response properties = %v", resp)
	}
	if ok.GetProtocolVersion() != accesslogdata.HTTPAccessLogEntry_HTTP11 {
		t.Errorf("protocol = %v", ok.GetProtocolVersion())
	}
	if miss.GetCommonProperties().GetRouteName() != "" || miss.GetResponse().GetResponseCode().GetValue() != 404 ||
		!miss.GetCommonProperties().GetResponseFlags().GetNoRouteFound() || miss.GetResponse().GetResponseCodeDetails() != "route_not_found" ||
		miss.GetCommonProperties().GetUpstreamCluster() != "" {
		t.Errorf("unmatched = %v", miss)
	}
	if errs := rec.wait(t, "errors", 1); len(errs) != 1 || errs[0].GetResponse().GetResponseCode().GetValue() != 404 {
		t.Errorf("status filter let through %d entries", len(errs))
	}

	// One stream per logger; its first message names the node and log.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.entries["never"]) != 0 || len(rec.entries["elsewhere"]) != 0 {
		t.Errorf("filtered or unreachable loggers sent entries: %v", rec.entries)
	}
	names := map[string]bool{}
	for _, id := range rec.identifiers {
		if id.GetNode().GetId() != "n1" || id.GetNode().GetCluster() != "sandbox/test" {
			t.Errorf("identifier node = %v", id.GetNode())
		}
		if names[id.GetLogName()] {
			t.Errorf("log %q identified twice: one stream per logger", id.GetLogName())
		}
		names[id.GetLogName()] = true
	}
	if len(names) != 2 {
		t.Errorf("streams opened for %v, want all and errors", names)
	}
}

func TestAccessLogRuntimeFilter(t *testing.T) {
	tests := map[string]struct {
		rf        *accesslogv3.RuntimeFilter
		requestID string
		want      bool
	}{
		"all":               {rf: &accesslogv3.RuntimeFilter{RuntimeKey: "k", PercentSampled: &typev3.FractionalPercent{Numerator: 100}}, want: true},
		"none":              {rf: &accesslogv3.RuntimeFilter{RuntimeKey: "k", PercentSampled: &typev3.FractionalPercent{Numerator: 0}}, want: false},
		"request id in":     {rf: &accesslogv3.RuntimeFilter{RuntimeKey: "k", PercentSampled: &typev3.FractionalPercent{Numerator: 50}}, requestID: "0000001e-aaaa", want: true},
		"request id out":    {rf: &accesslogv3.RuntimeFilter{RuntimeKey: "k", PercentSampled: &typev3.FractionalPercent{Numerator: 50}}, requestID: "00000050-aaaa", want: false},
		"runtime overrides": {rf: &accesslogv3.RuntimeFilter{RuntimeKey: "on", PercentSampled: &typev3.FractionalPercent{Numerator: 0}}, want: true},
	}
	rt := StaticRuntime{"on": "100"}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := &accesslogdata.HTTPAccessLogEntry{Request: &accesslogdata.HTTPRequestProperties{RequestId: tc.requestID}}
			f := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_RuntimeFilter{RuntimeFilter: tc.rf}}
			if got := evalLogFilter(f, e, rt); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
