package accesslog

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/routedeck/routedeck/backend/xds"
)

// TestFromProtoBoundsWhatAProxySent: whatever a proxy reports, an entry
// keeps bounded, valid UTF-8 strings and a sane time.
func TestFromProtoBoundsWhatAProxySent(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	huge := strings.Repeat("é", 10000) + "\xff"
	headers := map[string]string{}
	for i := range 100 {
		headers["x-"+strconv.Itoa(i)+"-"+strings.Repeat("h", 300)] = huge
	}
	pe := &accesslogdata.HTTPAccessLogEntry{
		CommonProperties: &accesslogdata.AccessLogCommon{RouteName: huge, StartTime: timestamppb.New(now.Add(1000 * time.Hour)),
			Duration: durationpb.New(-time.Second), ResponseFlags: &accesslogdata.ResponseFlags{NoRouteFound: true, UpstreamRetryLimitExceeded: true}},
		Request: &accesslogdata.HTTPRequestProperties{Authority: huge, Path: huge, UserAgent: huge, RequestHeaders: headers},
	}
	e := fromProto(xds.AccessLogBatch{Gateway: "g", Node: huge, Received: now}, pe)
	for name, v := range map[string]struct {
		s   string
		max int
	}{"route": {e.Route, maxShort}, "host": {e.Host, maxShort}, "path": {e.Path, maxLong}, "agent": {e.UserAgent, maxLong}, "node": {e.Node, maxShort}} {
		if len(v.s) > v.max || !utf8.ValidString(v.s) {
			t.Errorf("%s: %d bytes (valid UTF-8 %v), at most %d", name, len(v.s), utf8.ValidString(v.s), v.max)
		}
	}
	if len(e.Headers) != maxKeptHeader {
		t.Errorf("%d headers kept, at most %d", len(e.Headers), maxKeptHeader)
	}
	for k, v := range e.Headers {
		if len(k) > maxShort || len(v) > maxHeaderVal || !utf8.ValidString(v) {
			t.Errorf("header %d/%d bytes", len(k), len(v))
		}
	}
	if !e.Time.Equal(now) || e.DurationMs != 0 || e.Status != 0 || e.ResponseFlags != "NR,URX" || e.Rule != "" {
		t.Errorf("entry = time %v duration %v status %d flags %q rule %q", e.Time, e.DurationMs, e.Status, e.ResponseFlags, e.Rule)
	}
}
