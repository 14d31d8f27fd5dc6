package xds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// logBuffer collects a server's log lines for a test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// longestLine is the length of the longest line logged, and the total.
func (b *logBuffer) longestLine() (longest, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range strings.Split(b.buf.String(), "\n") {
		longest = max(longest, len(line))
	}
	return longest, b.buf.Len()
}

func loggedServer(t *testing.T) (*Server, string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	s, addr := startServer(t, slog.New(slog.NewTextHandler(logs, nil)))
	return s, addr, logs
}

// TestADSRefusesOversizedInput: a stream whose node or type URL is over the
// bounds ends with InvalidArgument, over state-of-the-world and delta
// alike, leaves nothing behind in the tracker or the cache, and is logged
// in a line of bounded length.
func TestADSRefusesOversizedInput(t *testing.T) {
	s, addr, logs := loggedServer(t)
	if err := s.SetGateway(context.Background(), "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	bigMeta, err := structpb.NewStruct(map[string]any{"blob": strings.Repeat("m", maxNodeMetadata)})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		node    *corev3.Node
		typeURL string
		says    string
	}{
		"100 KB node id": {node: &corev3.Node{Id: strings.Repeat("n", 100<<10), Cluster: "public"}, says: "node.id: 102400 bytes"},
		"long cluster":   {node: &corev3.Node{Id: "envoy-1", Cluster: strings.Repeat("c", 300)}, says: "node.cluster: 300 bytes"},
		"big metadata":   {node: &corev3.Node{Id: "envoy-1", Cluster: "public", Metadata: bigMeta}, says: "node.metadata"},
		"huge node": {node: &corev3.Node{Id: "envoy-1", Cluster: "public", ClientFeatures: func() []string {
			f := make([]string, 300)
			for i := range f {
				f[i] = strings.Repeat("f", 1000)
			}
			return f
		}()}, says: "node: "},
		"long type URL": {node: &corev3.Node{Id: "envoy-1", Cluster: "public"}, typeURL: "type.googleapis.com/" + strings.Repeat("x", 300), says: "type_url"},
	}
	for name, tc := range tests {
		typeURL := tc.typeURL
		if typeURL == "" {
			typeURL = resource.ListenerType
		}
		t.Run(name+"/sotw", func(t *testing.T) {
			stream, err := discovery.NewAggregatedDiscoveryServiceClient(dialConn(t, addr)).StreamAggregatedResources(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&discovery.DiscoveryRequest{Node: tc.node, TypeUrl: typeURL}); err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.says) {
				t.Fatalf("stream ended with %v, want InvalidArgument saying %q", err, tc.says)
			}
		})
		t.Run(name+"/delta", func(t *testing.T) {
			stream, err := discovery.NewAggregatedDiscoveryServiceClient(dialConn(t, addr)).DeltaAggregatedResources(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&discovery.DeltaDiscoveryRequest{Node: tc.node, TypeUrl: typeURL}); err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.says) {
				t.Fatalf("stream ended with %v, want InvalidArgument saying %q", err, tc.says)
			}
		})
	}
	// A proxy within the bounds is still served.
	c := dialADS(t, addr, "envoy-ok", "public")
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType})
	c.expect(resource.ClusterType)

	s.tracker.mu.Lock()
	tracked := len(s.tracker.proxies)
	s.tracker.mu.Unlock()
	if tracked != 1 {
		t.Errorf("%d proxies tracked, want only envoy-ok", tracked)
	}
	if keys := s.cache.groupKeys(); strings.Join(keys, ",") != "public" {
		t.Errorf("cache groups %q, want only public", keys)
	}
	if longest, _ := logs.longestLine(); longest > 2048 {
		t.Errorf("a log line of %d bytes", longest)
	}
}

// TestADSBoundsNackDetail: 20 proxies NACK with 3.9 MB error details; each
// detail is kept cut short with a marker, the proxies list stays small,
// and so do the log lines.
func TestADSBoundsNackDetail(t *testing.T) {
	s, addr, logs := loggedServer(t)
	if err := s.SetGateway(context.Background(), "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	detail := "route rule/static-assets/0: " + strings.Repeat("é", 1950_000)
	// Each NACK is near the largest message a proxy may send, and decoding
	// one is real work: the next proxy sends its own once the server has
	// recorded this one, so each wait covers one NACK, never a backlog.
	for i := range 20 {
		node := fmt.Sprintf("envoy-%02d", i)
		c := dialADS(t, addr, node, "public")
		c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ListenerType})
		lds := c.expect(resource.ListenerType)
		c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ListenerType, ResponseNonce: lds.Nonce,
			ErrorDetail: &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: detail}})
		waitFor(t, "the NACK of "+node, func() bool {
			for _, p := range s.Proxies("public") {
				if p.Node == node {
					return p.Nack != nil
				}
			}
			return false
		})
	}
	ps := s.Proxies("public")
	if len(ps) != 20 {
		t.Fatalf("%d proxies listed, want 20", len(ps))
	}
	n := ps[0].Nack
	marker := fmt.Sprintf("… [truncated: %d bytes in all]", len(detail))
	if !strings.HasPrefix(n.Error, "route rule/static-assets/0: éé") || !strings.HasSuffix(n.Error, marker) ||
		len(n.Error) > maxErrorDetail+len(marker) || n.Rule != "static-assets" {
		t.Errorf("nack: rule %q, error of %d bytes ending %q", n.Rule, len(n.Error), n.Error[max(0, len(n.Error)-60):])
	}
	b, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 20*(maxErrorDetail+1024) {
		t.Errorf("the proxies list is %d bytes", len(b))
	}
	if longest, total := logs.longestLine(); longest > 2048 || total > 64<<10 {
		t.Errorf("logged %d bytes, the longest line %d", total, longest)
	}
}

