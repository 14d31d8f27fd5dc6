// Package querybench measures the request log's queries as the API runs
// them (accesslog.Store.List for a listing and its pages, Store.Since
// for a follower) on a store filled the way proxies fill it: every filter
// shape the API and the dashboard offer, one at a time and combined.
package querybench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/accesslog/alsload"
	"github.com/routedeck/routedeck/backend/xds"
)

// Gateway is the gateway the entries are stored for.
const Gateway = "public"

// Fill offers n entries to store through Offer, as the access log
// service does, spread evenly over the day before now, oldest first: 20
// rules, 50 hosts (host0.example.com ...), paths /products/0 to
// /products/99; one in ten answered 404, one in fifty 503, the rest 200.
// It returns once all are written.
func Fill(ctx context.Context, store *accesslog.Store, n int, now time.Time) error {
	const per = 100
	for sent := 0; sent < n; {
		batch := alsload.Entries(per, 20)
		var last time.Time
		for i, e := range batch {
			k := sent + i
			last = now.Add(-24 * time.Hour * time.Duration(n-k) / time.Duration(n))
			e.CommonProperties.StartTime = timestamppb.New(last)
			e.Request.Authority = "host" + strconv.Itoa(k%50) + ".example.com"
			status := uint32(200)
			switch {
			case k%10 == 0:
				status = 404
			case k%50 == 1:
				status = 503
			}
			e.Response.ResponseCode = wrapperspb.UInt32(status)
		}
		// Received when sent: the store keeps a proxy's start times
		// only within an hour of arrival.
		if store.Offer(xds.AccessLogBatch{Gateway: Gateway, Node: "n", Received: last, Entries: batch, Bytes: 20000}) {
			sent += per
			continue
		}
		if err := store.Flush(ctx); err != nil {
			return err
		}
	}
	return store.Flush(ctx)
}

// Shape is one kind of query.
type Shape struct {
	Name string
	run  func(ctx context.Context, s *accesslog.Store) error
}

// Run runs the shape once.
func (sh Shape) Run(ctx context.Context, s *accesslog.Store) error { return sh.run(ctx, s) }

// PageSize is the page the dashboard asks for after its first.
const PageSize = 100

func list(q accesslog.Query) func(context.Context, *accesslog.Store) error {
	return func(ctx context.Context, s *accesslog.Store) error {
		q.Gateway, q.Limit = Gateway, PageSize
		_, err := s.List(ctx, q)
		return err
	}
}

