package discovery

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	endpointsDesc = prometheus.NewDesc("routedeck_discovery_endpoints",
		"Endpoints an upstream's source last reported, by health.",
		[]string{"upstream", "source", "healthy"}, nil)
	staleDesc = prometheus.NewDesc("routedeck_discovery_stale",
		"1 while an upstream's source is unreachable and its last known endpoints are served.",
		[]string{"upstream", "source"}, nil)
)

// managerCollector reads the manager's state at scrape time, so the
// metrics cannot drift from what the API reports.
type managerCollector struct{ m *Manager }

func (c managerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- endpointsDesc
	ch <- staleDesc
}

func (c managerCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for name, w := range c.m.watches {
		st := w.status
		counts := map[bool]int{true: 0, false: 0}
		for _, e := range st.Endpoints {
			counts[e.Healthy]++
		}
		for healthy, n := range counts {
			ch <- prometheus.MustNewConstMetric(endpointsDesc, prometheus.GaugeValue, float64(n),
				name, st.Source, strconv.FormatBool(healthy))
		}
		stale := 0.0
		if st.Stale {
			stale = 1
		}
		ch <- prometheus.MustNewConstMetric(staleDesc, prometheus.GaugeValue, stale, name, st.Source)
	}
}

// Collectors returns the manager's metrics, for
// prometheus.Registerer.MustRegister: endpoints per upstream and health,
// stale flag per upstream, and changes delivered per source.
func (m *Manager) Collectors() []prometheus.Collector {
	return []prometheus.Collector{managerCollector{m}, m.changes}
}
