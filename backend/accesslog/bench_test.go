package accesslog_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/xds"
)

// BenchmarkIngest measures access log ingestion on the path proxies use:
// StreamAccessLogs over loopback gRPC into the ADS server's access log
// service and on to the store, committed. Four streams (an Envoy with
// four workers) send messages of 100 entries, about what Envoy's 16 KiB
// buffer holds, as fast as the server takes them. entries/s counts what
// was stored; dropped, what the bounded queue refused because the writer
// was behind (zero when ingestion keeps up).
func BenchmarkIngest(b *testing.B) {
	discard := slog.New(slog.DiscardHandler)
	ads := xds.New(xds.Options{Logger: discard})
	store, err := accesslog.Open(context.Background(), filepath.Join(b.TempDir(), "accesslog.db"), accesslog.Options{Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ads.SetAccessLogSink(store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ads.Serve(ctx, lis) }()
	defer func() { cancel(); <-served }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	const streams, perMessage = 4, 100
	batch := make([]*accesslogdata.HTTPAccessLogEntry, perMessage)
	for i := range batch {
		batch[i] = &accesslogdata.HTTPAccessLogEntry{
			CommonProperties: &accesslogdata.AccessLogCommon{
				StartTime: timestamppb.Now(), Duration: durationpb.New(time.Duration(i+1) * time.Millisecond),
				RouteName: "rule/r" + strconv.Itoa(i%20) + "/0", UpstreamCluster: "web",
				DownstreamRemoteAddress: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
					Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}},
			},
			Request: &accesslogdata.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Authority: "shop.example.com",
				Path: "/products/" + strconv.Itoa(i), UserAgent: "bench", RequestId: "0123456789abcdef"},
			Response: &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(200), ResponseBodyBytes: 512},
		}
	}
	messages := max(b.N/perMessage, streams)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := alsv3.NewAccessLogServiceClient(conn).StreamAccessLogs(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			for m := s; m < messages; m += streams {
				msg := &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{
					HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: batch}}}
				if m < streams {
					msg.Identifier = &alsv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: "n" + strconv.Itoa(s), Cluster: "public"}, LogName: "public"}
				}
				if err := st.Send(msg); err != nil {
					b.Error(err)
					return
				}
			}
			if _, err := st.CloseAndRecv(); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := store.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	tr, err := store.Traffic(context.Background(), "public", time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	var stored uint64
	for _, r := range tr {
		stored += r.Requests
	}
	b.ReportMetric(float64(stored)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(uint64(messages*perMessage)-stored), "dropped")
}