// Shapes are the queries measured, for a store Fill filled at now. The
// cursor shapes are pages deep into a listing (their cursors found
// first, outside the timing); the follow shapes are a follower resuming
// after an entry far back.
func Shapes(ctx context.Context, s *accesslog.Store, now time.Time) ([]Shape, error) {
	shapes := []Shape{
		{"all", list(accesslog.Query{})},
		{"rule", list(accesslog.Query{Rule: "r7"})},
		{"no rule", list(accesslog.Query{NoRule: true})},
		{"status 404", list(accesslog.Query{StatusMin: 404, StatusMax: 404})},
		{"status 5xx", list(accesslog.Query{StatusMin: 500, StatusMax: 599})},
		{"status 500-504", list(accesslog.Query{StatusMin: 500, StatusMax: 504})},
		{"status 400-599", list(accesslog.Query{StatusMin: 400, StatusMax: 599})},
		{"status 502 (none)", list(accesslog.Query{StatusMin: 502, StatusMax: 502})},
		{"host", list(accesslog.Query{Host: "host3.example.com"})},
		{"host (none)", list(accesslog.Query{Host: "nowhere.example.com"})},
		{"host + 404", list(accesslog.Query{Host: "host0.example.com", StatusMin: 404, StatusMax: 404})},
		{"host + 404 (none)", list(accesslog.Query{Host: "host3.example.com", StatusMin: 404, StatusMax: 404})},
		{"path prefix", list(accesslog.Query{PathPrefix: "/products/12"})},
		{"path prefix (none)", list(accesslog.Query{PathPrefix: "/orders/"})},
		{"rule + 5xx", list(accesslog.Query{Rule: "r1", StatusMin: 500, StatusMax: 599})},
		{"rule + 5xx (none)", list(accesslog.Query{Rule: "r7", StatusMin: 500, StatusMax: 599})},
		{"rule + host + path", list(accesslog.Query{Rule: "r3", Host: "host3.example.com", PathPrefix: "/products/"})},
		{"window 1h", list(accesslog.Query{Since: now.Add(-13 * time.Hour), Until: now.Add(-12 * time.Hour)})},
		{"rule + last 30m", list(accesslog.Query{Rule: "r3", Since: now.Add(-30 * time.Minute)})},
		{"404 + host + last 15m", list(accesslog.Query{Host: "host5.example.com", StatusMin: 404, StatusMax: 404, Since: now.Add(-15 * time.Minute)})},
		{"path (none) + last 1h", list(accesslog.Query{PathPrefix: "/orders/", Since: now.Add(-time.Hour)})},
	}
	// Pages deep into a listing: the cursor of the 10th page.
	for _, c := range []struct {
		name string
		q    accesslog.Query
	}{
		{"page 10", accesslog.Query{}},
		{"page 10 of 5xx", accesslog.Query{StatusMin: 500, StatusMax: 599}},
		{"page 10 of host + 404", accesslog.Query{Host: "host0.example.com", StatusMin: 404, StatusMax: 404}},
		{"page 10 of path prefix", accesslog.Query{PathPrefix: "/products/1"}},
	} {
		q := c.q
		q.Gateway, q.Limit = Gateway, PageSize
		for range 9 {
			p, err := s.List(ctx, q)
			if err != nil {
				return nil, err
			}
			if p.Next == nil {
				return nil, fmt.Errorf("%s: the listing ended before page 10", c.name)
			}
			q.Before = p.Next
		}
		shapes = append(shapes, Shape{c.name, func(ctx context.Context, s *accesslog.Store) error {
			_, err := s.List(ctx, q)
			return err
		}})
	}
	last, err := s.LastID(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		q    accesslog.Query
		back int64
	}{
		{"follow", accesslog.Query{}, 50},
		{"follow host + 404 from 500k back", accesslog.Query{Host: "host3.example.com", StatusMin: 404, StatusMax: 404}, 500_000},
		{"follow path (none) from 900k back", accesslog.Query{PathPrefix: "/orders/"}, 900_000},
	} {
		f.q.Gateway = Gateway
		shapes = append(shapes, Shape{f.name, func(ctx context.Context, s *accesslog.Store) error {
			_, err := s.Since(ctx, f.q, max(last-f.back, 0), 500)
			return err
		}})
	}
	return shapes, nil
}

// Result is what Measure found, in wall-clock time and in the CPU time
// of the thread that ran the query (the store runs a query on its
// caller's thread), which a busy machine does not inflate.
type Result struct {
	Queries        int
	P50, P99       time.Duration
	P50CPU, P99CPU time.Duration
	// Slowest is the shape of the slowest query, and Max its time.
	Slowest string
	Max     time.Duration
	// PerShape and PerShapeCPU are each shape's slowest time.
	PerShape, PerShapeCPU map[string]time.Duration
}

// Measure runs every shape in turn, rounds times, and times each query.
func Measure(ctx context.Context, s *accesslog.Store, shapes []Shape, rounds int) (Result, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := Result{PerShape: map[string]time.Duration{}, PerShapeCPU: map[string]time.Duration{}}
	var took, cpu []time.Duration
	for range rounds {
		for _, sh := range shapes {
			startCPU := threadCPU()
			start := time.Now()
			if err := sh.Run(ctx, s); err != nil {
				return Result{}, fmt.Errorf("%s: %w", sh.Name, err)
			}
			d := time.Since(start)
			c := threadCPU() - startCPU
			took, cpu = append(took, d), append(cpu, c)
			r.PerShape[sh.Name] = max(r.PerShape[sh.Name], d)
			r.PerShapeCPU[sh.Name] = max(r.PerShapeCPU[sh.Name], c)
			if d > r.Max {
				r.Max, r.Slowest = d, sh.Name
			}
		}
	}
	r.Queries = len(took)
	r.P50, r.P99 = percentiles(took)
	r.P50CPU, r.P99CPU = percentiles(cpu)
	return r, nil
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)/2], d[min(len(d)-1, len(d)*99/100)]
}

// threadCPU is the CPU time of the calling thread (RUSAGE_THREAD).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
