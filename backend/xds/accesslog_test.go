package xds

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/translate"
)

// recordingSink keeps what the service hands over; this package's tests
// check the service, the store has its own.
type recordingSink struct {
	mu      sync.Mutex
	batches []AccessLogBatch
	full    bool
}

func (r *recordingSink) Offer(b AccessLogBatch) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full {
		return false
	}
	r.batches = append(r.batches, b)
	return true
}

func (r *recordingSink) entries() (n int, batches []AccessLogBatch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.batches {
		n += len(b.Entries)
	}
	return n, append([]AccessLogBatch(nil), r.batches...)
}

func httpLogs(n int, route string) *alsv3.StreamAccessLogsMessage_HttpLogs {
	logs := &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{}
	for range n {
		logs.LogEntry = append(logs.LogEntry, &accesslogdata.HTTPAccessLogEntry{
			CommonProperties: &accesslogdata.AccessLogCommon{RouteName: route},
		})
	}
	return &alsv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: logs}
}

// streamLogs sends msgs as one access log stream and returns how it ended.
func streamLogs(t *testing.T, conn *grpc.ClientConn, msgs ...*alsv3.StreamAccessLogsMessage) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := alsv3.NewAccessLogServiceClient(conn).StreamAccessLogs(ctx)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			break // the server ended the stream; CloseAndRecv says why
		}
	}
	_, err = st.CloseAndRecv()
	return err
}

func identified(cluster, logName string, n int) *alsv3.StreamAccessLogsMessage {
	return &alsv3.StreamAccessLogsMessage{
		Identifier: &alsv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: cluster + "-1", Cluster: cluster}, LogName: logName},
		LogEntries: httpLogs(n, "rule/r/0"),
	}
}

// ackEverything subscribes like Envoy over conn and acknowledges each
// response, so the tracker knows the proxy runs its gateway's snapshot.
func ackEverything(t *testing.T, conn *grpc.ClientConn, cluster string) {
	t.Helper()
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: cluster + "-1", Cluster: cluster}
	for _, sub := range []struct {
		typeURL string
		names   []string
	}{{resource.ListenerType, nil}, {resource.ClusterType, nil}, {resource.RouteType, []string{"http"}}, {resource.EndpointType, []string{"web"}}} {
		if err := st.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: sub.typeURL, ResourceNames: sub.names}); err != nil {
			t.Fatal(err)
		}
		resp, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: sub.typeURL, ResourceNames: sub.names,
			VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccessLogServiceMTLS: a proxy logs for its own gateway over the ADS
// port, identified by its certificate like its ADS stream, and every
// entry carries the configuration version it runs.
func TestAccessLogServiceMTLS(t *testing.T) {
	m := startMTLSServer(t)
	sink := &recordingSink{}
	m.SetAccessLogSink(sink)
	public := dialTLS(t, m.addr, m.ca.ClientTLS(m.issue(t, "public", 0)))

	// Before the proxy has an ADS stream, no version is known.
	if err := streamLogs(t, public, identified("public", "public", 3)); err != nil {
		t.Fatalf("own gateway: %v", err)
	}
	ackEverything(t, public, "public")
	waitFor(t, "the proxy to run v-public", func() bool { return m.servedVersion("public", "public-1") == "v-public" })
	second := &alsv3.StreamAccessLogsMessage{LogEntries: httpLogs(2, "rule/r/0")} // later messages carry no identifier
	if err := streamLogs(t, public, identified("public", "public", 1), second); err != nil {
		t.Fatalf("own gateway: %v", err)
	}
	n, batches := sink.entries()
	if n != 6 || len(batches) != 3 {
		t.Fatalf("%d entries in %d batches, want 6 in 3", n, len(batches))
	}
	for i, b := range batches {
		want := "v-public"
		if i == 0 {
			want = ""
		}
		if b.Gateway != "public" || b.Node != "public-1" || b.Version != want || b.Received.IsZero() {
			t.Errorf("batch %d: gateway %q node %q version %q, want public, public-1, %q", i, b.Gateway, b.Node, b.Version, want)
		}
	}

	refused := map[string]struct {
		conn *grpc.ClientConn
		msgs []*alsv3.StreamAccessLogsMessage
		want codes.Code
	}{
		"another gateway": {conn: public, msgs: []*alsv3.StreamAccessLogsMessage{identified("internal", "internal", 1)}, want: codes.PermissionDenied},
		"log name of another gateway": {conn: public, msgs: []*alsv3.StreamAccessLogsMessage{identified("public", "internal", 1)},
			want: codes.PermissionDenied},
		"no identifier": {conn: public, msgs: []*alsv3.StreamAccessLogsMessage{second}, want: codes.PermissionDenied},
		"sandbox as public": {conn: sandboxConn(t, m, "public"), msgs: []*alsv3.StreamAccessLogsMessage{identified("public", "public", 1)},
			want: codes.PermissionDenied},
		"too many entries": {conn: public, msgs: []*alsv3.StreamAccessLogsMessage{identified("public", "public", maxALSEntries+1)},
			want: codes.InvalidArgument},
		"huge log name": {conn: public, msgs: []*alsv3.StreamAccessLogsMessage{identified("public", strings.Repeat("x", maxLogName+1), 1)},
			want: codes.InvalidArgument},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			wantCode(t, "stream", streamLogs(t, tc.conn, tc.msgs...), tc.want)
		})
	}
	if n, _ := sink.entries(); n != 6 {
		t.Fatalf("refused streams delivered entries: %d in all", n)
	}

	// The sandbox logs under its own key, with the gateway as log name.
	if err := streamLogs(t, sandboxConn(t, m, "public"), identified("sandbox/public", "public", 1)); err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	if _, batches := sink.entries(); batches[len(batches)-1].Gateway != "sandbox/public" {
		t.Fatalf("sandbox batch under %q", batches[len(batches)-1].Gateway)
	}
	// So does a sandbox running a published version.
	if err := streamLogs(t, sandboxConn(t, m, "public/v3"), identified("sandbox/public/v3", "public", 1)); err != nil {
		t.Fatalf("version sandbox: %v", err)
	}
	if _, batches := sink.entries(); batches[len(batches)-1].Gateway != "sandbox/public/v3" {
		t.Fatalf("version sandbox batch under %q", batches[len(batches)-1].Gateway)
	}
	wantCode(t, "version sandbox, another log name", streamLogs(t, sandboxConn(t, m, "public/v3"),
		identified("sandbox/public/v3", "internal", 1)), codes.PermissionDenied)
}

