package alert_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
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

// fixedSource answers every window with the traffic the test sets: the
// unit under test is the state machine, not the request log.
type fixedSource struct {
	mu    sync.Mutex
	stats alert.Stats
	err   error
	// asked records the windows asked for.
	asked [][2]time.Time
}

func (f *fixedSource) set(s alert.Stats) { f.mu.Lock(); f.stats = s; f.mu.Unlock() }

func (f *fixedSource) Window(_ context.Context, _, _ string, since, until time.Time) (alert.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, [2]time.Time{since, until})
	return f.stats, f.err
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st := storetest.MustOpen(t)
	gw := &model.Gateway{Meta: model.Meta{Name: "public"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: "HTTP"}}}
	if err := st.Create(context.Background(), "test", gw); err != nil {
		t.Fatal(err)
	}
	return st
}

func traffic(requests, errors uint64) alert.Stats {
	return alert.Stats{Requests: requests, Classes: map[string]uint64{"2xx": requests - errors, "5xx": errors},
		P50: 10 * time.Millisecond, P90: 20 * time.Millisecond, P99: 30 * time.Millisecond}
}

// TestEvaluatorStates runs rules through sequences of rounds, each after
// a step of the injected clock with the traffic of its window, and checks
// the state after each round and the incidents recorded at the end.
func TestEvaluatorStates(t *testing.T) {
	errorRate := alert.Rule{Name: "errors", Gateway: "public", Metric: alert.MetricErrorRate, StatusClass: "5xx", Op: ">",
		Threshold: 5, Window: model.Duration(5 * time.Minute)}
	withFor := errorRate
	withFor.For = model.Duration(30 * time.Second)
	drop := alert.Rule{Name: "drop", Gateway: "public", Metric: alert.MetricRequests, Op: "<", Threshold: 10,
		Window: model.Duration(time.Minute)}
	type round struct {
		stats alert.Stats
		state string
	}
	tests := map[string]struct {
		rule   alert.Rule
		rounds []round
		// incidents is how many were recorded, open how many are open.
		incidents, open int
	}{
		"fires at the first breach and resolves": {errorRate, []round{
			{traffic(100, 1), alert.StateOK}, {traffic(100, 20), alert.StateFiring}, {traffic(100, 30), alert.StateFiring},
			{traffic(100, 2), alert.StateOK}}, 1, 0},
		"fires again after resolving": {errorRate, []round{
			{traffic(100, 20), alert.StateFiring}, {traffic(100, 0), alert.StateOK}, {traffic(100, 50), alert.StateFiring}}, 2, 1},
		"waits out its for": {withFor, []round{
			{traffic(100, 20), alert.StatePending}, {traffic(100, 20), alert.StatePending}, {traffic(100, 20), alert.StateFiring}}, 1, 1},
		"a pending breach that ends never fires": {withFor, []round{
			{traffic(100, 20), alert.StatePending}, {traffic(100, 1), alert.StateOK}, {traffic(100, 20), alert.StatePending}}, 0, 0},
		"no traffic is no data": {errorRate, []round{{alert.Stats{}, alert.StateNoData}, {traffic(100, 1), alert.StateOK}}, 0, 0},
		"no data resolves a firing rule": {errorRate, []round{
			{traffic(10, 10), alert.StateFiring}, {alert.Stats{}, alert.StateNoData}}, 1, 0},
		"a traffic drop to nothing fires": {drop, []round{
			{traffic(100, 0), alert.StateOK}, {alert.Stats{}, alert.StateFiring}, {traffic(50, 0), alert.StateOK}}, 1, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t)
			rule := tc.rule
			if err := st.CreateAlertRule(ctx, "test", &rule); err != nil {
				t.Fatal(err)
			}
			c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			src := &fixedSource{}
			e := alert.New(alert.Options{Store: st, Source: src, Now: c.now})
			defer e.Stop()
			for i, r := range tc.rounds {
				c.advance(15 * time.Second)
				src.set(r.stats)
				if err := e.Evaluate(ctx); err != nil {
					t.Fatal(err)
				}
				states := e.States()
				if len(states) != 1 || states[0].State != r.state {
					t.Fatalf("round %d: states %+v, want %s", i, states, r.state)
				}
			}
			all, err := st.Incidents(ctx, rule.Name, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			open, _ := st.OpenIncidents(ctx)
			if len(all) != tc.incidents || len(open) != tc.open {
				t.Errorf("%d incidents, %d open; want %d, %d", len(all), len(open), tc.incidents, tc.open)
			}
			last := src.asked[len(src.asked)-1]
			if got := last[1].Sub(last[0]); got != rule.Window.Std() || !last[1].Equal(c.now()) {
				t.Errorf("last window %v, want the %s before now", last, rule.Window)
			}
		})
	}
}

// TestEvaluatorKeepsFiringAcrossRestart: an evaluator started on a store
// with an open incident reads the rule as firing and neither records nor
// notifies it again; disabling the rule resolves it with a note.
func TestEvaluatorKeepsFiringAcrossRestart(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	rule := alert.Rule{Name: "errors", Gateway: "public", Metric: alert.MetricErrorRate, Op: ">", Threshold: 5,
		Window: model.Duration(time.Minute)}
	rule.Normalize()
	if err := st.CreateAlertRule(ctx, "test", &rule); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	src := &fixedSource{stats: traffic(10, 5)}
	first := alert.New(alert.Options{Store: st, Source: src, Now: c.now})
	if err := first.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	first.Stop()
	c.advance(time.Minute)
	second := alert.New(alert.Options{Store: st, Source: src, Now: c.now})
	defer second.Stop()
	if err := second.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	s := second.States()[0]
	if s.State != alert.StateFiring || !s.Since.Equal(c.now().Add(-time.Minute)) {
		t.Errorf("after a restart: %+v, want firing since the first evaluation", s)
	}
	if all, _ := st.Incidents(ctx, "", 0, 10); len(all) != 1 {
		t.Errorf("%d incidents, want 1", len(all))
	}
	// The request log failing keeps the state and says why.
	src.err = context.DeadlineExceeded
	if err := second.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	if s := second.States()[0]; s.State != alert.StateFiring || s.Error == "" {
		t.Errorf("with the request log failing: %+v", s)
	}
	src.err = nil
	rule.Disabled = true
	if err := st.UpdateAlertRule(ctx, "test", &rule); err != nil {
		t.Fatal(err)
	}
	second.Reload()
	if err := second.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	if s := second.States()[0]; s.State != alert.StateDisabled {
		t.Errorf("disabled: %+v", s)
	}
	all, _ := st.Incidents(ctx, "", 0, 10)
	if len(all) != 1 || all[0].ResolvedAt == nil || all[0].Note == "" {
		t.Errorf("incidents after disabling: %+v", all)
	}
}
