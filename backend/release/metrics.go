package release

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
)

// Metrics count the translation work of the gateways' runners.
type Metrics struct {
	translations *prometheus.CounterVec
}

// Kinds of translation work, the label values of
// routedeck_translations_total.
const (
	KindGateway        = "gateway"         // a gateway translated (publish, rollback, restore)
	KindRoute          = "route"           // a rule translated; unchanged rules are reused
	KindCluster        = "cluster"         // an upstream's cluster built
	KindLoadAssignment = "load_assignment" // an upstream's endpoints rebuilt alone
)

// NewMetrics returns unregistered collectors; register them with
// Collectors().
func NewMetrics() *Metrics {
	return &Metrics{translations: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "routedeck", Name: "translations_total",
		Help: "Translation work of the gateways' xDS runners, by kind: gateway translations, rules translated, clusters built, load assignments rebuilt after an endpoint change.",
	}, []string{"kind"})}
}

// Collectors returns every collector, for prometheus.Registerer.MustRegister.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.translations}
}

// Translations is the count of kind so far.
func (m *Metrics) Translations(kind string) float64 {
	return testutil.ToFloat64(m.translations.WithLabelValues(kind))
}

func (m *Metrics) add(now, before translate.Stats) {
	if m == nil {
		return
	}
	for kind, n := range map[string]int64{
		KindGateway:        now.Translations - before.Translations,
		KindRoute:          now.Routes - before.Routes,
		KindCluster:        now.Clusters - before.Clusters,
		KindLoadAssignment: now.LoadAssignments - before.LoadAssignments,
	} {
		m.translations.WithLabelValues(kind).Add(float64(n))
	}
}

func uses(upstreams []model.Upstream, names map[string]bool) bool {
	return slices.ContainsFunc(upstreams, func(u model.Upstream) bool { return names[u.Name] })
}
