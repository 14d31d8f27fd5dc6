package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/ruleset"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/bench/workload"
	sreplay "github.com/routedeck/routedeck/sandbox/replay"
)

// benchReplay replays captured requests of a 1,000-route gateway (the
// comparison corpus, published as version 1) against its edited draft
// (workload.ReplayDraft), as POST /gateways/{name}/replay does: the
// requests read from the request log store, where they were stored as
// a proxy's access log entries, then run through the reference
// evaluator alone, and through the evaluator and the simulated Envoy.
func benchReplay(ctx context.Context, sc sizes) ([]Figure, error) {
	dir, err := os.MkdirTemp("", "routedeck-bench-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := app.OpenStore(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	gw := workload.Gateway
	if _, err := st.Apply(ctx, "bench", workload.Corpus(sc.replayRoutes)); err != nil {
		return nil, err
	}
	if _, err := st.Publish(ctx, "bench", gw, "replay bench"); err != nil {
		return nil, err
	}
	draft := workload.ReplayDraft(sc.replayRoutes)
	if _, err := st.Apply(ctx, "bench", draft); err != nil {
		return nil, err
	}
	kept := map[string]bool{}
	for _, r := range draft.Routes {
		kept[r.Name] = true
	}
	for _, r := range workload.Corpus(sc.replayRoutes).Routes {
		if !kept[r.Name] {
			if err := st.Delete(ctx, "bench", model.KindRoute, r.Name, 0); err != nil {
				return nil, fmt.Errorf("delete %s: %w", r.Name, err)
			}
		}
	}
	al, err := accesslog.Open(ctx, filepath.Join(dir, "accesslog.db"), accesslog.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer al.Close()
	if err := capture(ctx, al, gw, workload.ReplayTraffic(sc.replayRoutes, sc.replayRequests, 1)); err != nil {
		return nil, err
	}

	e := &sreplay.Engine{Versions: ruleset.NewLoader(ruleset.FromStore(st), 0), Log: al, Timeout: 10 * time.Minute}
	type run struct {
		rep     replay.Report
		seconds float64
		cpu     float64
	}
	replayOnce := func(evaluatorOnly bool) (run, error) {
		cpuBefore, start := cpuTime(), time.Now()
		rep, err := e.Replay(ctx, gw, replay.Request{Source: replay.Source{Since: "2h"}, EvaluatorOnly: evaluatorOnly})
		if err != nil {
			return run{}, err
		}
		r := run{rep: rep, seconds: time.Since(start).Seconds(), cpu: (cpuTime() - cpuBefore).Seconds()}
		if rep.Total != sc.replayRequests {
			return r, fmt.Errorf("replayed %d of %d captured requests", rep.Total, sc.replayRequests)
		}
		return r, nil
	}
	ev, err := replayOnce(true)
	if err != nil {
		return nil, err
	}
	both, err := replayOnce(false)
	if err != nil {
		return nil, err
	}
	if both.rep.Fidelity.Requests != 0 {
		return nil, fmt.Errorf("%d fidelity alarms: %+v", both.rep.Fidelity.Requests, both.rep.Fidelity.Alarms[0])
	}
	detail := func(r run) map[string]any {
		return map[string]any{"requests": r.rep.Total, "changed": r.rep.Changed, "groups": len(r.rep.Groups), "seconds": round(r.seconds, 2),
			"cpuSeconds": round(r.cpu, 2), "requestsPerCPUSecond": round(float64(r.rep.Total)/r.cpu, 0), "routes": sc.replayRoutes}
	}
	return []Figure{
		{
			Name: "replay.evaluator",
			Description: fmt.Sprintf("%d captured requests read from the request log and replayed against two versions of a %d-route gateway through the reference evaluator",
				sc.replayRequests, sc.replayRoutes),
			Value: round(ev.seconds, 2), Unit: "s", Target: 10, Detail: detail(ev),
		},
		{
			Name: "replay.sim.throughput",
			Description: fmt.Sprintf("captured requests replayed per second against two versions of a %d-route gateway through the reference evaluator and the simulated Envoy (%d requests, reading included)",
				sc.replayRoutes, sc.replayRequests),
			Value: round(float64(both.rep.Total)/both.seconds, 0), Unit: "req/s", Target: 2000, AtLeast: true, Detail: detail(both),
		},
	}, nil
}

// capture stores traffic as a proxy's access log entries of gateway, as
// the access log service hands them to the store, over the last hour.
func capture(ctx context.Context, al *accesslog.Store, gateway string, traffic []workload.Request) error {
	now := time.Now()
	const batch = 1000
	for lo := 0; lo < len(traffic); lo += batch {
		b := xds.AccessLogBatch{Gateway: gateway, Node: "bench-1", Received: now}
		for i := lo; i < min(lo+batch, len(traffic)); i++ {
			q := traffic[i]
			method := corev3.RequestMethod_GET
			if q.Method == "POST" {
				method = corev3.RequestMethod_POST
			}
			pe := &accesslogdata.HTTPAccessLogEntry{
				CommonProperties: &accesslogdata.AccessLogCommon{
					StartTime: timestamppb.New(now.Add(-time.Hour + time.Duration(i)*time.Hour/time.Duration(len(traffic)))),
				},
				Request:  &accesslogdata.HTTPRequestProperties{RequestMethod: method, Scheme: "http", Authority: q.Host, Path: q.Path, RequestHeaders: q.Headers},
				Response: &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(200)},
			}
			b.Entries = append(b.Entries, pe)
		}
		for !al.Offer(b) {
			// The store's queue is full: let it write.
			if err := al.Flush(ctx); err != nil {
				return err
			}
		}
	}
	return al.Flush(ctx)
}
