package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/bench/workload"
)

// evalRun is what one /evaluate load run measured.
type evalRun struct {
	routes     int
	requests   int
	seconds    float64
	perSecond  float64
	p50, p99   float64 // ms
	meanBytes  float64
	missShare  float64
	concurrent int
}

// benchEvaluate serves POST /api/v1/evaluate from the server routedeck
// serve runs (app.Service: the production handler, store and middleware,
// on a loopback HTTP listener) and drives it with concurrent keep-alive
// clients, over a 1,000-route gateway and over a 3-route one. The two
// are measured in alternating rounds, so a change in what else the
// machine runs weighs on both alike. The clients run in this process and
// share the cores with the server, as they did for the "before" figure.
func benchEvaluate(ctx context.Context, sc sizes) ([]Figure, error) {
	big, err := startEvaluate(ctx, sc.evalRoutes, sc)
	if err != nil {
		return nil, err
	}
	defer big.close()
	small, err := startEvaluate(ctx, 3, sc)
	if err != nil {
		return nil, err
	}
	defer small.close()
	for range sc.evalRounds {
		for _, t := range []*evalTarget{big, small} {
			if err := t.round(ctx, sc.evalDuration/time.Duration(sc.evalRounds)); err != nil {
				return nil, err
			}
		}
	}
	b, sm := big.result(), small.result()
	detail := func(r evalRun) map[string]any {
		return map[string]any{"requests": r.requests, "seconds": r.seconds, "p50Ms": r.p50, "p99Ms": r.p99,
			"meanResponseBytes": round(r.meanBytes, 0), "noMatchShare": r.missShare, "clients": r.concurrent, "rounds": sc.evalRounds}
	}
	ratio := 0.0
	if sm.p50 > 0 {
		ratio = round(b.p50/sm.p50, 2)
	}
	return []Figure{
		{
			Name: fmt.Sprintf("evaluate.%d.throughput", b.routes),
			Description: fmt.Sprintf("POST /evaluate over loopback, %d concurrent clients, %d-route gateway (target: 20x the 74/s measured before per-generation compilation)",
				b.concurrent, b.routes),
			Value: round(b.perSecond, 0), Unit: "req/s", Target: 20 * 74, AtLeast: true, Detail: detail(b),
		},
		{
			Name:        fmt.Sprintf("evaluate.%d.p50", b.routes),
			Description: fmt.Sprintf("median /evaluate latency, %d concurrent clients, %d-route gateway (target: twice the median at 3 routes, same run)", b.concurrent, b.routes),
			Value:       b.p50, Unit: "ms", Target: round(2*sm.p50, 3),
			Detail: map[string]any{"p99Ms": b.p99, "p50At3RoutesMs": sm.p50, "ratioTo3Routes": ratio},
		},
		{
			Name:        "evaluate.3.throughput",
			Description: fmt.Sprintf("POST /evaluate over loopback, %d concurrent clients, 3-route gateway (for comparison)", sm.concurrent),
			Value:       round(sm.perSecond, 0), Unit: "req/s", Target: 0, AtLeast: true, Detail: detail(sm),
		},
	}, nil
}

// evalTarget is one server with a gateway of a given size and the
// clients' measurements against it.
type evalTarget struct {
	routes, clients int
	svc             *app.Service
	dir, url, token string
	client          *http.Client
	bodies          [][]byte
	misses          int

	lat     []float64
	bytes   int
	elapsed time.Duration
}

// startEvaluate starts a server holding a routes-route gateway and sends
// it one request, so anything prepared on first use is measured warm, as
// it is in use.
func startEvaluate(ctx context.Context, routes int, sc sizes) (*evalTarget, error) {
	dir, err := os.MkdirTemp("", "routedeck-bench-eval-")
	if err != nil {
		return nil, err
	}
	t := &evalTarget{routes: routes, clients: sc.evalClients, dir: dir}
	t.svc = app.New(app.Config{DataDir: dir, Listen: "127.0.0.1:0", NoDemo: true, Notices: io.Discard})
	if err := t.svc.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	hosts := min(routes, 100)
	if _, err := t.svc.Store().Apply(ctx, "bench", workload.Workspace(routes, hosts, hosts)); err != nil {
		t.close()
		return nil, fmt.Errorf("load %d routes: %w", routes, err)
	}
	tok, hash, err := auth.NewToken()
	if err == nil {
		err = t.svc.Store().CreateToken(ctx, "bench", &store.Token{Name: "bench", Role: auth.RoleViewer, Hash: hash})
	}
	if err != nil {
		t.close()
		return nil, err
	}
	t.token = tok
	t.bodies, t.misses = evaluateBodies(routes, hosts)
	t.url = "http://" + t.svc.Addr().String() + "/api/v1/evaluate"
	t.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: sc.evalClients, MaxConnsPerHost: sc.evalClients}}
	if _, err := t.post(ctx, t.bodies[0]); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *evalTarget) close() {
	if t.client != nil {
		t.client.CloseIdleConnections()
	}
	_ = t.svc.Stop()
	os.RemoveAll(t.dir)
}

func (t *evalTarget) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("evaluate: status %d", resp.StatusCode)
	}
	return int(n), nil
}

// round runs the clients for d and keeps what they measured. A request
// still running at the deadline finishes and counts.
func (t *evalTarget) round(ctx context.Context, d time.Duration) error {
	type result struct {
		lat   []float64
		bytes int
		err   error
	}
	results := make([]result, t.clients)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for c := range t.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[c]
			for i := c + len(t.lat); time.Now().Before(deadline); i++ {
				t0 := time.Now()
				n, err := t.post(ctx, t.bodies[i%len(t.bodies)])
				if err != nil {
					r.err = err
					return
				}
				r.lat = append(r.lat, float64(time.Since(t0).Microseconds())/1000)
				r.bytes += n
			}
		}()
	}
	wg.Wait()
	t.elapsed += time.Since(start)
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
		t.lat = append(t.lat, r.lat...)
		t.bytes += r.bytes
	}
	return nil
}

func (t *evalTarget) result() evalRun {
	lat := slices.Clone(t.lat)
	slices.Sort(lat)
	r := evalRun{routes: t.routes, requests: len(lat), seconds: round(t.elapsed.Seconds(), 2), concurrent: t.clients,
		missShare: round(float64(t.misses)/float64(len(t.bodies)), 3)}
	if len(lat) > 0 {
		r.perSecond = float64(len(lat)) / t.elapsed.Seconds()
		r.p50, r.p99 = round(lat[len(lat)/2], 3), round(lat[len(lat)*99/100], 3)
		r.meanBytes = float64(t.bytes) / float64(len(lat))
	}
	return r
}

// evaluateBodies are the request bodies the clients cycle through: each
// aims at a route chosen at random (so winners are spread over the whole
// evaluation order), and one in eight at a host no route has, which makes
// the evaluator try every rule.
func evaluateBodies(routes, hosts int) (bodies [][]byte, misses int) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 256 {
		url := ""
		if i%8 == 7 {
			url = fmt.Sprintf("http://nowhere.example.com/api/%d/x", i)
			misses++
		} else {
			r := rng.IntN(routes)
			url = fmt.Sprintf("http://h%d.example.com/api/%d/item?id=%d", r%hosts, r/hosts, i)
			if r%1000 == 999 {
				url = fmt.Sprintf("http://h0.example.com/global/%d/x", r)
			}
		}
		b, _ := json.Marshal(map[string]any{"gateway": workload.Gateway,
			"request": map[string]any{"method": "GET", "url": url, "headers": map[string]string{"accept": "application/json"}}})
		bodies = append(bodies, b)
	}
	return bodies, misses
}
