package accesslog

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values come from proxies: a proxy that reports made-up route or
// cluster names must not grow /metrics without bound. Each family keeps at
// most this many label sets; past it, new rules or upstreams are counted
// under "_other" (per gateway and status class, a bounded set).
const (
	// maxSeries bounds the label sets of each request counter: (gateway,
	// rule or upstream, status class).
	maxSeries = 20000
	// maxHistograms bounds the (gateway, rule or upstream) pairs of each
	// latency histogram, which costs a series per bucket.
	maxHistograms = 1000
	// otherLabel stands for the rules or upstreams past the caps.
	otherLabel = "_other"
)

// latencyBuckets are the latency histograms' upper bounds, in seconds:
// from a cached answer to a slow upstream's timeout.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics are the access log's Prometheus collectors: requests by gateway,
// rule and upstream and status class, and latency histograms by gateway
// and rule and by gateway and upstream.
type Metrics struct {
	requests         *counterFamily
	upstreamRequests *counterFamily
	latency          *histogramFamily
	upstreamLatency  *histogramFamily
	dropped          prometheus.Counter
	fileDropped      prometheus.Counter
	write            prometheus.Histogram
}

func newMetrics() *Metrics {
	return &Metrics{
		requests: newCounterFamily(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "requests_total",
			Help: "Requests reported by proxies and stored, by gateway, rule ('' when none matched) and status class.",
		}, []string{"gateway", "rule", "status_class"}), maxSeries),
		upstreamRequests: newCounterFamily(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "upstream_requests_total",
			Help: "Requests reported by proxies and stored, by gateway, upstream ('' when answered without one) and status class.",
		}, []string{"gateway", "upstream", "status_class"}), maxSeries),
		latency: newHistogramFamily(prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "request_duration_seconds",
			Help:    "Request duration as proxies report it, by gateway and rule.",
			Buckets: latencyBuckets,
		}, []string{"gateway", "rule"}), maxHistograms),
		upstreamLatency: newHistogramFamily(prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "upstream_request_duration_seconds",
			Help:    "Request duration as proxies report it, by gateway and upstream.",
			Buckets: latencyBuckets,
		}, []string{"gateway", "upstream"}), maxHistograms),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "dropped_total",
			Help: "Access log entries dropped because the writer was behind (or failed).",
		}),
		fileDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "file_dropped_total",
			Help: "Access log entries not written to the JSON-lines files because their writer was behind or failed.",
		}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "routedeck", Subsystem: "accesslog", Name: "write_duration_seconds",
			Help:    "Time to write one batch of entries and their rollups.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
}

// Collectors returns every collector, for prometheus.Registerer.MustRegister.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests.vec, m.upstreamRequests.vec, m.latency.vec, m.upstreamLatency.vec, m.dropped, m.fileDropped, m.write}
}

var classNames = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// observe counts one stored entry in every family.
func (m *Metrics) observe(e *Entry) {
	class := classNames[statusClass(e.Status)]
	m.requests.inc(e.Gateway, e.Rule, class)
	m.upstreamRequests.inc(e.Gateway, e.UpstreamCluster, class)
	secs := float64(e.duration) / float64(time.Second)
	m.latency.get(e.Gateway, e.Rule).Observe(secs)
	m.upstreamLatency.get(e.Gateway, e.UpstreamCluster).Observe(secs)
}

// counterFamily is a counter vector whose label sets are capped.
type counterFamily struct {
	vec *prometheus.CounterVec
	max int

	mu     sync.Mutex
	series map[[3]string]prometheus.Counter
}

func newCounterFamily(vec *prometheus.CounterVec, max int) *counterFamily {
	return &counterFamily{vec: vec, max: max, series: map[[3]string]prometheus.Counter{}}
}

// inc counts one for (gateway, name, class); a new name past the cap is
// counted as otherLabel.
func (f *counterFamily) inc(gateway, name, class string) {
	key := [3]string{gateway, name, class}
	f.mu.Lock()
	c := f.series[key]
	if c == nil {
		if len(f.series) >= f.max {
			key[1] = otherLabel
			c = f.series[key]
		}
		if c == nil {
			c = f.vec.WithLabelValues(key[0], key[1], key[2])
			f.series[key] = c
		}
	}
	f.mu.Unlock()
	c.Inc()
}

// histogramFamily is a histogram vector whose label sets are capped.
type histogramFamily struct {
	vec *prometheus.HistogramVec
	max int

	mu     sync.Mutex
	series map[[2]string]prometheus.Observer
}

func newHistogramFamily(vec *prometheus.HistogramVec, max int) *histogramFamily {
	return &histogramFamily{vec: vec, max: max, series: map[[2]string]prometheus.Observer{}}
}

// get returns the histogram of (gateway, name), or of (gateway,
// otherLabel) for a new name past the cap.
func (f *histogramFamily) get(gateway, name string) prometheus.Observer {
	key := [2]string{gateway, name}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.series[key]
	if h == nil {
		if len(f.series) >= f.max {
			key[1] = otherLabel
			h = f.series[key]
		}
		if h == nil {
			h = f.vec.WithLabelValues(key[0], key[1])
			f.series[key] = h
		}
	}
	return h
}
