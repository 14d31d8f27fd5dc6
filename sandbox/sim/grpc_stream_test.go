package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// streamService is a grpc.testing.TestService whose streaming methods wait
// on the test between messages, so a call only completes if the data
// plane passes each message on as it comes instead of at the end of the
// stream.
type streamService struct {
	testpb.UnimplementedTestServiceServer
	// release lets StreamingOutputCall send its next message.
	release chan struct{}
	// gotFirst tells the test that StreamingInputCall has received its
	// first message.
	gotFirst chan struct{}
}

func (s *streamService) UnaryCall(_ context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if st := in.GetResponseStatus(); st != nil {
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return &testpb.SimpleResponse{Payload: in.GetPayload(), ServerId: "grpc-upstream"}, nil
}

// StreamingOutputCall sends one message per response parameter, each after
// the test released it, then ends with the requested status and a
// trailer.
func (s *streamService) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	stream.SetTrailer(metadata.Pairs("x-served-by", "grpc-upstream"))
	for i, p := range in.GetResponseParameters() {
		if i > 0 {
			select {
			case <-s.release:
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	if st := in.GetResponseStatus(); st != nil {
		return status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return nil
}

// StreamingInputCall adds up the payload sizes of a client stream.
func (s *streamService) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	total := 0
	for n := 0; ; n++ {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		if n == 0 {
			close(s.gotFirst)
		}
		total += len(m.GetPayload().GetBody())
	}
}

// FullDuplexCall answers every message at once with one of the same size.
func (s *streamService) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: m.GetPayload()}); err != nil {
			return err
		}
	}
}

// TestDataPlaneGRPCStreaming sends unary and streaming gRPC calls through
// the sim to a real gRPC server on an HTTP/2 cluster. Each streaming case
// would hang (and fail on its deadline) if the sim buffered a body.
func TestDataPlaneGRPCStreaming(t *testing.T) {
	svc := &streamService{release: make(chan struct{}), gotFirst: make(chan struct{})}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	testpb.RegisterTestServiceServer(gs, svc)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	h := newHarness(t)
	h.set(t, "1", listener(t), routeConfig(prefixRoute("rule/grpc/0", "/", "grpc")),
		http2Cluster(t, edsCluster("grpc", clusterv3.Cluster_ROUND_ROBIN)), loadAssignmentOf("grpc", lis.Addr().String()))
	conn, err := grpc.NewClient(h.dp.Status().Listeners["http"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := testpb.NewTestServiceClient(conn)
	callCtx := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("unary", func(t *testing.T) {
		resp, err := client.UnaryCall(callCtx(t), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("ping")}})
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.GetPayload().GetBody()) != "ping" || resp.GetServerId() != "grpc-upstream" {
			t.Errorf("answer %v", resp)
		}
	})

	t.Run("error status", func(t *testing.T) {
		tests := map[string]struct {
			call func(ctx context.Context) error
		}{
			// A call failing at once answers trailers-only: grpc-status
			// comes in the response headers.
			"trailers only": {func(ctx context.Context) error {
				_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.PermissionDenied), Message: "not yours"}})
				return err
			}},
			// After messages, the status can only come as HTTP/2
			// trailers, which the sim must pass on.
			"after messages": {func(ctx context.Context) error {
				stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
					ResponseParameters: []*testpb.ResponseParameters{{Size: 3}},
					ResponseStatus:     &testpb.EchoStatus{Code: int32(codes.PermissionDenied), Message: "not yours"}})
				if err != nil {
					return err
				}
				if _, err := stream.Recv(); err != nil {
					return fmt.Errorf("first message: %w", err)
				}
				_, err = stream.Recv()
				if got := stream.Trailer().Get("x-served-by"); len(got) != 1 || got[0] != "grpc-upstream" {
					return fmt.Errorf("trailer metadata lost (status %v)", err)
				}
				return err
			}},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				err := tc.call(callCtx(t))
				if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != "not yours" {
					t.Errorf("got %v, want PermissionDenied: not yours", err)
				}
			})
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		ctx := callCtx(t)
		sizes := []int32{1, 2, 3}
		req := &testpb.StreamingOutputCallRequest{}
		for _, s := range sizes {
			req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: s})
		}
		stream, err := client.StreamingOutputCall(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range sizes {
			// The server holds message i+1 back until message i
			// arrived here, so each one arrives while the stream is
			// still open.
			m, err := stream.Recv()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if int32(len(m.GetPayload().GetBody())) != want {
				t.Errorf("message %d has %d bytes, want %d", i, len(m.GetPayload().GetBody()), want)
			}
			if i < len(sizes)-1 {
				svc.release <- struct{}{}
			}
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Errorf("end of stream: %v", err)
		}
	})

	t.Run("client streaming", func(t *testing.T) {
		ctx := callCtx(t)
		stream, err := client.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 10)}}); err != nil {
			t.Fatal(err)
		}
		// The server must get the first message while the client
		// stream is still open.
		select {
		case <-svc.gotFirst:
		case <-ctx.Done():
			t.Fatal("the server got no message before the client stream ended")
		}
		for _, n := range []int{20, 30} {
			if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, n)}}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != 60 {
			t.Errorf("aggregated %d bytes, want 60", resp.GetAggregatedPayloadSize())
		}
	})

	t.Run("bidi ping-pong", func(t *testing.T) {
		stream, err := client.FullDuplexCall(callCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		// Each answer is awaited before the next message is sent: with
		// either body buffered this never gets past the first round.
		for i, msg := range []string{"ping", "pong", "peng"} {
			if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(msg)}}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			m, err := stream.Recv()
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if got := string(m.GetPayload().GetBody()); got != msg {
				t.Errorf("round %d: got %q, want %q", i, got, msg)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Errorf("end of stream: %v", err)
		}
	})
}
