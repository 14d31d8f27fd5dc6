package events

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Metrics are the runners' Prometheus collectors, labelled by runner name.
type Metrics struct {
	handled  *prometheus.CounterVec
	lost     *prometheus.CounterVec
	panics   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics returns unregistered collectors; register them with
// Collectors().
func NewMetrics() *Metrics {
	return &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "events", Name: "handled_total",
			Help: "Change events handled, by runner.",
		}, []string{"runner"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "events", Name: "lost_total",
			Help: "Change events dropped because a runner's queue was full (it then rebuilds from the store), by runner.",
		}, []string{"runner"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "events", Name: "panics_recovered_total",
			Help: "Panics recovered while a runner handled change events, by runner.",
		}, []string{"runner"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "routedeck", Subsystem: "events", Name: "handle_duration_seconds",
			Help:    "Time a runner took to handle one batch of change events.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"runner"}),
	}
}

// Collectors returns every collector, for prometheus.Registerer.MustRegister.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.handled, m.lost, m.panics, m.duration}
}

// Panics is how many panics runner recovered from so far.
func (m *Metrics) Panics(runner string) float64 {
	return testutil.ToFloat64(m.panics.WithLabelValues(runner))
}

// Handled is how many events runner handled so far.
func (m *Metrics) Handled(runner string) float64 {
	return testutil.ToFloat64(m.handled.WithLabelValues(runner))
}

// Handler handles a batch of events in publication order. lost > 0 says
// that many earlier events were dropped: the handler must not rely on
// having seen every change and rebuilds what it keeps.
type Handler[T any] func(ctx context.Context, batch []T, lost int)

// Run hands sub's events to handle until ctx is done or sub is closed.
// A panic in handle is logged with its stack, counted, and the runner
// goes on with the next batch: the events of the batch that panicked are
// not retried, as they would most likely panic again.
func Run[T any](ctx context.Context, m *Metrics, log *slog.Logger, runner string, sub *Subscription[T], handle Handler[T]) {
	for {
		batch, lost, ok := sub.Next(ctx)
		if !ok {
			return
		}
		start := time.Now()
		handleSafely(ctx, m, log, runner, batch, lost, handle)
		if m != nil {
			m.duration.WithLabelValues(runner).Observe(time.Since(start).Seconds())
			m.handled.WithLabelValues(runner).Add(float64(len(batch)))
			if lost > 0 {
				m.lost.WithLabelValues(runner).Add(float64(lost))
			}
		}
	}
}

func handleSafely[T any](ctx context.Context, m *Metrics, log *slog.Logger, runner string, batch []T, lost int, handle Handler[T]) {
	defer func() {
		if r := recover(); r != nil {
			if m != nil {
				m.panics.WithLabelValues(runner).Inc()
			}
			log.Error("events: runner panicked; continuing with the next events", "runner", runner,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	handle(ctx, batch, lost)
}
