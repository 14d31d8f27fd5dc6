package accesslog

import (
	"context"
	"testing"
	"time"

	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"

	"github.com/routedeck/routedeck/backend/xds"
)

// TestWindowIsExact stores requests across three minutes and sums
// windows that start and end inside minutes, on minute boundaries and
// within one minute: each must count exactly the requests it covers,
// whichever of rollups and entries answers it.
func TestWindowIsExact(t *testing.T) {
	s, c := openTest(t, Options{})
	t0 := c.now() // 12:00:00, a minute boundary
	var es []*accesslogdata.HTTPAccessLogEntry
	// One request every 10 seconds from 12:00:05 to 12:02:55: 18 in all;
	// every third answers 503 and takes 200ms, the others 200 in 10ms.
	for i := range 18 {
		at := t0.Add(5*time.Second + time.Duration(i)*10*time.Second)
		status, dur := 200, 10*time.Millisecond
		if i%3 == 0 {
			status, dur = 503, 200*time.Millisecond
		}
		route := "rule/shop/0"
		if i%2 == 1 {
			route = "rule/blog/0"
		}
		es = append(es, entry(at, route, status, dur, "shop.example.com", "/"))
	}
	offer(t, s, xds.AccessLogBatch{Gateway: "public", Node: "n", Received: t0.Add(3 * time.Minute), Entries: es})
	// A request of another gateway never counts.
	offer(t, s, xds.AccessLogBatch{Gateway: "other", Node: "n", Received: t0, Entries: []*accesslogdata.HTTPAccessLogEntry{
		entry(t0.Add(30*time.Second), "rule/shop/0", 500, time.Second, "a", "/")}})

	// count is the expected requests (and 5xx) in [from, to) seconds
	// after t0 for rule ("" every rule).
	count := func(from, to float64, rule string) (n, errs uint64) {
		for i := range 18 {
			at := 5 + float64(i)*10
			r := "shop"
			if i%2 == 1 {
				r = "blog"
			}
			if at >= from && at < to && (rule == "" || rule == r) {
				n++
				if i%3 == 0 {
					errs++
				}
			}
		}
		return n, errs
	}
	tests := map[string]struct {
		from, to float64
		rule     string
	}{
		"whole minutes":            {0, 120, ""},
		"partial at both ends":     {25, 155, ""},
		"partial start":            {35, 180, ""},
		"partial end":              {60, 142, ""},
		"inside one minute":        {62, 88, ""},
		"one rule, partial ends":   {12, 170, "shop"},
		"other rule, whole":        {0, 180, "blog"},
		"empty":                    {181, 240, ""},
		"edge is inclusive start":  {65, 66, ""},
		"edge is exclusive at end": {64, 65, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			since := t0.Add(time.Duration(tc.from * float64(time.Second)))
			until := t0.Add(time.Duration(tc.to * float64(time.Second)))
			w, err := s.Window(context.Background(), "public", tc.rule, since, until)
			if err != nil {
				t.Fatal(err)
			}
			n, errs := count(tc.from, tc.to, tc.rule)
			if w.Requests != n || w.Classes["5xx"] != errs || w.Classes["2xx"] != n-errs {
				t.Errorf("got %d requests (%v), want %d with %d 5xx", w.Requests, w.Classes, n, errs)
			}
			if n-errs > errs && (w.P50 < 10*time.Millisecond || w.P50 > 12*time.Millisecond) {
				t.Errorf("p50 = %s, want the bucket of 10ms", w.P50)
			}
			if errs > 0 && (w.P99 < 200*time.Millisecond || w.P99 > 240*time.Millisecond) {
				t.Errorf("p99 = %s, want the bucket of 200ms", w.P99)
			}
		})
	}
}
