package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The sim's access logging follows Envoy's http_grpc access logger
// (extensions/access_loggers/grpc): each connection manager's access_log
// entries are evaluated when a request completes, their filters decide,
// and an HTTPAccessLogEntry with the common, request and response
// properties Envoy fills in is buffered per logger configuration and sent
// on a StreamAccessLogs stream whose first message carries the node and
// log_name; the buffer goes out when it reaches buffer_size_bytes or
// every buffer_flush_interval. A failed stream loses the message in
// flight and the next flush opens a new one, as in Envoy.

const (
	typeHTTPGrpcAccessLog = "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig"
	// Envoy's defaults for CommonGrpcAccessLogConfig.
	defaultALSFlushInterval = time.Second
	defaultALSBufferBytes   = 16384
	// maxALSPending bounds what waits for a stream that cannot keep up;
	// past it entries are dropped, as Envoy drops past its buffer.
	maxALSPending = 1 << 20
)

// accessLogs is a data plane's access log state: the parsed loggers of
// each listener and the running gRPC loggers. The zero value is ready.
type accessLogs struct {
	mu        sync.Mutex
	listeners map[string]*listenerLogs
	loggers   map[string]*grpcLogger // by encoded CommonGrpcAccessLogConfig
	conn      *grpc.ClientConn
}

// listenerLogs is what one Listener resource asks to log.
type listenerLogs struct {
	source *listenerv3.Listener
	logs   []*httpGrpcLog
}

// httpGrpcLog is one access_log entry of type http_grpc.
type httpGrpcLog struct {
	filter  *accesslogv3.AccessLogFilter
	config  *grpcalsv3.HttpGrpcAccessLogConfig
	key     string
	headers []string
}

// accessLog starts the access log of one request on listener: it counts
// the bytes of the request and response bodies through r and the writer
// it returns, and done, called when the request has completed, evaluates
// the listener's access logs.
func (dp *DataPlane) accessLog(w http.ResponseWriter, r *http.Request, hc *hcmConfig, ex *Exchange) (http.ResponseWriter, func()) {
	if hc == nil {
		return w, func() {}
	}
	logs := dp.accessLogs.forListener(dp, hc)
	if len(logs) == 0 {
		return w, func() {}
	}
	start := time.Now()
	cw := &countingWriter{ResponseWriter: w}
	body := &countingBody{ReadCloser: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = body
	}
	return cw, func() {
		e, h := dp.httpLogEntry(r, hc, ex, start, cw.n, body.n.Load())
		for i, l := range logs {
			le := e
			if i < len(logs)-1 {
				le = proto.Clone(e).(*accesslogdata.HTTPAccessLogEntry)
			}
			l.keepHeaders(le, h)
			if l.matches(le, hc) {
				if g := dp.accessLogs.logger(dp, l); g != nil {
					g.log(le)
				}
			}
		}
	}
}

// forListener returns the http_grpc loggers of hc's listener, parsed
// once per Listener resource.
func (a *accessLogs) forListener(dp *DataPlane, hc *hcmConfig) []*httpGrpcLog {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ll := a.listeners[hc.listener]; ll != nil && ll.source == hc.source {
		return ll.logs
	}
	if a.listeners == nil {
		a.listeners = map[string]*listenerLogs{}
	}
	ll := &listenerLogs{source: hc.source, logs: parseAccessLogs(dp, hc.source)}
	a.listeners[hc.listener] = ll
	return ll.logs
}

