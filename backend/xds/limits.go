package xds

import (
	"fmt"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Bounds on what a proxy may send. Whoever can reach the ADS port can send
// anything; what the server keeps per stream and per proxy, what it logs
// and what the API shows must not grow with it. Real proxies stay far
// below: node ids are host or pod names, clusters are gateway names, and
// Envoy's node (with the list of its extensions) is tens of kilobytes.
const (
	// maxNodeID and maxNodeCluster bound node.id and node.cluster.
	maxNodeID      = 1024
	maxNodeCluster = 256
	// maxNodeMetadata bounds node.metadata, encoded.
	maxNodeMetadata = 64 << 10
	// maxNodeSize bounds the whole node, encoded: the server keeps it for
	// the life of the stream.
	maxNodeSize = 256 << 10
	// maxTypeURL bounds a request's type URL; each distinct one becomes a
	// subscription the stream keeps.
	maxTypeURL = 256
	// maxErrorDetail is how much of a NACK's error message is kept (and
	// shown by the API); the rest is cut, with a marker saying so.
	maxErrorDetail = 8 << 10
	// maxLogString is how much of any string a proxy sent goes into a log
	// line.
	maxLogString = 256
	// maxTrackedProxies bounds the proxies the tracker lists, connected or
	// not. Disconnected ones go first, oldest first; when every tracked
	// proxy is connected, a new one is refused until one leaves.
	maxTrackedProxies = 10000
)

// checkRequest refuses a request whose node or type URL is over the
// bounds. The stream ends with InvalidArgument, which Envoy logs as the
// reason and retries with backoff.
func checkRequest(node *corev3.Node, typeURL string) error {
	if len(typeURL) > maxTypeURL {
		return status.Errorf(codes.InvalidArgument, "type_url: %d bytes, at most %d", len(typeURL), maxTypeURL)
	}
	if node == nil {
		return nil
	}
	switch {
	case len(node.GetId()) > maxNodeID:
		return status.Errorf(codes.InvalidArgument, "node.id: %d bytes, at most %d", len(node.GetId()), maxNodeID)
	case len(node.GetCluster()) > maxNodeCluster:
		return status.Errorf(codes.InvalidArgument, "node.cluster: %d bytes, at most %d", len(node.GetCluster()), maxNodeCluster)
	}
	if n := proto.Size(node.GetMetadata()); n > maxNodeMetadata {
		return status.Errorf(codes.InvalidArgument, "node.metadata: %d bytes encoded, at most %d", n, maxNodeMetadata)
	}
	if n := proto.Size(node); n > maxNodeSize {
		return status.Errorf(codes.InvalidArgument, "node: %d bytes encoded, at most %d", n, maxNodeSize)
	}
	return nil
}

// clipErrorDetail cuts a NACK's error message to maxErrorDetail and drops
// its details, in the request itself: the server keeps the request with
// the watch it opens until the next response, so cutting it here bounds
// what that holds too.
func clipErrorDetail(d *rpcstatus.Status) {
	if d == nil {
		return
	}
	d.Message = truncate(d.Message, maxErrorDetail)
	d.Details = nil
}

// truncate cuts s to at most max bytes (at a rune boundary) and says how
// long it was.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… [truncated: %d bytes in all]", len(s))
}

// untrusted prepares a string a proxy sent for a log line: the one place
// such strings are cut before they are logged.
func untrusted(s string) string { return truncate(s, maxLogString) }