// TestAccessLogServiceBounds: entries over a stream's rate, or offered to a
// store that is behind, are dropped and counted; the stream goes on.
func TestAccessLogServiceBounds(t *testing.T) {
	s, addr := startServer(t)
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.als.now = func() time.Time { return frozen }
	s.als.rate, s.als.burst = 100, 2500

	// No store yet: refused, so Envoy keeps its entries and retries.
	wantCode(t, "no sink", streamLogs(t, dialConn(t, addr), identified("public", "public", 1)), codes.Unavailable)

	sink := &recordingSink{}
	s.SetAccessLogSink(sink)
	msgs := []*alsv3.StreamAccessLogsMessage{identified("public", "public", 1000)}
	for range 2 {
		msgs = append(msgs, &alsv3.StreamAccessLogsMessage{LogEntries: httpLogs(1000, "rule/r/0")})
	}
	if err := streamLogs(t, dialConn(t, addr), msgs...); err != nil {
		t.Fatal(err)
	}
	// The clock does not move: the burst passes, the rest is dropped.
	if n, _ := sink.entries(); n != 2500 {
		t.Fatalf("%d entries passed, want the burst of 2500", n)
	}
	if got := testutil.ToFloat64(s.als.dropped.WithLabelValues("rate")); got != 500 {
		t.Fatalf("rate drops = %v", got)
	}

	sink.mu.Lock()
	sink.full = true
	sink.mu.Unlock()
	if err := streamLogs(t, dialConn(t, addr), identified("public", "public", 7)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.als.dropped.WithLabelValues("queue")); got != 7 {
		t.Fatalf("queue drops = %v", got)
	}

	// A message over 1 MiB, encoded, ends the stream; the sink sees
	// none of it and the size reaches the sink with each batch.
	sink.mu.Lock()
	sink.full = false
	sink.mu.Unlock()
	before, _ := sink.entries()
	big := identified("public", "public", 1)
	big.GetHttpLogs().LogEntry[0].CommonProperties.RouteName = strings.Repeat("r", maxALSMessage)
	wantCode(t, "message over 1 MiB", streamLogs(t, dialConn(t, addr), big), codes.ResourceExhausted)
	if after, _ := sink.entries(); after != before {
		t.Fatalf("%d entries of an oversized message reached the sink", after-before)
	}
	small := identified("public", "public", 3)
	if err := streamLogs(t, dialConn(t, addr), small); err != nil {
		t.Fatal(err)
	}
	_, batches := sink.entries()
	if got := batches[len(batches)-1].Bytes; got != proto.Size(small) {
		t.Fatalf("batch of %d bytes offered, the message is %d", got, proto.Size(small))
	}
}

// TestAccessLogClusterIsTheADSCluster: the translator points access logs at
// the cluster the bootstrap defines for ADS.
func TestAccessLogClusterIsTheADSCluster(t *testing.T) {
	if translate.AccessLogCluster != XDSClusterName {
		t.Fatalf("translator logs to %q, bootstrap defines %q", translate.AccessLogCluster, XDSClusterName)
	}
}