// TestTrackerBound: the tracker never lists more than its bound. A new
// proxy takes the place of the disconnected one seen longest ago; when
// every tracked proxy is connected, a new one is refused (and an old one
// reconnecting is not).
func TestTrackerBound(t *testing.T) {
	tr := newTracker(slog.New(slog.DiscardHandler), newMetrics(), time.Hour)
	tr.max = 3
	now := time.Unix(1000, 0)
	tr.now = func() time.Time { return now }
	var id int64
	connect := func(node string) (int64, error) {
		id++
		if err := tr.OnStreamOpen(context.Background(), id, ""); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
		return id, tr.OnStreamRequest(id, &discovery.DiscoveryRequest{Node: &corev3.Node{Id: node, Cluster: "public"}, TypeUrl: resource.ListenerType})
	}
	nodes := func() string {
		var out []string
		for _, p := range tr.list("public") {
			out = append(out, fmt.Sprintf("%s:%v", p.Node, p.Connected))
		}
		return strings.Join(out, ",")
	}
	a, _ := connect("a")
	b, _ := connect("b")
	if _, err := connect("c"); err != nil {
		t.Fatal(err)
	}
	tr.OnStreamClosed(b, nil)
	now = now.Add(time.Second)
	tr.OnStreamClosed(a, nil)
	if _, err := connect("d"); err != nil {
		t.Fatal(err)
	}
	if got := nodes(); got != "a:false,c:true,d:true" {
		t.Fatalf("after d: %s (b, gone longest, makes room)", got)
	}
	if _, err := connect("e"); err != nil {
		t.Fatal(err)
	}
	if _, err := connect("f"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("f with every tracked proxy connected: %v", err)
	}
	if _, err := connect("c"); err != nil {
		t.Fatalf("a tracked proxy opening a second stream: %v", err)
	}
	if got := nodes(); got != "c:true,d:true,e:true" {
		t.Fatalf("at the end: %s", got)
	}

	// Disconnected proxies age out after keep; c keeps one of its two
	// streams and stays.
	tr.OnStreamClosed(3, nil) // c's first stream
	tr.OnStreamClosed(4, nil) // d's only one
	now = now.Add(2 * time.Hour)
	if got := nodes(); got != "c:true,e:true" {
		t.Fatalf("two hours later: %s", got)
	}
}

// groupKeys returns every key the cache holds anything for, sorted.
func (c *snapshotCache) groupKeys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.groups))
	for k := range c.groups {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestADSFloodOfHugeNodeIDs: 1,000 streams with 100 KB node ids are all
// refused, and once they are gone the server holds nothing for them:
// no proxies, no cache groups, the heap back near where it was, the log a
// bounded line each.
func TestADSFloodOfHugeNodeIDs(t *testing.T) {
	s, addr, logs := loggedServer(t)
	heap := func() uint64 {
		// Twice: gRPC keeps freed buffers in pools that survive one
		// collection.
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const conns, perConn = 10, 100
	var wg sync.WaitGroup
	var refused atomic.Int64
	// Fifty streams at a time keep the clients' own buffers (in this
	// process too) from swamping what is measured.
	sem := make(chan struct{}, 50)
	for c := range conns {
		client := discovery.NewAggregatedDiscoveryServiceClient(dialConn(t, addr))
		for i := range perConn {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				stream, err := client.StreamAggregatedResources(ctx)
				if err != nil {
					return
				}
				id := fmt.Sprintf("%d-%d-", c, i) + strings.Repeat("x", 100<<10)
				if stream.Send(&discovery.DiscoveryRequest{Node: &corev3.Node{Id: id, Cluster: id[:8]}, TypeUrl: resource.ListenerType}) != nil {
					return
				}
				if _, err := stream.Recv(); status.Code(err) == codes.InvalidArgument {
					refused.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if n := refused.Load(); n != conns*perConn {
		t.Fatalf("%d of %d streams refused", n, conns*perConn)
	}
	s.tracker.mu.Lock()
	tracked, streams := len(s.tracker.proxies), len(s.tracker.sotw)
	s.tracker.mu.Unlock()
	if tracked != 0 || len(s.cache.groupKeys()) != 0 {
		t.Errorf("%d proxies, cache groups %v", tracked, s.cache.groupKeys())
	}
	waitFor(t, "streams to close", func() bool {
		s.tracker.mu.Lock()
		defer s.tracker.mu.Unlock()
		streams = len(s.tracker.sotw)
		return streams == 0
	})
	if grown := int64(heap()) - int64(before); grown > 32<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	if longest, total := logs.longestLine(); longest > 2048 || total > conns*perConn*1024 {
		t.Errorf("logged %d bytes, the longest line %d", total, longest)
	}
}
