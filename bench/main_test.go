package main

import (
	"strings"
	"testing"
)

// TestQuickSections runs the in-process sections at quick size and checks
// that every figure is measured, named and judged against a target.
func TestQuickSections(t *testing.T) {
	sc := scale(true)
	tests := map[string]struct {
		run   func() ([]Figure, error)
		names []string
	}{
		"translate":   {func() ([]Figure, error) { return benchTranslate(sc) }, []string{"translate.full", "translate.corpus.1000"}},
		"incremental": {func() ([]Figure, error) { return benchIncremental(sc) }, []string{"translate.oneRouteChange"}},
		"load": {func() ([]Figure, error) { return benchLoad(sc) },
			[]string{"load.manifest", "load.manifest.allocated", "load.gatewayapi"}},
		"sim": {func() ([]Figure, error) { return benchSim(sc) },
			[]string{"sim.match.first", "sim.match.last", "sim.match.miss", "sim.match.regex", "sim.match.allocs"}},
		"evaluate": {func() ([]Figure, error) { return benchEvaluate(t.Context(), sc) },
			[]string{"evaluate.1000.throughput", "evaluate.1000.p50", "evaluate.3.throughput"}},
		"accesslog": {func() ([]Figure, error) { return benchAccessLog(t.Context(), sc) }, []string{"accesslog.ingest", "accesslog.rss_growth"}},
		"replay":    {func() ([]Figure, error) { return benchReplay(t.Context(), sc) }, []string{"replay.evaluator", "replay.sim.throughput"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			figs, err := tc.run()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range figs {
				got = append(got, f.Name)
				if f.Unit == "" || f.Description == "" {
					t.Errorf("%s: unit %q, description %q", f.Name, f.Unit, f.Description)
				}
				// A count of allocations or a growth may well be zero or
				// less; everything else is a measurement.
				if f.Value <= 0 && f.Unit != "allocs/op" && !strings.HasSuffix(f.Name, "growth") {
					t.Errorf("%s: value %v, want a measurement", f.Name, f.Value)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.names, ",") {
				t.Errorf("figures %v, want %v", got, tc.names)
			}
		})
	}
}

func TestMachine(t *testing.T) {
	m := machine()
	if m.Cores < 1 || !strings.HasPrefix(m.Go, "go") || m.OS == "" {
		t.Errorf("machine = %+v", m)
	}
}
