package xds

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// TestEndpointVersionFollowsContent: the EDS version an endpoint change
// gets is derived from the load assignments alone, so replicas given the
// same endpoints serve the same version, and only new content moves it.
func TestEndpointVersionFollowsContent(t *testing.T) {
	ctx := context.Background()
	moved := map[string][]string{"web-v1": {"10.0.0.99:8080"}, "api": baseEndpoints["api"]}
	var versions []string
	for range 2 {
		s := New(Options{Logger: slog.New(slog.DiscardHandler)})
		if err := s.SetGateway(ctx, "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetEndpoints(ctx, "public", fixture(t, baseRoutes, moved).Endpoints); err != nil {
			t.Fatal(err)
		}
		v := s.TypeVersion("public", resource.EndpointType)
		if !strings.HasPrefix(v, "1/eds-") || len(v) != len("1/eds-")+12 {
			t.Fatalf("EDS version %q, want 1/eds- and 12 hex digits", v)
		}
		// The same endpoints again change nothing.
		if err := s.SetEndpoints(ctx, "public", fixture(t, baseRoutes, moved).Endpoints); err != nil {
			t.Fatal(err)
		}
		if again := s.TypeVersion("public", resource.EndpointType); again != v {
			t.Errorf("same endpoints moved the version from %q to %q", v, again)
		}
		// Back to the published endpoints: a version unlike the moved one.
		if err := s.SetEndpoints(ctx, "public", fixture(t, baseRoutes, baseEndpoints).Endpoints); err != nil {
			t.Fatal(err)
		}
		if back := s.TypeVersion("public", resource.EndpointType); back == v {
			t.Errorf("other endpoints kept version %q", v)
		}
		versions = append(versions, v)
	}
	if versions[0] != versions[1] {
		t.Errorf("two servers, same endpoints, versions %q and %q", versions[0], versions[1])
	}
}
