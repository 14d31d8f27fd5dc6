package accesslog

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/routedeck/routedeck/backend/xds"
)

// clock is an injected clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTest(t *testing.T, opts Options) (*Store, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts.Now = c.now
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "accesslog.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

// entry builds what Envoy's http_grpc logger sends for one request.
func entry(start time.Time, route string, status int, dur time.Duration, host, path string) *accesslogdata.HTTPAccessLogEntry {
	return &accesslogdata.HTTPAccessLogEntry{
		CommonProperties: &accesslogdata.AccessLogCommon{
			StartTime:               timestamppb.New(start),
			Duration:                durationpb.New(dur),
			RouteName:               route,
			UpstreamCluster:         "web",
			DownstreamRemoteAddress: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.1.2.3", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}},
		},
		Request: &accesslogdata.HTTPRequestProperties{
			RequestMethod:  corev3.RequestMethod_GET,
			Authority:      host,
			Path:           path,
			RequestHeaders: map[string]string{"x-trace": "t1"},
		},
		Response: &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(uint32(status)), ResponseBodyBytes: 12},
	}
}

func offer(t *testing.T, s *Store, b xds.AccessLogBatch) {
	t.Helper()
	if !s.Offer(b) {
		t.Fatal("batch dropped")
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestEntriesAreStoredAndFiltered(t *testing.T) {
	s, c := openTest(t, Options{})
	now := c.now()
	b := xds.AccessLogBatch{Gateway: "public", Node: "envoy-1", Version: "7", Received: now, Entries: []*accesslogdata.HTTPAccessLogEntry{
		entry(now.Add(-3*time.Second), "rule/shop/0", 200, 3*time.Millisecond, "Shop.Example.com", "/static/a.css"),
		entry(now.Add(-2*time.Second), "rule/api/1", 503, 40*time.Millisecond, "api.example.com", "/v1/users"),
		entry(now.Add(-1*time.Second), "", 404, time.Millisecond, "api.example.com", "/nothing"),
		// A clock far off: the entry is placed at arrival.
		entry(now.Add(-48*time.Hour), "rule/shop/1", 304, time.Millisecond, "shop.example.com", "/static/b.css"),
	}}
	offer(t, s, b)
	offer(t, s, xds.AccessLogBatch{Gateway: "private", Node: "envoy-9", Version: "2", Received: now,
		Entries: []*accesslogdata.HTTPAccessLogEntry{entry(now, "rule/shop/0", 200, time.Millisecond, "shop.example.com", "/")}})

	tests := map[string]struct {
		q    Query
		want []string // paths, newest first
	}{
		"all of a gateway":  {q: Query{Gateway: "public"}, want: []string{"/static/b.css", "/nothing", "/v1/users", "/static/a.css"}},
		"rule":              {q: Query{Gateway: "public", Rule: "shop"}, want: []string{"/static/b.css", "/static/a.css"}},
		"no rule":           {q: Query{Gateway: "public", NoRule: true}, want: []string{"/nothing"}},
		"5xx":               {q: Query{Gateway: "public", StatusMin: 500, StatusMax: 599}, want: []string{"/v1/users"}},
		"host ignores case": {q: Query{Gateway: "public", Host: "SHOP.example.com"}, want: []string{"/static/b.css", "/static/a.css"}},
		"path prefix":       {q: Query{Gateway: "public", PathPrefix: "/static/a"}, want: []string{"/static/a.css"}},
		"time window": {q: Query{Gateway: "public", Since: now.Add(-2500 * time.Millisecond), Until: now.Add(-500 * time.Millisecond)},
			want: []string{"/nothing", "/v1/users"}},
		"other gateway": {q: Query{Gateway: "private"}, want: []string{"/"}},
		"none":          {q: Query{Gateway: "nobody"}, want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.q.Limit = 100
			got, more, err := s.Entries(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, e := range got {
				paths = append(paths, e.Path)
			}
			if more || strconv.Quote(joined(paths)) != strconv.Quote(joined(tc.want)) {
				t.Fatalf("got %v (more %v), want %v", paths, more, tc.want)
			}
		})
	}

	got, _, err := s.Entries(context.Background(), Query{Gateway: "public", Rule: "api", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := got[0]
	if e.Route != "rule/api/1" || e.Version != "7" || e.Node != "envoy-1" || e.Status != 503 || e.DurationMs != 40 ||
		e.Host != "api.example.com" || e.Method != "GET" || e.Client != "10.1.2.3:40000" || e.Headers["x-trace"] != "t1" ||
		e.BytesSent != 12 || !e.Time.Equal(now.Add(-2*time.Second)) {
		t.Fatalf("entry = %+v", e)
	}
}

func joined(list []string) string {
	out := ""
	for _, s := range list {
		out += s + "|"
	}
	return out
}

func TestPagingIsStable(t *testing.T) {
	s, c := openTest(t, Options{})
	now := c.now()
	var es []*accesslogdata.HTTPAccessLogEntry
	for i := range 25 {
		// Pairs of entries share a start time: the id breaks the tie.
		es = append(es, entry(now.Add(time.Duration(i/2)*time.Millisecond), "rule/r/0", 200, time.Millisecond, "h", "/"+strconv.Itoa(i)))
	}
	offer(t, s, xds.AccessLogBatch{Gateway: "g", Received: now, Entries: es})
	seen := map[string]bool{}
	var before *Position
	pages := 0
	for {
		got, more, err := s.Entries(context.Background(), Query{Gateway: "g", Limit: 10, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range got {
			if seen[e.Path] {
				t.Fatalf("%s twice", e.Path)
			}
			seen[e.Path] = true
		}
		if !more {
			break
		}
		p := PositionOf(got[len(got)-1])
		before = &p
	}
	if len(seen) != 25 || pages != 3 {
		t.Fatalf("saw %d entries in %d pages", len(seen), pages)
	}
}

func TestRetentionByAgeAndCount(t *testing.T) {
	s, c := openTest(t, Options{MaxAge: time.Hour, MaxEntries: 10, RollupMaxAge: 48 * time.Hour})
	ctx := context.Background()
	batch := func(gw string, n int) xds.AccessLogBatch {
		now := c.now()
		b := xds.AccessLogBatch{Gateway: gw, Received: now}
		for i := range n {
			b.Entries = append(b.Entries, entry(now.Add(time.Duration(i)*time.Microsecond), "rule/r/0", 200, time.Millisecond, "h", "/"+strconv.Itoa(i)))
		}
		return b
	}
	count := func(gw string) int {
		got, _, err := s.Entries(ctx, Query{Gateway: gw, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	// Over the count: the oldest go, per gateway.
	offer(t, s, batch("a", 7))
	c.advance(time.Second)
	offer(t, s, batch("a", 7))
	offer(t, s, batch("b", 3))
	if count("a") != 10 || count("b") != 3 {
		t.Fatalf("a %d, b %d entries; want 10 and 3", count("a"), count("b"))
	}
	got, _, _ := s.Entries(ctx, Query{Gateway: "a", Limit: 1000})
	if oldest := got[len(got)-1]; oldest.Path != "/4" {
		t.Fatalf("oldest kept is %s, want /4 of the first batch", oldest.Path)
	}

	// Past the age: gone at the next retention pass, rollups stay.
	c.advance(61 * time.Minute)
	offer(t, s, batch("b", 1))
	if err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if count("a") != 0 || count("b") != 1 {
		t.Fatalf("after an hour: a %d, b %d entries; want 0 and 1", count("a"), count("b"))
	}
	tr, err := s.Traffic(ctx, "a", c.now().Add(-24*time.Hour))
	if err != nil || len(tr) != 1 || tr[0].Requests != 14 {
		t.Fatalf("rollups of a after an hour = %+v, %v; want 14 requests", tr, err)
	}
	// The count bound still holds after deletions: 10 more fit in a.
	offer(t, s, batch("a", 10))
	if count("a") != 10 {
		t.Fatalf("a has %d entries, want 10", count("a"))
	}

	// Rollups past their age go too.
	c.advance(49 * time.Hour)
	if err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	tr, err = s.Traffic(ctx, "a", time.Time{})
	if err != nil || len(tr) != 0 {
		t.Fatalf("rollups after 50 hours = %+v, %v; want none", tr, err)
	}
}

// TestCountsSurviveReopen: the per-gateway counts the bound uses are
// read back from the file.
func TestCountsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accesslog.db")
	now := time.Now()
	s, err := Open(context.Background(), path, Options{MaxEntries: 5})
	if err != nil {
		t.Fatal(err)
	}
	b := xds.AccessLogBatch{Gateway: "g", Received: now}
	for i := range 4 {
		b.Entries = append(b.Entries, entry(now.Add(time.Duration(i)*time.Millisecond), "rule/r/0", 200, time.Millisecond, "h", "/"+strconv.Itoa(i)))
	}
	offer(t, s, b)
	s.Close()
	s, err = Open(context.Background(), path, Options{MaxEntries: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	offer(t, s, b)
	got, _, err := s.Entries(context.Background(), Query{Gateway: "g", Limit: 100})
	if err != nil || len(got) != 5 {
		t.Fatalf("%d entries after reopening, want 5 (%v)", len(got), err)
	}
}

func TestTrafficRollups(t *testing.T) {
	s, c := openTest(t, Options{})
	ctx := context.Background()
	now := c.now()
	var es []*accesslogdata.HTTPAccessLogEntry
	// Rule "api": 100 requests, 1..100 ms, the slowest ten failing;
	// spread over two minutes so rollups are merged across minutes.
	for i := 1; i <= 100; i++ {
		status := 200
		if i > 90 {
			status = 502
		}
		es = append(es, entry(now.Add(-time.Duration(i)*time.Second), "rule/api/"+strconv.Itoa(i%3), status, time.Duration(i)*time.Millisecond, "h", "/"))
	}
	es = append(es, entry(now, "", 404, time.Millisecond, "h", "/x"), entry(now, "default", 404, time.Millisecond, "h", "/y"))
	// Two batches: the second merges into stored rollup rows.
	offer(t, s, xds.AccessLogBatch{Gateway: "g", Received: now, Entries: es[:50]})
	offer(t, s, xds.AccessLogBatch{Gateway: "g", Received: now, Entries: es[50:]})
	tr, err := s.Traffic(ctx, "g", now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 2 || tr[0].Rule != "api" || tr[1].Rule != "" {
		t.Fatalf("traffic = %+v", tr)
	}
	api := tr[0]
	if api.Requests != 100 || api.Status["2xx"] != 90 || api.Status["5xx"] != 10 || api.ErrorRate != 0.1 {
		t.Fatalf("api = %+v", api)
	}
	// Percentiles within one bucket (20%) above the true value.
	for _, p := range []struct {
		got, want float64
	}{{api.P50Ms, 50}, {api.P90Ms, 90}, {api.P99Ms, 99}} {
		if p.got < p.want || p.got > p.want*1.2 {
			t.Errorf("percentile %v ms, want within [%v, %v]", p.got, p.want, p.want*1.2)
		}
	}
	if tr[1].Requests != 2 || tr[1].Status["4xx"] != 2 {
		t.Fatalf("unmatched = %+v", tr[1])
	}
	// A window that starts after the traffic sees none.
	if tr, _ := s.Traffic(ctx, "g", now.Add(2*time.Minute)); len(tr) != 0 {
		t.Fatalf("later window = %+v", tr)
	}
}

func TestOfferDropsWhenFull(t *testing.T) {
	s, c := openTest(t, Options{MaxQueued: 3, MaxQueuedBytes: 1000})
	now := c.now()
	big := xds.AccessLogBatch{Gateway: "g", Received: now}
	for range 4 {
		big.Entries = append(big.Entries, entry(now, "rule/r/0", 200, time.Millisecond, "h", "/"))
	}
	if s.Offer(big) {
		t.Fatal("a batch over the queue bound was taken")
	}
	if s.Offer(xds.AccessLogBatch{Gateway: "g", Received: now, Entries: big.Entries[:1], Bytes: 1001}) {
		t.Fatal("a batch over the byte bound was taken")
	}
	small := xds.AccessLogBatch{Gateway: "g", Received: now, Entries: big.Entries[:3], Bytes: 1000}
	offer(t, s, small)
	// Written, the batch no longer counts: another fits.
	offer(t, s, small)
	got, _, _ := s.Entries(context.Background(), Query{Gateway: "g", Limit: 10})
	if len(got) != 6 {
		t.Fatalf("%d entries stored, want 6", len(got))
	}
	if d := testutil.ToFloat64(s.Metrics().dropped); d != 5 {
		t.Fatalf("dropped = %v, want 5", d)
	}
	s.Close()
	if s.Offer(small) {
		t.Fatal("a closed store took a batch")
	}
}

func TestHistogram(t *testing.T) {
	for _, d := range []time.Duration{0, time.Microsecond, histBase, histBase + 1, time.Millisecond, 37 * time.Millisecond, time.Second, time.Hour} {
		i := bucketOf(d)
		if d > histBounds[i] && i != histBuckets-1 {
			t.Errorf("%v in bucket %d up to %v", d, i, histBounds[i])
		}
		if i > 0 && d <= histBounds[i-1] {
			t.Errorf("%v in bucket %d, fits in %d", d, i, i-1)
		}
	}
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	back, err := decodeHistogram(h.encode())
	if err != nil || back != h {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := decodeHistogram([]byte{200, 1}); err == nil {
		t.Fatal("a bucket index out of range decoded")
	}
	if q := h.quantile(0.5); q < 500*time.Millisecond || q > 600*time.Millisecond {
		t.Fatalf("p50 = %v", q)
	}
}
