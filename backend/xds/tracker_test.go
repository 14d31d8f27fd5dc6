package xds

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestAttributeRule(t *testing.T) {
	routes := func(names ...string) *anypb.Any {
		vh := &routev3.VirtualHost{Name: "shop", Domains: []string{"*"}}
		for _, n := range names {
			vh.Routes = append(vh.Routes, &routev3.Route{Name: n})
		}
		a, err := anypb.New(&routev3.RouteConfiguration{Name: "http", VirtualHosts: []*routev3.VirtualHost{vh}})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := map[string]struct {
		msg  string
		sent sentResponse
		want string
	}{
		"named in message": {
			msg:  "Proto constraint validation failed (rule/checkout-v2/3: regex too large)",
			want: "checkout-v2",
		},
		"route name in message": {
			msg:  "route rule/api/0 has an invalid regex",
			sent: sentResponse{resources: []*anypb.Any{routes("rule/static/0", "rule/api/0")}},
			want: "api",
		},
		"only one rule in response": {
			msg:  "invalid regex",
			sent: sentResponse{resources: []*anypb.Any{routes("rule/static/0", "rule/static/1")}},
			want: "static",
		},
		"delta resource names": {
			msg:  "cluster rule/mirror/0-shadow: bad config",
			sent: sentResponse{names: []string{"web"}},
			want: "mirror",
		},
		"value quoted from one rule's match": {
			msg: "Invalid regex '^/v[0-9]+(/.*': missing closing )",
			sent: sentResponse{resources: []*anypb.Any{func() *anypb.Any {
				rc := &routev3.RouteConfiguration{Name: "http", VirtualHosts: []*routev3.VirtualHost{{Name: "shop", Routes: []*routev3.Route{
					{Name: "rule/static/0", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/static"}}},
					{Name: "rule/versioned/0", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{
						SafeRegex: &matcherv3.RegexMatcher{Regex: "^/v[0-9]+(/.*"},
					}}},
				}}}}
				a, err := anypb.New(rc)
				if err != nil {
					t.Fatal(err)
				}
				return a
			}()}},
			want: "versioned",
		},
		"ambiguous": {
			msg:  "invalid regex",
			sent: sentResponse{resources: []*anypb.Any{routes("rule/static/0", "rule/api/0")}},
			want: "",
		},
		"nothing to go on": {msg: "listener http: address already in use", want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := attributeRule(tc.msg, tc.sent); got != tc.want {
				t.Fatalf("rule = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTrackerBoundsUnansweredResponses: a proxy that never answers does not
// make the tracker grow, and an answer to a recent response still counts.
func TestTrackerBoundsUnansweredResponses(t *testing.T) {
	tr := newTracker(slog.New(slog.DiscardHandler), newMetrics(), time.Hour)
	if err := tr.OnStreamOpen(context.Background(), 1, ""); err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "n", Cluster: "public"}
	if err := tr.OnStreamRequest(1, &discovery.DiscoveryRequest{Node: node, TypeUrl: resource.RouteType}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		tr.OnStreamResponse(context.Background(), 1, nil, &discovery.DiscoveryResponse{
			TypeUrl: resource.RouteType, VersionInfo: strconv.Itoa(i), Nonce: strconv.Itoa(i),
		})
	}
	if n := len(tr.sotw[1].sent[resource.RouteType]); n > maxPending {
		t.Fatalf("%d responses remembered, want at most %d", n, maxPending)
	}
	if err := tr.OnStreamRequest(1, &discovery.DiscoveryRequest{TypeUrl: resource.RouteType, VersionInfo: "99", ResponseNonce: "99"}); err != nil {
		t.Fatal(err)
	}
	if got := tr.list("public")[0].Acked[resource.RouteType]; got != "99" {
		t.Fatalf("acked %q, want 99", got)
	}
}

// countAcked and ackedVersions count connected proxies of one gateway at
// one version of a type, as ACKs, connections and disconnections move them.
func TestTrackerAcked(t *testing.T) {
	tr := newTracker(slog.New(slog.DiscardHandler), newMetrics(), time.Hour)
	ctx := context.Background()
	var id int64
	// connect opens a stream of node in gateway and has it ACK versions
	// of type "t" in turn.
	connect := func(gateway, node string, versions ...string) int64 {
		id++
		if err := tr.OnStreamOpen(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		if err := tr.OnStreamRequest(id, &discovery.DiscoveryRequest{Node: &corev3.Node{Id: node, Cluster: gateway}, TypeUrl: "t"}); err != nil {
			t.Fatal(err)
		}
		for i, v := range versions {
			nonce := strconv.Itoa(i)
			tr.OnStreamResponse(ctx, id, nil, &discovery.DiscoveryResponse{TypeUrl: "t", VersionInfo: v, Nonce: nonce})
			if err := tr.OnStreamRequest(id, &discovery.DiscoveryRequest{TypeUrl: "t", VersionInfo: v, ResponseNonce: nonce}); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	connect("gw", "a", "1", "2")
	connect("gw", "b", "1")
	c := connect("gw", "c", "2")
	connect("gw", "e")
	connect("other", "d", "2")
	tr.OnStreamClosed(c, nil)
	check := func(when string, want map[string]int) {
		t.Helper()
		for _, tc := range []struct {
			gateway, typeURL, version string
			want                      int
		}{{"gw", "t", "2", want["2"]}, {"gw", "t", "1", want["1"]}, {"gw", "t", "", want[""]}, {"gw", "u", "2", 0},
			{"other", "t", "2", 1}, {"none", "t", "2", 0}} {
			if got := tr.countAcked(tc.gateway, tc.typeURL, tc.version); got != tc.want {
				t.Errorf("%s: countAcked(%q, %q, %q) = %d, want %d", when, tc.gateway, tc.typeURL, tc.version, got, tc.want)
			}
		}
		if got := tr.ackedVersions("gw", "t"); !maps.Equal(got, want) {
			t.Errorf("%s: ackedVersions(gw, t) = %v, want %v", when, got, want)
		}
	}
	check("c disconnected", map[string]int{"2": 1, "1": 1, "": 1})
	if got := tr.ackedVersions("gw", "u"); !maps.Equal(got, map[string]int{"": 3}) {
		t.Errorf("ackedVersions(gw, u) = %v, want 3 with none", got)
	}
	if got := tr.ackedVersions("none", "t"); len(got) != 0 {
		t.Errorf("ackedVersions(none, t) = %v, want none", got)
	}
	connect("gw", "c")
	check("c back", map[string]int{"2": 2, "1": 1, "": 1})
}

// A proxy that opens a stream with the version it accepted elsewhere (an
// xDS replica it moved from) runs that version, and is told so; a change
// is signalled for the replica's report.
func TestTrackerTakesTheResumedVersion(t *testing.T) {
	tr := newTracker(slog.New(slog.DiscardHandler), newMetrics(), time.Hour)
	node := &corev3.Node{Id: "edge-1", Cluster: "public"}
	changed := tr.watch(t.Context())
	if err := tr.OnStreamOpen(context.Background(), 1, ""); err != nil {
		t.Fatal(err)
	}
	if err := tr.OnStreamRequest(1, &discovery.DiscoveryRequest{Node: node, TypeUrl: resource.ClusterType, VersionInfo: "7"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("no change signalled")
	}
	if got := tr.list("public")[0].Acked[resource.ClusterType]; got != "7" {
		t.Fatalf("acked %q, want the resumed 7", got)
	}
	// A first request without a version acknowledges nothing.
	if err := tr.OnStreamRequest(1, &discovery.DiscoveryRequest{TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.list("public")[0].Acked[resource.ListenerType]; ok {
		t.Fatal("an empty version counted as acknowledged")
	}
}

// Every watcher of the proxies is told of each change, bursts coalesced
// into one cue per watcher; one that stopped watching is told nothing.
func TestTrackerWatchersEachGetChanges(t *testing.T) {
	tr := newTracker(slog.New(slog.DiscardHandler), newMetrics(), time.Hour)
	stopped, stop := context.WithCancel(t.Context())
	a, b, gone := tr.watch(t.Context()), tr.watch(t.Context()), tr.watch(stopped)
	stop()
	// The watcher is dropped once its context is done, asynchronously.
	for deadline := time.Now().Add(5 * time.Second); ; {
		tr.mu.Lock()
		n := len(tr.watchers)
		tr.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d watchers after one stopped, want 2", n)
		}
		time.Sleep(time.Millisecond)
	}
	pending := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	for i := range 3 { // three proxies connect: one cue each, not three
		id := int64(i + 1)
		if err := tr.OnStreamOpen(context.Background(), id, ""); err != nil {
			t.Fatal(err)
		}
		node := &corev3.Node{Id: fmt.Sprintf("edge-%d", i), Cluster: "public"}
		if err := tr.OnStreamRequest(id, &discovery.DiscoveryRequest{Node: node, TypeUrl: resource.ClusterType}); err != nil {
			t.Fatal(err)
		}
	}
	for name, ch := range map[string]<-chan struct{}{"a": a, "b": b} {
		if !pending(ch) {
			t.Errorf("watcher %s: no cue after proxies connected", name)
		}
		if pending(ch) {
			t.Errorf("watcher %s: a second cue for one burst", name)
		}
	}
	if pending(gone) {
		t.Error("a watcher that stopped was told of a change")
	}
	tr.OnStreamClosed(1, nil)
	if !pending(a) || !pending(b) {
		t.Error("a disconnect was not told to every watcher")
	}
}
