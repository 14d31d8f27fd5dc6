package discovery

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/routedeck/routedeck/backend/model"
)

func TestManagerMetrics(t *testing.T) {
	m, src, rec := newTestManager(t)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.Collectors()...)
	m.Sync([]model.Upstream{consulUpstream("web", "web")})
	src.send(t, "web", Update{Endpoints: []Endpoint{ep("10.0.0.1", 80, true, false), ep("10.0.0.2", 80, false, false)}})
	rec.next(t)
	src.send(t, "web", Update{Stale: true, Err: errors.New("connection refused")})
	rec.next(t)

	want := `
# HELP routedeck_discovery_changes_total Endpoint list changes delivered, by source.
# TYPE routedeck_discovery_changes_total counter
routedeck_discovery_changes_total{source="consul"} 2
# HELP routedeck_discovery_endpoints Endpoints an upstream's source last reported, by health.
# TYPE routedeck_discovery_endpoints gauge
routedeck_discovery_endpoints{healthy="false",source="consul",upstream="web"} 1
routedeck_discovery_endpoints{healthy="true",source="consul",upstream="web"} 1
# HELP routedeck_discovery_stale 1 while an upstream's source is unreachable and its last known endpoints are served.
# TYPE routedeck_discovery_stale gauge
routedeck_discovery_stale{source="consul",upstream="web"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
