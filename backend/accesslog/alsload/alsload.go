// Package alsload sends access log entries the way Envoy's gRPC access
// logger does, to measure an access log service: a few streams (one per
// Envoy worker), each opening with the node and log name, then messages
// of about what Envoy's 16 KiB buffer holds.
package alsload

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Options shape a load.
type Options struct {
	// Gateway is the node.cluster and log name the streams identify with.
	Gateway string
	// Entries is how many entries to send in all, over Streams streams
	// (default 4) in messages of PerMessage (default 100).
	Entries, Streams, PerMessage int
	// Rules is how many rules the entries' route names spread over
	// (default 20).
	Rules int
}

// Send sends the load over conn and waits until every stream is closed
// and answered. It returns how many entries it sent.
func Send(ctx context.Context, conn *grpc.ClientConn, o Options) (int, error) {
	o.Streams, o.PerMessage, o.Rules = or(o.Streams, 4), or(o.PerMessage, 100), or(o.Rules, 20)
	batch := Entries(o.PerMessage, o.Rules)
	messages := max(o.Entries/o.PerMessage, o.Streams)
	var wg sync.WaitGroup
	errs := make(chan error, o.Streams)
	for s := range o.Streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := alsv3.NewAccessLogServiceClient(conn).StreamAccessLogs(ctx)
			if err != nil {
				errs <- err
				return
			}
			for m := s; m < messages; m += o.Streams {
				msg := &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{
					HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: batch}}}
				if m < o.Streams {
					msg.Identifier = &alsv3.StreamAccessLogsMessage_Identifier{
						Node: &corev3.Node{Id: "load-" + strconv.Itoa(s), Cluster: o.Gateway}, LogName: o.Gateway}
				}
				if err := st.Send(msg); err != nil {
					_, err = st.CloseAndRecv()
					errs <- fmt.Errorf("stream %d: %w", s, err)
					return
				}
			}
			if _, err := st.CloseAndRecv(); err != nil {
				errs <- fmt.Errorf("stream %d: %w", s, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return messages * o.PerMessage, nil
}

func or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Entries is one message's worth of requests as Envoy reports them: n
// entries spread over rules rules.
func Entries(n, rules int) []*accesslogdata.HTTPAccessLogEntry {
	out := make([]*accesslogdata.HTTPAccessLogEntry, n)
	for i := range out {
		out[i] = &accesslogdata.HTTPAccessLogEntry{
			CommonProperties: &accesslogdata.AccessLogCommon{
				StartTime: timestamppb.Now(), Duration: durationpb.New(time.Duration(i+1) * time.Millisecond),
				RouteName: "rule/r" + strconv.Itoa(i%rules) + "/0", UpstreamCluster: "web",
				DownstreamRemoteAddress: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
					Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}},
			},
			Request: &accesslogdata.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Authority: "shop.example.com",
				Path: "/products/" + strconv.Itoa(i), UserAgent: "alsload", RequestId: "0123456789abcdef"},
			Response: &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(200), ResponseBodyBytes: 512},
		}
	}
	return out
}