// parseAccessLogs reads the http_grpc access logs of the listener's
// connection manager (the first filter chain's: the translator gives
// every chain the same one).
func parseAccessLogs(dp *DataPlane, l *listenerv3.Listener) []*httpGrpcLog {
	var hcm *hcmv3.HttpConnectionManager
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			m := &hcmv3.HttpConnectionManager{}
			if tc := f.GetTypedConfig(); tc != nil && tc.UnmarshalTo(m) == nil {
				hcm = m
				break
			}
		}
		if hcm != nil {
			break
		}
	}
	var out []*httpGrpcLog
	for _, al := range hcm.GetAccessLog() {
		tc := al.GetTypedConfig()
		if tc.GetTypeUrl() != typeHTTPGrpcAccessLog {
			dp.log.Warn("sim: access logger not simulated", "listener", l.GetName(), "name", al.GetName(), "type", tc.GetTypeUrl())
			continue
		}
		cfg := &grpcalsv3.HttpGrpcAccessLogConfig{}
		if err := tc.UnmarshalTo(cfg); err != nil {
			dp.log.Warn("sim: access logger", "listener", l.GetName(), "err", err)
			continue
		}
		key, _ := proto.MarshalOptions{Deterministic: true}.Marshal(cfg.GetCommonConfig())
		out = append(out, &httpGrpcLog{filter: al.GetFilter(), config: cfg, key: string(key),
			headers: cfg.GetAdditionalRequestHeadersToLog()})
	}
	return out
}

// matches evaluates the access log's filter the way Envoy's
// AccessLog::FilterFactory builds it. Filter types the sim does not
// simulate never match, so the sim logs less rather than more.
func (l *httpGrpcLog) matches(e *accesslogdata.HTTPAccessLogEntry, hc *hcmConfig) bool {
	if l.filter == nil {
		return true
	}
	var rt Runtime = StaticRuntime(nil)
	if hc.router != nil && hc.router.runtime != nil {
		rt = hc.router.runtime
	}
	return evalLogFilter(l.filter, e, rt)
}

func evalLogFilter(f *accesslogv3.AccessLogFilter, e *accesslogdata.HTTPAccessLogEntry, rt Runtime) bool {
	switch {
	case f.GetRuntimeFilter() != nil:
		rf := f.GetRuntimeFilter()
		random := rand.Uint64()
		if !rf.GetUseIndependentRandomness() {
			// The stream id: the x-request-id's first eight hex digits
			// (Envoy's UUID request id extension), else random.
			if v, ok := requestIDInteger(e.GetRequest().GetRequestId()); ok {
				random = v
			}
		}
		return rt.FeatureEnabled(rf.GetRuntimeKey(), rf.GetPercentSampled(), random)
	case f.GetStatusCodeFilter() != nil:
		return compare(f.GetStatusCodeFilter().GetComparison(), uint64(e.GetResponse().GetResponseCode().GetValue()), rt)
	case f.GetDurationFilter() != nil:
		return compare(f.GetDurationFilter().GetComparison(), uint64(e.GetCommonProperties().GetDuration().AsDuration().Milliseconds()), rt)
	case f.GetNotHealthCheckFilter() != nil:
		return true // the sim serves no health check requests
	case f.GetAndFilter() != nil:
		for _, sub := range f.GetAndFilter().GetFilters() {
			if !evalLogFilter(sub, e, rt) {
				return false
			}
		}
		return true
	case f.GetOrFilter() != nil:
		for _, sub := range f.GetOrFilter().GetFilters() {
			if evalLogFilter(sub, e, rt) {
				return true
			}
		}
		return false
	case f.GetResponseFlagFilter() != nil:
		flags := responseFlagCodes(e.GetCommonProperties().GetResponseFlags())
		want := f.GetResponseFlagFilter().GetFlags()
		if len(want) == 0 {
			return len(flags) > 0
		}
		for _, w := range want {
			for _, got := range flags {
				if w == got {
					return true
				}
			}
		}
		return false
	}
	return false
}

// compare is Envoy's ComparisonFilter: the value against the runtime
// value of runtime_key, else default_value.
func compare(c *accesslogv3.ComparisonFilter, v uint64, rt Runtime) bool {
	want := rt.Integer(c.GetValue().GetRuntimeKey(), uint64(c.GetValue().GetDefaultValue()))
	switch c.GetOp() {
	case accesslogv3.ComparisonFilter_GE:
		return v >= want
	case accesslogv3.ComparisonFilter_LE:
		return v <= want
	case accesslogv3.ComparisonFilter_NE:
		return v != want
	}
	return v == want
}

