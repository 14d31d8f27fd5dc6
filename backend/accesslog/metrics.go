package accesslog

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// maxSeries bounds the (gateway, rule, status class) series of the request
// counter: rule names come from proxies, and a proxy that reports made-up
// route names must not grow /metrics without bound. Past it, new series are
// counted under rule "_other".
const maxSeries = 20000

// Metrics are the access log's Prometheus collectors.
type Metrics struct {
	requests *prometheus.CounterVec
	dropped  prometheus.Counter
	write    prometheus.Histogram

	mu     sync.Mutex
	series map[[3]string]prometheus.Counter
}

func newMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "requests_total",
			Help: "Requests reported by proxies and stored, by gateway, rule ('' when none matched) and status class.",
		}, []string{"gateway", "rule", "status_class"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "dropped_total",
			Help: "Access log entries dropped because the writer was behind (or failed).",
		}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "write_duration_seconds",
			Help:    "Time to write one batch of entries and their rollups.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		series: map[[3]string]prometheus.Counter{},
	}
}

// Collectors returns every collector, for prometheus.Registerer.MustRegister.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.dropped, m.write}
}

var classNames = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

func (m *Metrics) count(gateway, rule string, status int) {
	key := [3]string{gateway, rule, classNames[statusClass(status)]}
	m.mu.Lock()
	c := m.series[key]
	if c == nil {
		if len(m.series) >= maxSeries {
			key[1] = "_other"
		}
		c = m.requests.WithLabelValues(key[0], key[1], key[2])
		if len(m.series) < maxSeries {
			m.series[key] = c
		}
	}
	m.mu.Unlock()
	c.Inc()
}
