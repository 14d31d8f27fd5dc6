package replay

import (
	"context"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/bench/workload"
)

// corpusSides are Corpus(routes) as version 1 and ReplayDraft(routes) as
// the draft, ready to run.
func corpusSides(tb testing.TB, routes int, withSim bool) (from, to *version) {
	tb.Helper()
	var err error
	if from, err = prepare(replay.Ref{Version: 1}, 1, workload.Corpus(routes), workload.Gateway, withSim); err != nil {
		tb.Fatal(err)
	}
	if to, err = prepare(replay.Ref{Draft: true}, 0, workload.ReplayDraft(routes), workload.Gateway, withSim); err != nil {
		tb.Fatal(err)
	}
	return from, to
}

func corpusTraffic(routes, n int) []Request {
	reqs := make([]Request, 0, n)
	for _, w := range workload.ReplayTraffic(routes, n, 1) {
		q := Request{Method: w.Method, Scheme: "http", Authority: w.Host, Target: w.Path, Origin: "bench"}
		for _, name := range sortedKeys(w.Headers) {
			q.addHeader(name, w.Headers[name])
		}
		reqs = append(reqs, q)
	}
	return reqs
}

// TestCorpusReplay replays traffic of the 1,000-route comparison corpus
// to its edited draft through both engines: they agree on every request
// (a differential test at the size the targets name), and what changed
// is what the draft changed.
func TestCorpusReplay(t *testing.T) {
	from, to := corpusSides(t, 1000, true)
	rep, err := run(context.Background(), from, to, corpusTraffic(1000, 5000), options{examples: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fidelity.Requests != 0 {
		t.Fatalf("%d fidelity alarms: %+v", rep.Fidelity.Requests, rep.Fidelity.Alarms[:min(3, len(rep.Fidelity.Alarms))])
	}
	if rep.Changed == 0 || rep.Changed == rep.Total {
		t.Fatalf("%s", rep.Summary)
	}
	for _, g := range rep.Groups {
		var r model.Route
		for _, x := range workload.Corpus(1000).Routes {
			if x.Name == g.RuleBefore {
				r = x
			}
		}
		switch {
		case g.RuleAfter != g.RuleBefore:
			// A deleted rule: its requests fall to no rule.
			if g.RuleAfter != "" || g.Classes[replay.ClassNow404] != g.Changed {
				t.Errorf("group %s -> %s: %v", g.RuleBefore, g.RuleAfter, g.Classes)
			}
		case len(r.Then.Forward) == 2:
			if g.Classes[replay.ClassOtherUpstream] != g.Changed {
				t.Errorf("split %s: %v", g.RuleBefore, g.Classes)
			}
		default:
			if g.Classes[replay.ClassOtherUpstream] != g.Changed || g.Requests != g.Changed {
				t.Errorf("moved rule %s: %d of %d changed, %v", g.RuleBefore, g.Changed, g.Requests, g.Classes)
			}
		}
	}
	if len(rep.Splits) == 0 || !rep.Splits[0].Changed {
		t.Errorf("splits: %+v", rep.Splits[:min(1, len(rep.Splits))])
	}
}

// BenchmarkReplay replays 10,000 requests of the 1,000-route corpus from
// version 1 to the draft: through the evaluator alone, and through the
// evaluator and the simulated Envoy. req/s is requests replayed (each
// against both versions) per second.
func BenchmarkReplay(b *testing.B) {
	const routes, n = 1000, 10000
	reqs := corpusTraffic(routes, n)
	for _, c := range []struct {
		name    string
		withSim bool
	}{{"evaluator", false}, {"sim", true}} {
		b.Run(c.name, func(b *testing.B) {
			from, to := corpusSides(b, routes, c.withSim)
			b.ResetTimer()
			for b.Loop() {
				if _, err := run(context.Background(), from, to, reqs, options{examples: replay.DefaultExamples}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