func requestIDInteger(id string) (uint64, bool) {
	if len(id) < 8 {
		return 0, false
	}
	v, err := strconv.ParseUint(id[:8], 16, 64)
	return v, err == nil
}

// keepHeaders adds the headers the logger keeps
// (additional_request_headers_to_log), repeated ones joined with ",".
func (l *httpGrpcLog) keepHeaders(e *accesslogdata.HTTPAccessLogEntry, h Headers) {
	for _, name := range l.headers {
		name = strings.ToLower(name)
		if vals := h.Values(name); len(vals) > 0 {
			if e.Request.RequestHeaders == nil {
				e.Request.RequestHeaders = map[string]string{}
			}
			e.Request.RequestHeaders[name] = strings.Join(vals, ",")
		}
	}
}

// httpLogEntry builds the entry Envoy's http_grpc logger sends for the
// completed request, and the request headers it was built from. Request
// properties come from the headers as the router left them: Envoy
// finalizes the downstream header map in place, so :path is the rewritten
// one and x-envoy-original-path the original.
func (dp *DataPlane) httpLogEntry(r *http.Request, hc *hcmConfig, ex *Exchange, start time.Time, sent, received int64) (*accesslogdata.HTTPAccessLogEntry, Headers) {
	elapsed := time.Since(start)
	d := ex.Decision
	var h Headers
	if d != nil && len(d.RequestHeaders) > 0 {
		h = d.RequestHeaders
	} else {
		h = Headers{{":authority", r.Host}, {":path", r.URL.RequestURI()}, {":method", r.Method}}
		for name, vals := range r.Header {
			for _, v := range vals {
				h = append(h, Header{strings.ToLower(name), v})
			}
		}
	}
	get := func(name string) string { v, _ := h.Get(name); return v }
	common := &accesslogdata.AccessLogCommon{
		DownstreamRemoteAddress:       socketAddr(r.RemoteAddr),
		DownstreamDirectRemoteAddress: socketAddr(r.RemoteAddr),
		StartTime:                     timestamppb.New(start),
		TimeToLastRxByte:              durationpb.New(elapsed),
		TimeToLastDownstreamTxByte:    durationpb.New(elapsed),
		Duration:                      durationpb.New(elapsed),
		ResponseFlags:                 dp.responseFlags(ex),
		AccessLogType:                 accesslogdata.AccessLogType_DownstreamEnd,
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		common.DownstreamLocalAddress = socketAddr(la.String())
	}
	if d != nil {
		common.RouteName = d.Route
		if d.IsRouteEntry() {
			common.UpstreamCluster = d.Cluster
		}
	}
	if ex.Endpoint != "" {
		common.UpstreamRemoteAddress = socketAddr(ex.Endpoint)
		common.UpstreamRequestAttemptCount = uint32(max(len(ex.Attempts), 1))
	}
	if r.TLS != nil {
		common.TlsProperties = &accesslogdata.TLSProperties{TlsSniHostname: r.TLS.ServerName, TlsVersion: logTLSVersion(r.TLS.Version)}
	}
	scheme := get(":scheme")
	if scheme == "" {
		scheme = "http"
		if hc.tls {
			scheme = "https"
		}
	}
	var headerBytes uint64
	for _, e := range h {
		headerBytes += uint64(len(e.Name) + len(e.Value))
	}
	req := &accesslogdata.HTTPRequestProperties{
		RequestMethod:       requestMethod(get(":method")),
		Scheme:              scheme,
		Authority:           get(":authority"),
		Path:                get(":path"),
		UserAgent:           get("user-agent"),
		Referer:             get("referer"),
		ForwardedFor:        get("x-forwarded-for"),
		RequestId:           get("x-request-id"),
		OriginalPath:        get("x-envoy-original-path"),
		RequestHeadersBytes: headerBytes,
		RequestBodyBytes:    uint64(max(received, 0)),
	}
	resp := &accesslogdata.HTTPResponseProperties{
		ResponseBodyBytes:   uint64(max(sent, 0)),
		ResponseCodeDetails: dp.responseCodeDetails(ex),
	}
	if ex.Status > 0 {
		resp.ResponseCode = wrapperspb.UInt32(uint32(ex.Status))
	}
	return &accesslogdata.HTTPAccessLogEntry{CommonProperties: common, ProtocolVersion: protocolVersion(r), Request: req, Response: resp}, h
}

