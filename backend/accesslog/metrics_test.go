package accesslog

import (
	"strconv"
	"strings"
	"testing"
	"time"

	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/routedeck/routedeck/backend/xds"
)

// TestMetricsByRuleAndUpstream: stored entries are counted per rule and
// per upstream by status class, and their durations land in both
// latency histograms.
func TestMetricsByRuleAndUpstream(t *testing.T) {
	s, c := openTest(t, Options{})
	now := c.now()
	slow := entry(now, "rule/shop/0", 503, 300*time.Millisecond, "shop.example.com", "/a")
	slow.CommonProperties.UpstreamCluster = "web-v2"
	local := entry(now, "default", 404, time.Millisecond, "shop.example.com", "/nothing")
	local.CommonProperties.UpstreamCluster = ""
	offer(t, s, xds.AccessLogBatch{Gateway: "public", Node: "n", Received: now, Entries: []*accesslogdata.HTTPAccessLogEntry{
		entry(now, "rule/shop/0", 200, 20*time.Millisecond, "shop.example.com", "/a"),
		entry(now, "rule/shop/1", 200, 30*time.Millisecond, "shop.example.com", "/b"),
		slow, local,
	}})
	m := s.Metrics()
	for _, tc := range []struct {
		c    prometheus.Collector
		want string
	}{
		{m.requests.vec, `
routedeck_accesslog_requests_total{gateway="public",rule="",status_class="4xx"} 1
routedeck_accesslog_requests_total{gateway="public",rule="shop",status_class="2xx"} 2
routedeck_accesslog_requests_total{gateway="public",rule="shop",status_class="5xx"} 1
`},
		{m.upstreamRequests.vec, `
routedeck_accesslog_upstream_requests_total{gateway="public",status_class="2xx",upstream="web"} 2
routedeck_accesslog_upstream_requests_total{gateway="public",status_class="4xx",upstream=""} 1
routedeck_accesslog_upstream_requests_total{gateway="public",status_class="5xx",upstream="web-v2"} 1
`},
	} {
		if err := testutil.CollectAndCompare(tc.c, strings.NewReader(header(tc.c)+tc.want)); err != nil {
			t.Error(err)
		}
	}
	if err := testutil.CollectAndCompare(m.latency.vec, strings.NewReader(`
# HELP routedeck_accesslog_request_duration_seconds Request duration as proxies report it, by gateway and rule.
# TYPE routedeck_accesslog_request_duration_seconds histogram
`+histogramText("routedeck_accesslog_request_duration_seconds", `gateway="public",rule=""`, 0.001)+
		histogramText("routedeck_accesslog_request_duration_seconds", `gateway="public",rule="shop"`, 0.02, 0.03, 0.3))); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.upstreamLatency.vec); n != 3 {
		t.Errorf("upstream latency histograms = %d, want 3 (web, web-v2, none)", n)
	}
}

// header is the HELP and TYPE lines of a single-family collector.
func header(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc, 1)
	c.Describe(ch)
	d := (<-ch).String()
	name := between(d, `fqName: "`, `"`)
	return "# HELP " + name + " " + between(d, `help: "`, `"`) + "\n# TYPE " + name + " counter\n"
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

// histogramText is the exposition of one histogram of latencyBuckets
// holding values.
func histogramText(name, labels string, values ...float64) string {
	var b strings.Builder
	sum := 0.0
	for _, v := range values {
		sum += v
	}
	for _, le := range append(latencyBuckets, -1) {
		n, bound := 0, "+Inf"
		for _, v := range values {
			if le < 0 || v <= le {
				n++
			}
		}
		if le >= 0 {
			bound = strconv.FormatFloat(le, 'g', -1, 64)
		}
		b.WriteString(name + "_bucket{" + labels + `,le="` + bound + `"} ` + strconv.Itoa(n) + "\n")
	}
	b.WriteString(name + "_sum{" + labels + "} " + strconv.FormatFloat(sum, 'g', -1, 64) + "\n")
	b.WriteString(name + "_count{" + labels + "} " + strconv.Itoa(len(values)) + "\n")
	return b.String()
}

// TestMetricsCardinalityIsCapped: a proxy reporting ever new rule and
// upstream names grows each family to its cap and no further; the rest is
// counted under "_other", nothing is lost.
func TestMetricsCardinalityIsCapped(t *testing.T) {
	m := newMetrics()
	m.requests.max, m.upstreamRequests.max, m.latency.max, m.upstreamLatency.max = 10, 10, 4, 4
	for i := range 100 {
		e := &Entry{Gateway: "public", Rule: "r" + strconv.Itoa(i), UpstreamCluster: "u" + strconv.Itoa(i), Status: 200 + i%2*300,
			duration: time.Millisecond}
		m.observe(e)
	}
	// 10 label sets, plus "_other" per class seen: 2xx and 5xx.
	for name, f := range map[string]*counterFamily{"rules": m.requests, "upstreams": m.upstreamRequests} {
		if n := testutil.CollectAndCount(f.vec); n != 12 {
			t.Errorf("%s: %d series, want 12", name, n)
		}
		total := 0.0
		for key, c := range f.series {
			v := testutil.ToFloat64(c)
			total += v
			if key[1] == otherLabel && v != 45 {
				t.Errorf("%s: %v = %v, want 45", name, key, v)
			}
		}
		if total != 100 {
			t.Errorf("%s: %v requests counted, want 100", name, total)
		}
	}
	for name, f := range map[string]*histogramFamily{"rules": m.latency, "upstreams": m.upstreamLatency} {
		if n := testutil.CollectAndCount(f.vec); n != 5 {
			t.Errorf("%s latency: %d histograms, want 5", name, n)
		}
	}
}
