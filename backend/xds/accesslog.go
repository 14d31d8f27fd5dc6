package xds

import (
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Bounds of the access log service. Envoy's gRPC access logger sends a
// message whenever its buffer (16 KiB by default) fills or a second
// passes, so real proxies stay far below these; a hostile client that
// passes the identity check still cannot make the server hold more than
// one message per stream or feed the store faster than the rate.
const (
	// maxALSMessage bounds one StreamAccessLogsMessage, encoded.
	maxALSMessage = 1 << 20
	// maxALSEntries bounds the entries of one message.
	maxALSEntries = 5000
	// alsRate and alsBurst are the entries per second one stream may
	// send; entries over them are dropped and counted, the stream goes on
	// (Envoy does not resend, so ending the stream would lose more).
	alsRate  = 50000
	alsBurst = 100000
	// maxLogName bounds the identifier's log_name.
	maxLogName = 256
)

// AccessLogBatch is one message of entries from an authenticated proxy.
type AccessLogBatch struct {
	// Gateway is the proxy's node.cluster, checked against its
	// certificate like its ADS stream: "sandbox/<gateway>" for the
	// sandbox's data plane.
	Gateway string
	Node    string
	// Version is the configuration version the proxy ran when the
	// message arrived: the gateway's snapshot version when the proxy has
	// acknowledged all of it, else the route configuration version it
	// acknowledged last; "" when the proxy has no ADS stream here.
	Version  string
	Received time.Time
	Entries  []*accesslogdata.HTTPAccessLogEntry
	// Bytes is the encoded size of the message the entries came in, for
	// a sink that bounds what it holds by memory.
	Bytes int
}

// AccessLogSink takes the entries proxies report. Offer is called on the
// gRPC stream's goroutine and must not block: ingestion must never hold up
// a proxy's streams. It returns false when it dropped the batch.
type AccessLogSink interface {
	Offer(AccessLogBatch) bool
}

// accessLogService is Envoy's AccessLogService on the ADS server.
type accessLogService struct {
	alsv3.UnimplementedAccessLogServiceServer
	srv       *Server
	authorize Authorizer
	sink      atomic.Pointer[AccessLogSink]
	now       func() time.Time
	// rate and burst are alsRate and alsBurst (tests lower them).
	rate, burst float64

	streams   prometheus.Gauge
	received  prometheus.Counter
	dropped   *prometheus.CounterVec
	refused   prometheus.Counter
	collected []prometheus.Collector
}

func newAccessLogService(srv *Server, authorize Authorizer) *accessLogService {
	a := &accessLogService{srv: srv, authorize: authorize, now: time.Now, rate: alsRate, burst: alsBurst,
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "routedeck", Subsystem: "als", Name: "streams",
			Help: "Access log streams currently open.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "als", Name: "entries_received_total",
			Help: "HTTP access log entries received from proxies, before any drop.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "als", Name: "entries_dropped_total",
			Help: "HTTP access log entries dropped on arrival: rate (over a stream's rate), queue (the store is behind).",
		}, []string{"reason"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "als", Name: "streams_refused_total",
			Help: "Access log streams ended for a failed identity check or a message over the bounds.",
		}),
	}
	a.collected = []prometheus.Collector{a.streams, a.received, a.dropped, a.refused}
	return a
}

// SetAccessLogSink directs the access log entries proxies send to sink.
// Until it is called, access log streams are refused with Unavailable
// (Envoy retries them later).
func (s *Server) SetAccessLogSink(sink AccessLogSink) { s.als.sink.Store(&sink) }

// AccessLogCollectors are the access log service's Prometheus collectors.
func (s *Server) AccessLogCollectors() []prometheus.Collector { return s.als.collected }

func (s *Server) registerAccessLog(g *grpc.Server) { alsv3.RegisterAccessLogServiceServer(g, s.als) }

