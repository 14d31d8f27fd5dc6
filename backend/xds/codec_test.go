package xds

import (
	"fmt"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protowire"

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
	tr, err := newTypeResources(resource.ClusterType, "7", items, nil, nil)
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

// TestCodecRequestNames: a request decodes to what the proto decoder
// makes of it, however its names are laid out, and two requests with the
// same names share one list.
func TestCodecRequestNames(t *testing.T) {
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("upstream-%04d", i))
	}
	base := &discovery.DiscoveryRequest{VersionInfo: "3", TypeUrl: resource.EndpointType, ResponseNonce: "12",
		Node: &corev3.Node{Id: "envoy-1", Cluster: "public"}, ResourceNames: many}
	ordered, err := proto.MarshalOptions{Deterministic: true}.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	tag := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), s)
	}
	// Names split in two runs, the type URL between them.
	var split []byte
	for i, n := range many {
		if i == 50 {
			split = append(split, tag(4, resource.EndpointType)...)
		}
		split = append(split, tag(3, n)...)
	}
	tests := map[string]struct {
		b       []byte
		wantErr bool
	}{
		"field order":         {b: ordered},
		"names split":         {b: split},
		"few names":           {b: append(tag(3, "a"), tag(4, resource.EndpointType)...)},
		"no names":            {b: tag(4, resource.ClusterType)},
		"invalid UTF-8":       {b: append(slices.Repeat(tag(3, "upstream-0001"), 30), tag(3, "\xff\xfe")...), wantErr: true},
		"truncated":           {b: ordered[:len(ordered)-3], wantErr: true},
		"names then the rest": {b: append(slices.Concat(slices.Repeat([][]byte{tag(3, "x-long-enough-name")}, 40)...), tag(5, "9")...)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var want, got discovery.DiscoveryRequest
			wantErr := proto.Unmarshal(tc.b, &want)
			err := unmarshalRequest(tc.b, &got)
			if (err != nil) != tc.wantErr || (wantErr != nil) != tc.wantErr {
				t.Fatalf("error %v, proto says %v, want error: %v", err, wantErr, tc.wantErr)
			}
			if err == nil {
				if d := cmp.Diff(&want, &got, protocmp.Transform()); d != "" {
					t.Errorf("decoded differently (-proto +codec):\n%s", d)
				}
			}
		})
	}
	var a, b discovery.DiscoveryRequest
	if err := unmarshalRequest(ordered, &a); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalRequest(slices.Clone(ordered), &b); err != nil {
		t.Fatal(err)
	}
	if &a.ResourceNames[0] != &b.ResourceNames[0] {
		t.Error("two requests with the same names decoded two lists")
	}
}

// FuzzUnmarshalRequest: whatever bytes a proxy sends, the codec's request
// decoder agrees with the proto decoder, on errors as on what it decodes,
// through its shared name lists too (every input is decoded twice, the
// second time with its list known).
func FuzzUnmarshalRequest(f *testing.F) {
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("upstream-%04d", i))
	}
	req := &discovery.DiscoveryRequest{VersionInfo: "3", TypeUrl: resource.EndpointType, ResponseNonce: "12",
		Node: &corev3.Node{Id: "envoy-1", Cluster: "public"}, ResourceNames: names}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-5])
	f.Add(append(slices.Clone(b), b...))
	req.Node = nil
	b, _ = proto.Marshal(req)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var want discovery.DiscoveryRequest
		wantErr := proto.Unmarshal(b, &want)
		for range 2 {
			var got discovery.DiscoveryRequest
			err := unmarshalRequest(b, &got)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, proto says %v", err, wantErr)
			}
			if err == nil && !proto.Equal(&want, &got) {
				t.Fatalf("decoded %v, proto decodes %v", &got, &want)
			}
		}
	})
}
