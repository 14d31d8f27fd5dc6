package alert

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Stats is the traffic of a window, as the request log sums it.
type Stats struct {
	Requests uint64
	// Classes counts requests by status class: "1xx" ... "5xx", and
	// "other" for requests that got no response.
	Classes map[string]uint64
	// Latency percentiles (each the upper bound of its histogram bucket).
	P50, P90, P99 time.Duration
}

// Source answers what traffic a window saw: every request of gateway in
// [since, until), or only those of one of its rules.
type Source interface {
	Window(ctx context.Context, gateway, rule string, since, until time.Time) (Stats, error)
}

// classCount is how many requests of class the window holds; 5xx counts
// the responseless ones too.
func (s Stats) classCount(class string) uint64 {
	n := s.Classes[class]
	if class == "5xx" {
		n += s.Classes["other"]
	}
	return n
}

// Measure returns the value r watches in s; ok is false when the window
// holds too little traffic for it to mean anything ("no data").
func (r *Rule) Measure(s Stats) (v float64, ok bool) {
	switch r.Metric {
	case MetricRequests:
		if r.StatusClass != "" {
			return float64(s.classCount(r.StatusClass)), true
		}
		return float64(s.Requests), true
	case MetricErrorRate:
		if s.Requests == 0 || s.Requests < uint64(r.MinRequests) {
			return 0, false
		}
		return 100 * float64(s.classCount(r.StatusClass)) / float64(s.Requests), true
	case MetricLatency:
		if s.Requests == 0 || s.Requests < uint64(r.MinRequests) {
			return 0, false
		}
		d := s.P99
		switch r.Percentile {
		case "p50":
			d = s.P50
		case "p90":
			d = s.P90
		}
		return float64(d.Microseconds()) / 1000, true
	}
	return 0, false
}

// Breached reports whether v is on the alerting side of the threshold.
func (r *Rule) Breached(v float64) bool {
	switch r.Op {
	case ">":
		return v > r.Threshold
	case ">=":
		return v >= r.Threshold
	case "<":
		return v < r.Threshold
	case "<=":
		return v <= r.Threshold
	}
	return false
}

// Target names what the rule watches: "gateway public" or "rule
// shop-api on gateway public".
func (r *Rule) Target() string {
	if r.Rule != "" {
		return fmt.Sprintf("rule %s on gateway %s", r.Rule, r.Gateway)
	}
	return "gateway " + r.Gateway
}

// What names the measured quantity: "requests", "5xx requests", "5xx
// rate", "p99 latency".
func (r *Rule) What() string {
	switch r.Metric {
	case MetricRequests:
		if r.StatusClass != "" {
			return r.StatusClass + " requests"
		}
		return "requests"
	case MetricErrorRate:
		return r.StatusClass + " rate"
	case MetricLatency:
		return r.Percentile + " latency"
	}
	return r.Metric
}

// Format writes a value of the rule's metric with its unit.
func (r *Rule) Format(v float64) string {
	switch r.Metric {
	case MetricErrorRate:
		return strconv.FormatFloat(v, 'f', -1, 64) + "%"
	case MetricLatency:
		return strconv.FormatFloat(v, 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Summary says what a measurement means against the rule: "5xx rate
// 12.5% > 5% over 5m on gateway public".
func (r *Rule) Summary(v float64) string {
	return fmt.Sprintf("%s %s %s %s over %s on %s", r.What(), r.Format(round(v)), r.Op, r.Format(r.Threshold),
		fmtDuration(r.Window.Std()), r.Target())
}

// round keeps a measurement readable in a message: four significant
// digits after the point are plenty for a rate or a latency.
func round(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 3, 64), 64)
	return f
}
