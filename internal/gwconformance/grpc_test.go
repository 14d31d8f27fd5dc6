package gwconformance

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"
	gwgrpc "sigs.k8s.io/gateway-api/conformance/utils/grpc"
)

// grpcEcho is the gRPC upstream of a GRPCRoute backend: the conformance
// echo service, answering with the method it got and who it is, as the
// conformance suite's own echo server does.
type grpcEcho struct {
	pb.UnimplementedGrpcEchoServer
	namespace, pod string
	addr           string
}

func (e *grpcEcho) Echo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return e.answer(ctx, "Echo")
}

func (e *grpcEcho) EchoTwo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return e.answer(ctx, "EchoTwo")
}

func (e *grpcEcho) answer(ctx context.Context, method string) (*pb.EchoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var headers []*pb.Header
	authority := ""
	for k, vs := range md {
		if k == ":authority" && len(vs) > 0 {
			authority = vs[0]
		}
		for _, v := range vs {
			headers = append(headers, &pb.Header{Key: k, Value: v})
		}
	}
	return &pb.EchoResponse{Assertions: &pb.Assertions{
		FullyQualifiedMethod: "/" + pb.GrpcEcho_ServiceDesc.ServiceName + "/" + method,
		Headers:              headers,
		Authority:            authority,
		Context:              &pb.Context{Namespace: e.namespace, Pod: e.pod},
	}}, nil
}

// startGRPCEcho serves the echo service on a loopback port (h2c).
func startGRPCEcho(t *testing.T, namespace, service string) *grpcEcho {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &grpcEcho{namespace: namespace, addr: lis.Addr().String()}
	e.pod = podName(service, e.addr)
	s := grpc.NewServer()
	pb.RegisterGrpcEchoServer(s, e)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return e
}

// checkGRPC sends one expected RPC through the data plane and compares
// the answer as the module's own comparison does (status code, the method
// the backend got, its namespace and pod).
func checkGRPC(t *testing.T, l *loaded, c confCase, port int) error {
	exp := *c.GRPC
	resp, err := sendGRPC(t, l, exp, port)
	if err != nil {
		return err
	}
	if exp.Response.Code != resp.Code {
		return fmt.Errorf("status %s, want %s", resp.Code, exp.Response.Code)
	}
	if resp.Code != 0 {
		return nil
	}
	a := resp.Response.GetAssertions()
	method := "Echo"
	switch {
	case exp.EchoTwoRequest != nil:
		method = "EchoTwo"
	case exp.EchoThreeRequest != nil:
		method = "EchoThree"
	}
	if want := "/" + pb.GrpcEcho_ServiceDesc.ServiceName + "/" + method; a.GetFullyQualifiedMethod() != want {
		return fmt.Errorf("method %s, want %s", a.GetFullyQualifiedMethod(), want)
	}
	if exp.Namespace != "" && exp.Namespace != a.GetContext().GetNamespace() {
		return fmt.Errorf("namespace %s, want %s", a.GetContext().GetNamespace(), exp.Namespace)
	}
	if !strings.HasPrefix(a.GetContext().GetPod(), exp.Backend) {
		return fmt.Errorf("pod %s, want %s", a.GetContext().GetPod(), exp.Backend)
	}
	return nil
}

// sendGRPC sends one RPC through the data plane's listener for port.
func sendGRPC(t *testing.T, l *loaded, exp gwgrpc.ExpectedResponse, port int) (*gwgrpc.Response, error) {
	addr, ok := l.listeners[port]
	if !ok {
		return nil, fmt.Errorf("no listener on port %d", port)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if md := exp.RequestMetadata; md != nil && md.Authority != "" {
		opts = append(opts, grpc.WithAuthority(md.Authority))
	} else {
		opts = append(opts, grpc.WithAuthority(fmt.Sprintf("192.0.2.10:%d", port)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	client := &gwgrpc.DefaultClient{Conn: conn}
	return client.SendRPC(t, addr, exp, 10*time.Second)
}
