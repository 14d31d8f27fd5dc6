package alert

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/events"
)

// Store keeps rules, notifiers and incidents (backend/store implements
// it).
type Store interface {
	AlertRules(ctx context.Context) ([]Rule, error)
	// AlertNotifiers returns the notifiers with their credentials open.
	AlertNotifiers(ctx context.Context) ([]Notifier, error)
	OpenIncidents(ctx context.Context) ([]Incident, error)
	// StartIncident records that rule fired; it fails if the rule has an
	// open incident or no longer exists.
	StartIncident(ctx context.Context, rule string, at time.Time, value float64, summary string) (int64, error)
	ResolveIncident(ctx context.Context, id int64, at time.Time, value *float64, note string) error
	RecordDelivery(ctx context.Context, incident int64, d Delivery) error
}

// Options configure an Evaluator. Store and Source are required.
type Options struct {
	Store  Store
	Source Source
	// Interval is the time between evaluation rounds: DefaultInterval,
	// and never more.
	Interval time.Duration
	// Now is the clock (tests inject one).
	Now    func() time.Time
	Logger *slog.Logger
	// Changes tells the evaluator that rules or notifiers were written,
	// so it reloads them and evaluates at once instead of at the next
	// round. Events counts its runner's work.
	Changes *events.Subscription[events.AlertsChanged]
	Events  *events.Metrics
	// Delivery bounds the attempts of each notification.
	Delivery DeliveryOptions
	// ExternalURL is where people reach the dashboard, for the links in
	// notifications; empty leaves them out.
	ExternalURL string
}

// Evaluator evaluates every rule each round, keeps their state, records
// incidents and hands notifications to one queue per notifier.
type Evaluator struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	send    *sender
	// kick asks the loop for a round now (rules or notifiers changed).
	kick chan struct{}

	// Owned by the loop (and by Evaluate's callers, which tests
	// serialise): the rules as last loaded and whether to reload.
	rules  []Rule
	loaded bool
	dirty  chan struct{}

	mu        sync.Mutex
	states    map[string]*ruleState
	notifiers map[string]Notifier
	queues    map[string]*queue

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type ruleState struct {
	state        string
	since        time.Time
	pendingSince time.Time
	value        *float64
	requests     uint64
	evaluatedAt  time.Time
	incident     Incident
	err          string
}

// New returns an evaluator; Start runs it.
func New(opts Options) *Evaluator {
	if opts.Interval <= 0 || opts.Interval > DefaultInterval {
		opts.Interval = DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Evaluator{opts: opts, log: opts.Logger, metrics: NewMetrics(), send: newSender(opts.Delivery, opts.ExternalURL, opts.Now),
		kick: make(chan struct{}, 1), dirty: make(chan struct{}, 1), states: map[string]*ruleState{},
		notifiers: map[string]Notifier{}, queues: map[string]*queue{}, ctx: ctx, cancel: cancel}
}

// Metrics returns the evaluator's Prometheus collectors.
func (e *Evaluator) Metrics() *Metrics { return e.metrics }

// Start runs the evaluation loop (and the change runner) until Stop.
func (e *Evaluator) Start() {
	if e.opts.Changes != nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			events.Run(e.ctx, e.opts.Events, e.log, "alerts", e.opts.Changes, func(context.Context, []events.AlertsChanged, int) {
				e.Reload()
			})
		}()
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(e.opts.Interval)
		defer t.Stop()
		for {
			e.round()
			select {
			case <-e.ctx.Done():
				return
			case <-t.C:
			case <-e.kick:
			}
		}
	}()
}

// Stop ends the loop and the notification queues; notifications still
// being tried give up.
func (e *Evaluator) Stop() {
	e.cancel()
	if e.opts.Changes != nil {
		e.opts.Changes.Close()
	}
	e.wg.Wait()
}