// StreamAccessLogs receives one proxy's entries. The first message names
// the node; the stream is refused unless the peer's certificate is for
// that node's gateway, as for ADS.
func (a *accessLogService) StreamAccessLogs(stream alsv3.AccessLogService_StreamAccessLogsServer) error {
	sinkp := a.sink.Load()
	if sinkp == nil {
		return status.Error(codes.Unavailable, "the access log store is not running")
	}
	sink := *sinkp
	a.streams.Inc()
	defer a.streams.Dec()
	var gateway, node string
	bucket := tokenBucket{rate: a.rate, burst: a.burst, tokens: a.burst, last: a.now()}
	for {
		// Received through the codec, which reports the encoded size:
		// measuring the decoded message again would cost a sixth of
		// the service's time.
		in := sizedMessage{msg: &alsv3.StreamAccessLogsMessage{}}
		err := stream.RecvMsg(&in)
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&alsv3.StreamAccessLogsResponse{})
		}
		if err != nil {
			return err
		}
		msg, size := in.msg.(*alsv3.StreamAccessLogsMessage), in.size
		if size > maxALSMessage {
			a.refused.Inc()
			return status.Errorf(codes.ResourceExhausted, "message of %d bytes, at most %d", size, maxALSMessage)
		}
		if gateway == "" {
			if gateway, node, err = a.identify(stream, msg.GetIdentifier()); err != nil {
				a.refused.Inc()
				return err
			}
		}
		entries := msg.GetHttpLogs().GetLogEntry()
		if len(entries) == 0 {
			continue // TCP entries: routedeck serves no TCP listeners
		}
		if len(entries) > maxALSEntries {
			a.refused.Inc()
			return status.Errorf(codes.InvalidArgument, "%d entries in one message, at most %d", len(entries), maxALSEntries)
		}
		now := a.now()
		a.received.Add(float64(len(entries)))
		if allowed := bucket.take(now, len(entries)); allowed < len(entries) {
			a.dropped.WithLabelValues("rate").Add(float64(len(entries) - allowed))
			entries = entries[:allowed]
			if allowed == 0 {
				continue
			}
		}
		b := AccessLogBatch{Gateway: gateway, Node: node, Version: a.srv.servedVersion(gateway, node), Received: now, Entries: entries, Bytes: size}
		if !sink.Offer(b) {
			a.dropped.WithLabelValues("queue").Add(float64(len(entries)))
		}
	}
}

// identify checks the first message's identifier: bounded, naming a node
// whose gateway the peer's certificate is for, and a log_name that is that
// gateway (the translator names each logger after its gateway; the sandbox
// serves a gateway's configuration to "sandbox/<gateway>", and a published
// version of it to "sandbox/<gateway>/v<N>").
func (a *accessLogService) identify(stream grpc.ServerStream, id *alsv3.StreamAccessLogsMessage_Identifier) (gateway, node string, err error) {
	n := id.GetNode()
	if n == nil {
		return "", "", status.Error(codes.PermissionDenied, "the first message of a stream must carry the identifier with the node")
	}
	if err := checkRequest(n, ""); err != nil {
		return "", "", err
	}
	logName := id.GetLogName()
	if len(logName) > maxLogName {
		return "", "", status.Errorf(codes.InvalidArgument, "log_name: %d bytes, at most %d", len(logName), maxLogName)
	}
	cluster := n.GetCluster()
	if cluster == "" {
		return "", "", status.Error(codes.InvalidArgument, "node.cluster is empty")
	}
	if a.authorize != nil {
		if err := a.authorize(tlsState(stream.Context()), cluster); err != nil {
			return "", "", status.Errorf(codes.PermissionDenied, "node.cluster %q: %v", untrusted(cluster), err)
		}
	}
	// A sandbox running a published version is "sandbox/<gateway>/v<N>".
	if logName != cluster && "sandbox/"+logName != cluster && !strings.HasPrefix(cluster, "sandbox/"+logName+"/v") {
		return "", "", status.Errorf(codes.PermissionDenied, "log_name %q is not the gateway of node.cluster %q", untrusted(logName), untrusted(cluster))
	}
	return cluster, n.GetId(), nil
}

// servedVersion is the configuration version node of gateway runs: the
// snapshot's own version once the proxy has acknowledged all of it (a
// type whose content did not change keeps an older version), else the
// route configuration version it acknowledged, which is what routed its
// requests.
func (s *Server) servedVersion(gateway, node string) string {
	acked := s.tracker.acked(gateway, node)
	if acked == nil {
		return ""
	}
	if s.InSync(gateway, acked) {
		return s.Version(gateway)
	}
	return acked[resource.RouteType]
}

// acked returns a copy of what a tracked proxy acknowledged, nil if it is
// not tracked.
func (t *tracker) acked(gateway, node string) map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.proxies[proxyKey{gateway: gateway, node: node}]
	if p == nil {
		return nil
	}
	out := make(map[string]string, len(p.Acked))
	for k, v := range p.Acked {
		out[k] = v
	}
	return out
}

// sizedMessage is a message to receive and, once received, its encoded
// size (see codec.Unmarshal).
type sizedMessage struct {
	msg  proto.Message
	size int
}

// tokenBucket is a per-stream rate limit, used from one goroutine.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

// take removes up to n tokens and returns how many it could.
func (b *tokenBucket) take(now time.Time, n int) int {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	got := min(n, int(b.tokens))
	b.tokens -= float64(got)
	return got
}
