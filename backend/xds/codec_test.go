package xds

import (
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestCodecSharedEncoding: what the codec writes for a shared response
// decodes to exactly the response, nonce included, and responses that are
// not shared go through the ordinary proto codec.
func TestCodecSharedEncoding(t *testing.T) {
	res := fixture(t, baseRoutes, baseEndpoints)
	items := ByType(res)[resource.ClusterType]
	tr, err := newTypeResources(resource.ClusterType, "7", items, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.release()
	wildcard := stream.NewSotwSubscription(nil, true)
	named := stream.NewSotwSubscription([]string{"web-v1"}, true)
	c := newCodec()
	tests := map[string]struct {
		resp       *discovery.DiscoveryResponse
		wantShared bool
	}{
		"wildcard": {resp: tr.sotwResponse(&discovery.DiscoveryRequest{}, &wildcard).DiscoveryResponse, wantShared: true},
		"named":    {resp: tr.sotwResponse(&discovery.DiscoveryRequest{}, &named).DiscoveryResponse, wantShared: true},
		"copied slice is not shared": {resp: &discovery.DiscoveryResponse{
			VersionInfo: "7", TypeUrl: resource.ClusterType, Resources: append([]*anypb.Any(nil), tr.all...),
		}},
		"canary set": {resp: func() *discovery.DiscoveryResponse {
			r := tr.sotwResponse(&discovery.DiscoveryRequest{}, &wildcard).DiscoveryResponse
			r.Canary = true
			return r
		}()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.resp.Nonce = "42"
			if got := lookupShared(tc.resp) != nil; got != tc.wantShared {
				t.Fatalf("shared = %v, want %v", got, tc.wantShared)
			}
			out, err := c.Marshal(tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			got := &discovery.DiscoveryResponse{}
			if err := proto.Unmarshal(out.Materialize(), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.resp, got, protocmp.Transform()); diff != "" {
				t.Fatalf("decoded response differs (-want +got):\n%s", diff)
			}
		})
	}
	if got := len(tests["named"].resp.Resources); got != 1 {
		t.Errorf("named response has %d resources, want 1", got)
	}
	tr.release()
	if lookupShared(tests["wildcard"].resp) != nil {
		t.Error("encoding still shared after release")
	}
}
