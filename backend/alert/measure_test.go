package alert

import (
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

func TestMeasure(t *testing.T) {
	stats := Stats{Requests: 200, Classes: map[string]uint64{"2xx": 170, "4xx": 10, "5xx": 15, "other": 5},
		P50: 12 * time.Millisecond, P90: 80 * time.Millisecond, P99: 450 * time.Millisecond}
	tests := map[string]struct {
		rule   Rule
		stats  Stats
		want   float64
		ok     bool
		breach bool
	}{
		"requests above":             {Rule{Metric: MetricRequests, Op: ">", Threshold: 100}, stats, 200, true, true},
		"requests drop":              {Rule{Metric: MetricRequests, Op: "<", Threshold: 10}, Stats{}, 0, true, true},
		"5xx count counts no reply":  {Rule{Metric: MetricRequests, StatusClass: "5xx", Op: ">=", Threshold: 20}, stats, 20, true, true},
		"4xx count":                  {Rule{Metric: MetricRequests, StatusClass: "4xx", Op: ">", Threshold: 10}, stats, 10, true, false},
		"error rate":                 {Rule{Metric: MetricErrorRate, StatusClass: "5xx", Op: ">", Threshold: 5}, stats, 10, true, true},
		"error rate at threshold":    {Rule{Metric: MetricErrorRate, StatusClass: "5xx", Op: ">", Threshold: 10}, stats, 10, true, false},
		"error rate >= threshold":    {Rule{Metric: MetricErrorRate, StatusClass: "5xx", Op: ">=", Threshold: 10}, stats, 10, true, true},
		"4xx rate":                   {Rule{Metric: MetricErrorRate, StatusClass: "4xx", Op: "<=", Threshold: 5}, stats, 5, true, true},
		"error rate without traffic": {Rule{Metric: MetricErrorRate, StatusClass: "5xx", Op: ">", Threshold: 5}, Stats{}, 0, false, false},
		"below min requests":         {Rule{Metric: MetricErrorRate, StatusClass: "5xx", Op: ">", Threshold: 5, MinRequests: 201}, stats, 0, false, false},
		"at min requests":            {Rule{Metric: MetricErrorRate, StatusClass: "5xx", Op: ">", Threshold: 5, MinRequests: 200}, stats, 10, true, true},
		"p50":                        {Rule{Metric: MetricLatency, Percentile: "p50", Op: ">", Threshold: 10}, stats, 12, true, true},
		"p90":                        {Rule{Metric: MetricLatency, Percentile: "p90", Op: ">", Threshold: 100}, stats, 80, true, false},
		"p99":                        {Rule{Metric: MetricLatency, Percentile: "p99", Op: ">", Threshold: 400}, stats, 450, true, true},
		"latency without traffic":    {Rule{Metric: MetricLatency, Percentile: "p99", Op: "<", Threshold: 400}, Stats{}, 0, false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, ok := tc.rule.Measure(tc.stats)
			if v != tc.want || ok != tc.ok {
				t.Errorf("Measure = %v, %v; want %v, %v", v, ok, tc.want, tc.ok)
			}
			if got := ok && tc.rule.Breached(v); got != tc.breach {
				t.Errorf("breached = %v, want %v", got, tc.breach)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	r := Rule{Name: "Bad Name", Gateway: "", Metric: MetricLatency, StatusClass: "5xx", Percentile: "p95", Op: "=",
		Threshold: -1, Window: model.Duration(30 * time.Second), For: model.Duration(2 * time.Hour), MinRequests: -3,
		Notifiers: []string{"ops", "ops"}}
	err := r.Validate()
	fields := map[string]bool{}
	for _, f := range model.ErrorFields(err) {
		fields[f.Field] = true
	}
	for _, want := range []string{"name", "gateway", "statusClass", "percentile", "op", "threshold", "window", "for", "minRequests", "notifiers[1]"} {
		if !fields[want] {
			t.Errorf("no problem reported at %s; got %v", want, err)
		}
	}
	n := Notifier{Name: "ops", Type: TypeEmail, Email: &Email{Smarthost: "mail", From: "Ops <ops@example.com>",
		To: []string{"a@example.com", "b@example.com\r\nBcc: x@evil.example"}, Password: "p"}}
	err = n.Validate()
	fields = map[string]bool{}
	for _, f := range model.ErrorFields(err) {
		fields[f.Field] = true
	}
	for _, want := range []string{"email.smarthost", "email.from", "email.to[1]", "email.username"} {
		if !fields[want] {
			t.Errorf("no problem reported at %s; got %v", want, err)
		}
	}
	w := Notifier{Name: "hook", Type: TypeWebhook, Webhook: &Webhook{URL: "https://user:pw@hooks.example.com/x", Authorization: "Bearer a\nb"}}
	err = w.Validate()
	fields = map[string]bool{}
	for _, f := range model.ErrorFields(err) {
		fields[f.Field] = true
	}
	for _, want := range []string{"webhook.url", "webhook.authorization"} {
		if !fields[want] {
			t.Errorf("no problem reported at %s; got %v", want, err)
		}
	}
}