// Reload makes the next round read rules and notifiers again, and runs
// it now.
func (e *Evaluator) Reload() {
	select {
	case e.dirty <- struct{}{}:
	default:
	}
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// round is Evaluate with a panic recovered and counted: one bad rule
// must not stop alerting.
func (e *Evaluator) round() {
	defer func() {
		if r := recover(); r != nil {
			e.metrics.evalFailures.Inc()
			e.log.Error("alerts: evaluation panicked", "panic", fmt.Sprint(r))
		}
	}()
	if err := e.Evaluate(e.ctx); err != nil && e.ctx.Err() == nil {
		e.log.Error("alerts: evaluation failed", "err", err)
	}
}

// Evaluate runs one round: (re)load what changed, measure every enabled
// rule's window ending now, move each rule's state, and queue the
// notifications of the rules that fired or resolved. Rounds must not
// overlap; the loop runs them one at a time.
func (e *Evaluator) Evaluate(ctx context.Context) error {
	start := time.Now()
	defer func() { e.metrics.evalDuration.Observe(time.Since(start).Seconds()) }()
	select {
	case <-e.dirty:
		e.loaded = false
	default:
	}
	if !e.loaded {
		if err := e.load(ctx); err != nil {
			return err
		}
	}
	now := e.opts.Now()
	for _, r := range e.rules {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.evaluate(ctx, r, now)
	}
	e.countFiring()
	return nil
}

// countFiring sets the firing gauge; it runs before a state change is
// notified, so whoever hears of it finds the gauge agreeing.
func (e *Evaluator) countFiring() {
	e.mu.Lock()
	firing := 0
	for _, st := range e.states {
		if st.state == StateFiring {
			firing++
		}
	}
	e.mu.Unlock()
	e.metrics.firing.Set(float64(firing))
}

// load reads rules, notifiers and open incidents. A rule that vanished
// takes its state with it (the store removed its incidents); a disabled
// rule's open incident is resolved.
func (e *Evaluator) load(ctx context.Context) error {
	rules, err := e.opts.Store.AlertRules(ctx)
	if err != nil {
		return fmt.Errorf("load alert rules: %w", err)
	}
	ns, err := e.opts.Store.AlertNotifiers(ctx)
	if err != nil {
		return fmt.Errorf("load notifiers: %w", err)
	}
	open, err := e.opts.Store.OpenIncidents(ctx)
	if err != nil {
		return fmt.Errorf("load open incidents: %w", err)
	}
	openBy := map[string]Incident{}
	for _, in := range open {
		openBy[in.Rule] = in
	}
	now := e.opts.Now()
	e.mu.Lock()
	e.notifiers = map[string]Notifier{}
	for _, n := range ns {
		e.notifiers[n.Name] = n
	}
	e.dropQueues()
	byName := map[string]bool{}
	for _, r := range rules {
		byName[r.Name] = true
	}
	for name := range e.states {
		if !byName[name] {
			delete(e.states, name)
		}
	}
	var resolve []Rule
	for _, r := range rules {
		st := e.states[r.Name]
		if st == nil {
			st = &ruleState{state: StateUnknown}
			e.states[r.Name] = st
		}
		in, isOpen := openBy[r.Name]
		switch {
		case isOpen && r.Disabled:
			st.incident = in
			resolve = append(resolve, r)
		case isOpen:
			// Firing: so it was when the server stopped, or so this
			// process found it.
			if st.state != StateFiring {
				st.state, st.since = StateFiring, in.StartedAt
			}
			st.incident = in
		case r.Disabled:
			*st = ruleState{state: StateDisabled, since: now}
		case st.state == StateFiring:
			// Its incident is gone from the store: start over.
			*st = ruleState{state: StateUnknown}
		}
	}
	e.mu.Unlock()
	e.rules = rules
	e.loaded = true
	for _, r := range resolve {
		e.resolve(ctx, r, now, nil, "the rule was disabled", StateDisabled)
	}
	return nil
}

func (e *Evaluator) evaluate(ctx context.Context, r Rule, now time.Time) {
	if r.Disabled {
		return
	}
	stats, err := e.opts.Source.Window(ctx, r.Gateway, r.Rule, now.Add(-r.Window.Std()), now)
	e.metrics.evaluations.Inc()
	e.mu.Lock()
	st := e.states[r.Name]
	st.evaluatedAt = now
	if err != nil {
		// The state stays: a request log that cannot answer says
		// nothing about the traffic.
		st.err = "reading the request log failed"
		e.mu.Unlock()
		e.metrics.evalFailures.Inc()
		e.log.Warn("alerts: reading the request log failed", "alert_rule", r.Name, "err", err)
		return
	}
	st.err = ""
	st.requests = stats.Requests
	v, ok := r.Measure(stats)
	st.value = nil
	if ok {
		st.value = &v
	}
	breached := ok && r.Breached(v)
	state := st.state
	pendingSince := st.pendingSince
	e.mu.Unlock()

	switch {
	case breached && state == StateFiring:
	case breached && (r.For.Std() <= 0 || state == StatePending && now.Sub(pendingSince) >= r.For.Std()):
		e.fire(ctx, r, now, v)
	case breached:
		e.mu.Lock()
		if st.state != StatePending {
			st.state, st.since, st.pendingSince = StatePending, now, now
		}
		e.mu.Unlock()
	case state == StateFiring:
		var val *float64
		if ok {
			val = &v
		}
		next := StateOK
		if !ok {
			next = StateNoData
		}
		e.resolve(ctx, r, now, val, "", next)
	default:
		next := StateOK
		if !ok {
			next = StateNoData
		}
		e.mu.Lock()
		if st.state != next {
			st.state, st.since = next, now
		}
		e.mu.Unlock()
	}
}

func (e *Evaluator) fire(ctx context.Context, r Rule, now time.Time, v float64) {
	summary := r.Summary(v)
	id, err := e.opts.Store.StartIncident(ctx, r.Name, now, v, summary)
	if err != nil {
		e.metrics.evalFailures.Inc()
		e.log.Error("alerts: recording a firing failed", "alert_rule", r.Name, "err", err)
		return
	}
	in := Incident{ID: id, Rule: r.Name, Summary: summary, StartedAt: now, Value: v}
	e.mu.Lock()
	st := e.states[r.Name]
	st.state, st.since, st.incident = StateFiring, now, in
	e.mu.Unlock()
	e.countFiring()
	e.log.Info("alert firing", "alert_rule", r.Name, "summary", summary, "incident", id)
	e.notify(&notice{event: EventFiring, rule: r, incident: in, value: &v})
}

// resolve ends the rule's open incident and moves it to next.
func (e *Evaluator) resolve(ctx context.Context, r Rule, now time.Time, v *float64, note, next string) {
	e.mu.Lock()
	in := e.states[r.Name].incident
	e.mu.Unlock()
	if err := e.opts.Store.ResolveIncident(ctx, in.ID, now, v, note); err != nil {
		e.metrics.evalFailures.Inc()
		e.log.Error("alerts: recording a resolution failed", "alert_rule", r.Name, "err", err)
		return
	}
	in.ResolvedAt, in.ResolvedValue, in.Note = &now, v, note
	if v != nil {
		in.Summary = r.Summary(*v)
	}
	e.mu.Lock()
	st := e.states[r.Name]
	st.state, st.since, st.incident, st.pendingSince = next, now, Incident{}, time.Time{}
	e.mu.Unlock()
	e.countFiring()
	e.log.Info("alert resolved", "alert_rule", r.Name, "incident", in.ID, "note", note)
	e.notify(&notice{event: EventResolved, rule: r, incident: in, value: v})
}

// States returns every rule's state, by rule name.
func (e *Evaluator) States() []State {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]State, 0, len(e.states))
	for name, st := range e.states {
		s := State{Rule: name, State: st.state, Value: st.value, Requests: st.requests, Error: st.err, Incident: st.incident.ID}
		if !st.since.IsZero() {
			t := st.since.UTC()
			s.Since = &t
		}
		if !st.evaluatedAt.IsZero() {
			t := st.evaluatedAt.UTC()
			s.EvaluatedAt = &t
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b State) int {
		switch {
		case a.Rule < b.Rule:
			return -1
		case a.Rule > b.Rule:
			return 1
		}
		return 0
	})
	return out
}

// Test sends a test notification to n now (one attempt, whatever the
// retry policy) and reports how it went. Nothing is recorded.
func (e *Evaluator) Test(ctx context.Context, n Notifier) Delivery {
	now := e.opts.Now()
	rule := Rule{Name: "routedeck-test", Gateway: "example", Metric: MetricErrorRate, StatusClass: "5xx", Op: ">", Threshold: 5,
		Window: 300_000_000_000}
	v := 12.5
	in := Incident{Summary: "test notification: " + rule.Summary(v), StartedAt: now, Value: v}
	one := *e.send
	one.opts.Attempts = 1
	d := one.deliver(ctx, &n, &notice{event: EventTest, rule: rule, incident: in, value: &v})
	e.metrics.delivered(n.Type, d.OK)
	return d
}