// failure classifies how the data plane answered, for the response flags
// and details Envoy would record.
type failure int

const (
	failNone failure = iota
	failNoRoute
	failNoCluster
	failNoHealthyUpstream
	failTimeout
	failConnect
	failReset
	failRateLimited
	failFaultAbort
	failRBAC
	failDirect
)

func (dp *DataPlane) classify(ex *Exchange) failure {
	d := ex.Decision
	switch ex.LocalReply {
	case "":
		return failNone
	case "local_ratelimit":
		return failRateLimited
	case "fault":
		return failFaultAbort
	case "rbac":
		return failRBAC
	case "router":
	default:
		return failNone
	}
	switch {
	case d == nil:
		return failNone
	case d.IsDirectResponseEntry():
		return failDirect
	case !d.IsRouteEntry():
		if d.Response != nil && d.Response.Status == 503 && d.Cluster != "" {
			return failNoCluster
		}
		return failNoRoute
	case ex.Status == 504:
		return failTimeout
	case ex.Status == 503 && len(ex.Attempts) == 0:
		if dp.cfg.Load().clusters[d.Cluster] == nil {
			return failNoCluster
		}
		return failNoHealthyUpstream
	case ex.Status == 503:
		last := ex.Attempts[len(ex.Attempts)-1]
		if strings.Contains(last.Error, "dial") || strings.Contains(last.Error, "connect") || strings.Contains(last.Error, "handshake") {
			return failConnect
		}
		return failReset
	}
	return failNone
}

// responseFlags are the flags Envoy sets for the outcome; URX joins a
// failure that retries did not cure.
func (dp *DataPlane) responseFlags(ex *Exchange) *accesslogdata.ResponseFlags {
	f := &accesslogdata.ResponseFlags{}
	switch dp.classify(ex) {
	case failNoRoute:
		f.NoRouteFound = true
	case failNoCluster:
		f.NoClusterFound = true
	case failNoHealthyUpstream:
		f.NoHealthyUpstream = true
	case failTimeout:
		f.UpstreamRequestTimeout = true
	case failConnect:
		f.UpstreamConnectionFailure = true
	case failReset:
		f.UpstreamRemoteReset = true
	case failRateLimited:
		f.RateLimited = true
	case failFaultAbort:
		f.FaultInjected = true
	}
	if len(ex.Attempts) > 1 && ex.Status >= 500 {
		f.UpstreamRetryLimitExceeded = true
	}
	// The flags the request path sets itself: a circuit breaker's
	// overflow (which classify takes for a reset), the stream idle
	// timeout and an injected delay.
	for _, fl := range strings.Split(ex.Flags, ",") {
		switch fl {
		case "UO":
			f.UpstreamOverflow, f.UpstreamRemoteReset = true, false
		case "SI":
			f.StreamIdleTimeout = true
		case "DI":
			f.DelayInjected = true
		}
	}
	if proto.Equal(f, &accesslogdata.ResponseFlags{}) {
		return nil
	}
	return f
}

