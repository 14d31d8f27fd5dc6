package alert

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Metrics are the evaluator's Prometheus collectors.
type Metrics struct {
	firing       prometheus.Gauge
	evaluations  prometheus.Counter
	evalFailures prometheus.Counter
	evalDuration prometheus.Histogram
	sent, failed *prometheus.CounterVec
}

// NewMetrics returns unregistered collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		firing: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "routedeck", Subsystem: "alerts", Name: "firing",
			Help: "Alert rules firing now.",
		}),
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "alerts", Name: "evaluations_total",
			Help: "Alert rule evaluations.",
		}),
		evalFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "alerts", Name: "evaluation_failures_total",
			Help: "Alert rule evaluations or state changes that failed (reading the request log, recording an incident).",
		}),
		evalDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "routedeck", Subsystem: "alerts", Name: "round_duration_seconds",
			Help:    "Time to evaluate every alert rule once.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "alerts", Name: "notifications_sent_total",
			Help: "Notifications delivered, by notifier type.",
		}, []string{"type"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "alerts", Name: "notifications_failed_total",
			Help: "Notifications given up on after their attempts (or dropped), by notifier type.",
		}, []string{"type"}),
	}
}

// Collectors returns every collector, for prometheus.Registerer.MustRegister.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.firing, m.evaluations, m.evalFailures, m.evalDuration, m.sent, m.failed}
}

func (m *Metrics) delivered(typ string, ok bool) {
	if ok {
		m.sent.WithLabelValues(typ).Inc()
	} else {
		m.failed.WithLabelValues(typ).Inc()
	}
}

// Firing is how many rules fire, as of the last round.
func (m *Metrics) Firing() float64 { return testutil.ToFloat64(m.firing) }

// Sent and Failed count notifications of a notifier type so far.
func (m *Metrics) Sent(typ string) float64 { return testutil.ToFloat64(m.sent.WithLabelValues(typ)) }
func (m *Metrics) Failed(typ string) float64 {
	return testutil.ToFloat64(m.failed.WithLabelValues(typ))
}
