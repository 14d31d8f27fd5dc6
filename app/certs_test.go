package app

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func TestCheckPlaintextADS(t *testing.T) {
	tests := map[string]struct {
		listen      string
		allowRemote bool
		ok          bool
	}{
		"loopback v4":          {listen: "127.0.0.1:18000", ok: true},
		"loopback v6":          {listen: "[::1]:18000", ok: true},
		"localhost":            {listen: "localhost:18000", ok: true},
		"every interface":      {listen: ":18000"},
		"wildcard v4":          {listen: "0.0.0.0:18000"},
		"a LAN address":        {listen: "10.0.0.5:18000"},
		"a LAN address forced": {listen: "10.0.0.5:18000", allowRemote: true, ok: true},
		"a host name":          {listen: "routedeck.internal:18000"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := CheckPlaintextADS(tc.listen, tc.allowRemote)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), "loopback development only") {
				t.Errorf("error does not say why: %v", err)
			}
		})
	}
}

// TestPlaintextADS: with the flag on loopback, a client without
// credentials is served (and the sandbox's sim connects the same way); on
// a non-loopback address the service refuses to start.
func TestPlaintextADS(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	refused := New(Config{DataDir: t.TempDir(), ADSListen: "0.0.0.0:0", ADSInsecurePlaintext: true, Logger: quiet, Notices: io.Discard})
	if err := refused.Start(ctx); err == nil {
		refused.Stop()
		t.Fatal("plaintext ADS started on every interface")
	}

	svc := New(Config{DataDir: t.TempDir(), ADSListen: "127.0.0.1:0", ADSInsecurePlaintext: true, Logger: quiet, Notices: io.Discard})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	conn, err := grpc.NewClient(svc.ADSAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "dev", Cluster: "sandbox/public"}, TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	// Nothing is set for the sandbox yet: no answer, but no refusal
	// either; the tracker lists the plaintext proxy.
	// The tracker has no change feed to wait on: look until it shows or
	// the stream ends, with no deadline of the test's own, so a busy
	// machine only makes it slower.
	for len(svc.ADS().Proxies("sandbox/public")) != 1 {
		select {
		case <-st.Context().Done():
			t.Fatalf("the stream ended before the plaintext proxy showed: %v", st.Context().Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
