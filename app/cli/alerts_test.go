package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/model"
)

func TestAlertsList(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	ctx := context.Background()
	for _, r := range []alert.Rule{
		{Name: "canary-errors", Gateway: "edge", Rule: "shop-canary", Metric: alert.MetricErrorRate, StatusClass: "5xx", Op: ">",
			Threshold: 2.5, Window: model.Duration(5 * time.Minute), For: model.Duration(time.Minute)},
		{Name: "edge-slow", Gateway: "edge", Metric: alert.MetricLatency, Percentile: "p99", Op: ">", Threshold: 800,
			Window: model.Duration(10 * time.Minute)},
	} {
		if err := e.store.CreateAlertRule(ctx, "test", &r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.StartIncident(ctx, "canary-errors", time.Now(), 7, "5xx rate 7% > 2.5%"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.client(t, "alerts", "list")
	if code != 0 {
		t.Fatalf("alerts list: %s", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("output:\n%s", out)
	}
	for i, want := range [][]string{
		{"STATE", "NAME", "WATCHES", "CONDITION"},
		{"firing", "canary-errors", "edge/shop-canary", "5xx rate > 2.5% over 5m0s for 1m0s"},
		{"unknown", "edge-slow", "edge", "p99 latency > 800ms over 10m0s"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}