// responseCodeDetails is Envoy's %RESPONSE_CODE_DETAILS% for the outcome.
func (dp *DataPlane) responseCodeDetails(ex *Exchange) string {
	switch dp.classify(ex) {
	case failNoRoute:
		return "route_not_found"
	case failNoCluster:
		return "cluster_not_found"
	case failNoHealthyUpstream:
		return "no_healthy_upstream"
	case failTimeout:
		return "upstream_response_timeout"
	case failConnect:
		return "upstream_reset_before_response_started{connection_failure}"
	case failReset:
		return "upstream_reset_before_response_started{remote_reset}"
	case failRateLimited:
		return "local_rate_limited"
	case failFaultAbort:
		return "fault_filter_abort"
	case failRBAC:
		return "rbac_access_denied_matched_policy[none]"
	case failDirect:
		return "direct_response"
	}
	if ex.LocalReply == "" && ex.Status > 0 {
		return "via_upstream"
	}
	return ""
}

// responseFlagCodes are the short names response_flag_filter lists.
func responseFlagCodes(f *accesslogdata.ResponseFlags) []string {
	var out []string
	for _, c := range []struct {
		on   bool
		code string
	}{
		{f.GetNoHealthyUpstream(), "UH"}, {f.GetUpstreamRequestTimeout(), "UT"}, {f.GetUpstreamRemoteReset(), "UR"},
		{f.GetUpstreamConnectionFailure(), "UF"}, {f.GetNoRouteFound(), "NR"}, {f.GetFaultInjected(), "FI"},
		{f.GetRateLimited(), "RL"}, {f.GetUpstreamRetryLimitExceeded(), "URX"}, {f.GetNoClusterFound(), "NC"},
	} {
		if c.on {
			out = append(out, c.code)
		}
	}
	return out
}

func socketAddr(hostport string) *corev3.Address {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	p, _ := strconv.Atoi(port)
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}
}

func requestMethod(m string) corev3.RequestMethod {
	if v, ok := corev3.RequestMethod_value[strings.ToUpper(m)]; ok {
		return corev3.RequestMethod(v)
	}
	return corev3.RequestMethod_METHOD_UNSPECIFIED
}

func protocolVersion(r *http.Request) accesslogdata.HTTPAccessLogEntry_HTTPVersion {
	switch {
	case r.ProtoMajor == 2:
		return accesslogdata.HTTPAccessLogEntry_HTTP2
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return accesslogdata.HTTPAccessLogEntry_HTTP10
	case r.ProtoMajor == 1:
		return accesslogdata.HTTPAccessLogEntry_HTTP11
	}
	return accesslogdata.HTTPAccessLogEntry_PROTOCOL_UNSPECIFIED
}

func logTLSVersion(v uint16) accesslogdata.TLSProperties_TLSVersion {
	switch v {
	case 0x0303:
		return accesslogdata.TLSProperties_TLSv1_2
	case 0x0304:
		return accesslogdata.TLSProperties_TLSv1_3
	}
	return accesslogdata.TLSProperties_VERSION_UNSPECIFIED
}

// logger returns the running gRPC logger for l's common configuration,
// starting it on first use; nil when its gRPC service cannot be reached
// (a cluster other than the ADS one).
func (a *accessLogs) logger(dp *DataPlane, l *httpGrpcLog) *grpcLogger {
	a.mu.Lock()
	defer a.mu.Unlock()
	if g, ok := a.loggers[l.key]; ok {
		return g
	}
	if a.loggers == nil {
		a.loggers = map[string]*grpcLogger{}
	}
	common := l.config.GetCommonConfig()
	cluster := common.GetGrpcService().GetEnvoyGrpc().GetClusterName()
	adsCluster := dp.opts.ADSClusterName
	if adsCluster == "" {
		adsCluster = DefaultADSClusterName
	}
	if cluster != adsCluster {
		dp.log.Warn("sim: access log cluster is not the ADS cluster; entries are dropped", "cluster", cluster, "ads_cluster", adsCluster)
		a.loggers[l.key] = nil
		return nil
	}
	if a.conn == nil {
		creds := insecure.NewCredentials()
		if dp.opts.TLS != nil {
			creds = credentials.NewTLS(dp.opts.TLS)
		}
		conn, err := grpc.NewClient(dp.opts.ADS, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, dp.opts.DialOptions...)...)
		if err != nil {
			dp.log.Warn("sim: access log connection", "err", err)
			a.loggers[l.key] = nil
			return nil
		}
		a.conn = conn
		go func() {
			<-dp.done
			a.mu.Lock()
			defer a.mu.Unlock()
			_ = a.conn.Close()
		}()
	}
	g := &grpcLogger{dp: dp, conn: a.conn, logName: common.GetLogName(), kick: make(chan struct{}, 1),
		flushEvery: defaultALSFlushInterval, bufferBytes: defaultALSBufferBytes}
	if d := common.GetBufferFlushInterval(); d != nil && d.AsDuration() > 0 {
		g.flushEvery = d.AsDuration()
	}
	if b := common.GetBufferSizeBytes(); b != nil {
		g.bufferBytes = int(b.GetValue())
	}
	a.loggers[l.key] = g
	go g.run()
	return g
}

