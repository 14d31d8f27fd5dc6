package xds

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ADS server's Prometheus collectors. Register them with
// Collectors(); the zero value is not usable, use newMetrics.
type Metrics struct {
	pushes      *prometheus.CounterVec
	acks        *prometheus.CounterVec
	nacks       *prometheus.CounterVec
	connected   prometheus.Gauge
	snapshotSet prometheus.Histogram
	translation prometheus.Histogram
}

func newMetrics() *Metrics {
	return &Metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "xds", Name: "pushes_total",
			Help: "Discovery responses sent to proxies, by resource type URL.",
		}, []string{"type_url"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "xds", Name: "acks_total",
			Help: "Discovery responses accepted by proxies, by resource type URL.",
		}, []string{"type_url"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "xds", Name: "nacks_total",
			Help: "Discovery responses rejected by proxies, by resource type URL.",
		}, []string{"type_url"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "routedeck", Subsystem: "xds", Name: "connected_proxies",
			Help: "ADS streams currently open.",
		}),
		snapshotSet: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "routedeck", Subsystem: "xds", Name: "snapshot_set_duration_seconds",
			Help:    "Time to validate, marshal and install a snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		translation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "routedeck", Subsystem: "xds", Name: "translation_duration_seconds",
			Help:    "Time to translate a gateway's rules into Envoy resources.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
}

// Collectors returns every collector, for prometheus.Registerer.MustRegister.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.pushes, m.acks, m.nacks, m.connected, m.snapshotSet, m.translation}
}

// ObserveTranslation records how long one translation took; the caller that
// runs the translator (the API's publish path) reports it here so that all
// xDS timings live in one place.
func (m *Metrics) ObserveTranslation(d time.Duration) { m.translation.Observe(d.Seconds()) }