// DefaultADSClusterName is the bootstrap cluster name for ADS that
// DataPlaneOptions.ADSClusterName defaults to.
const DefaultADSClusterName = "xds_cluster"

// grpcLogger buffers entries and streams them, as Envoy's
// GrpcAccessLoggerImpl does.
type grpcLogger struct {
	dp          *DataPlane
	conn        *grpc.ClientConn
	logName     string
	flushEvery  time.Duration
	bufferBytes int
	kick        chan struct{}

	mu      sync.Mutex
	pending []*accesslogdata.HTTPAccessLogEntry
	size    int
}

func (g *grpcLogger) log(e *accesslogdata.HTTPAccessLogEntry) {
	n := proto.Size(e)
	g.mu.Lock()
	if g.size+n > maxALSPending {
		g.mu.Unlock()
		return
	}
	g.pending = append(g.pending, e)
	g.size += n
	full := g.size >= g.bufferBytes
	g.mu.Unlock()
	if full {
		select {
		case g.kick <- struct{}{}:
		default:
		}
	}
}

func (g *grpcLogger) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticker := time.NewTicker(g.flushEvery)
	defer ticker.Stop()
	var stream alsv3.AccessLogService_StreamAccessLogsClient
	for {
		select {
		case <-g.dp.done:
			g.flush(ctx, &stream)
			if stream != nil {
				_ = stream.CloseSend()
			}
			return
		case <-ticker.C:
			g.flush(ctx, &stream)
		case <-g.kick:
			g.flush(ctx, &stream)
		}
	}
}

// flush sends what is buffered, opening a stream (its first message
// names the node and log) when there is none.
func (g *grpcLogger) flush(ctx context.Context, stream *alsv3.AccessLogService_StreamAccessLogsClient) {
	g.mu.Lock()
	entries := g.pending
	g.pending, g.size = nil, 0
	g.mu.Unlock()
	if len(entries) == 0 {
		return
	}
	msg := &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{
		HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries},
	}}
	if *stream == nil {
		st, err := alsv3.NewAccessLogServiceClient(g.conn).StreamAccessLogs(ctx)
		if err != nil {
			g.dp.log.Debug("sim: access log stream", "err", err, "dropped", len(entries))
			return
		}
		*stream = st
		msg.Identifier = &alsv3.StreamAccessLogsMessage_Identifier{Node: g.dp.client.node, LogName: g.logName}
	}
	if err := (*stream).Send(msg); err != nil {
		// The server ended the stream (io.EOF here; the status comes
		// from Recv). The message is lost, as in Envoy.
		if errors.Is(err, io.EOF) {
			_, err = (*stream).CloseAndRecv()
		}
		g.dp.log.Debug("sim: access log stream ended", "err", err, "dropped", len(entries))
		*stream = nil
	}
}

// countingWriter counts the response body bytes written. It passes
// flushes, full duplex and hijacking through (Unwrap serves
// http.ResponseController).
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, fmt.Errorf("sim: %T cannot be hijacked", w.ResponseWriter)
}

// countingBody counts the request body bytes read, by whichever
// goroutine reads them (an upstream transport, a mirror).
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
