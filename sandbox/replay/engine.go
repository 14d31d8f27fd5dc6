// Package replay runs requests against two versions of a gateway and
// reports what would change: which requests another rule would decide,
// which would reach other upstreams, be answered 404 or redirected, reach
// their upstream with another path, host or headers. It is the engine
// behind POST /gateways/{name}/replay and `routedeck replay`; the request
// and report types are backend/replay's.
//
// Each request runs through the reference evaluator (backend/rules), which
// says what the rules mean, and through the simulated Envoy's router
// (sandbox/sim) compiled from each version's translation (backend/translate)
// with the listeners' connection manager options, which says what Envoy
// does with the configuration routedeck would push. The report shows the
// evaluator's outcomes; wherever the simulated Envoy says otherwise, a
// fidelity alarm names the request and the field, since then the
// translation (or the simulator) is wrong and the report cannot be trusted
// for that request.
//
// What is compared: the rule, the upstreams with their shares, the status
// of the gateway's own answer, a redirect's Location, the path and Host the
// upstream receives, the headers the gateway sets on or removes from the
// request and the response, a direct response's body. A weighted split is
// compared as a distribution: each member is routed with the random value
// that picks it, never one member by chance. HTTP filters that run before
// routing (authentication, source-address access, CORS, fault injection,
// rate limits) are not replayed: a request carries no credentials to test.
package replay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/store"
)

// AccessLog is the store of captured requests; *accesslog.Store provides
// it.
type AccessLog interface {
	Entries(ctx context.Context, q accesslog.Query) ([]accesslog.Entry, bool, error)
}

// Tests are the saved route tests; *store.Store provides them.
type Tests interface {
	ListRouteTests(ctx context.Context, gateway string) ([]store.RouteTest, error)
}

// DefaultTimeout bounds one replay, source reading included.
const DefaultTimeout = 4 * time.Minute

// Engine runs replays. Versions is required; without Log a replay of
// captured requests, without Tests one of the route tests, is refused.
// It is safe for concurrent use.
type Engine struct {
	Versions Versions
	Log      AccessLog
	Tests    Tests
	// Workers run requests in parallel; default GOMAXPROCS.
	Workers int
	// Timeout bounds one replay; default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock of captured windows; default time.Now.
	Now func() time.Time
}

// Replay runs the requests of req's source against its two versions of
// gateway.
func (e *Engine) Replay(ctx context.Context, gateway string, req replay.Request) (replay.Report, error) {
	start := time.Now()
	if err := req.Validate(); err != nil {
		return replay.Report{}, err
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fromRef, toRef := req.Refs()
	withSim := !req.EvaluatorOnly
	var sides [2]*version
	for i, ref := range []replay.Ref{fromRef, toRef} {
		rs, err := loadVersion(ctx, e.Versions, gateway, ref, [...]string{"from", "to"}[i])
		if err != nil {
			return replay.Report{}, err
		}
		if sides[i], err = prepare(ref, rs.Version.Number(), rs.Workspace, gateway, withSim); err != nil {
			return replay.Report{}, err
		}
	}
	reqs, src, err := e.read(ctx, gateway, req.Source, sides[0], sides[1])
	if err != nil {
		return replay.Report{}, err
	}
	rep, err := run(ctx, sides[0], sides[1], reqs, options{examples: req.ExamplesPerGroup(), workers: e.Workers})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return replay.Report{}, model.Errorf(model.EINVALID, "the replay took longer than %s: replay fewer requests (a shorter window, a smaller file)", timeout)
		}
		return replay.Report{}, err
	}
	rep.Gateway = gateway
	rep.Source = src
	rep.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

// options tune run.
type options struct {
	// examples is the example requests kept per group.
	examples int
	// workers run requests in parallel; default GOMAXPROCS.
	workers int
}

// result is what running one request found, kept small: a replay holds
// one per request.
type result struct {
	before, after string // the deciding rules
	classes       uint16
	// split holds both distributions when either side splits.
	split *[2][]target
	alarm *replay.Alarm
}

// run replays reqs from version from to version to and reports.
func run(ctx context.Context, from, to *version, reqs []Request, opts options) (replay.Report, error) {
	pr := newProbe(from.ws, to.ws)
	withSim := from.plain != nil || from.tls != nil
	results := make([]result, len(reqs))
	workers := opts.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 256
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, (len(reqs)+chunk-1)/chunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(reqs) {
					return
				}
				for i := lo; i < min(lo+chunk, len(reqs)); i++ {
					results[i] = runOne(&reqs[i], from, to, pr, withSim)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return replay.Report{}, err
	}
	return aggregate(reqs, results, from, to, pr, opts.examples), nil
}

func runOne(q *Request, from, to *version, pr probe, withSim bool) result {
	in := make(headerSet, len(q.Headers))
	for _, h := range q.Headers {
		in[h.Name] = append(in[h.Name], h.Value)
	}
	rr := q.evaluatorRequest()
	eb, ea := from.evaluate(rr, q.Authority, in, pr), to.evaluate(rr, q.Authority, in, pr)
	res := result{before: eb.rule, after: ea.rule, classes: classify(&eb, &ea)}
	if len(eb.forward) > 1 || len(ea.forward) > 1 {
		res.split = &[2][]target{eb.forward, ea.forward}
	}
	if withSim {
		sr := q.simRequest()
		for _, s := range []struct {
			side string
			v    *version
			e    *outcome
		}{{"from", from, &eb}, {"to", to, &ea}} {
			so := s.v.simulate(sr, q.Scheme, in, pr)
			if field, ev, sv := disagreement(s.e, &so); field != "" {
				res.alarm = &replay.Alarm{Side: s.side, Version: s.v.ref.String(), Field: field, Evaluator: ev, Sim: sv}
				break
			}
		}
	}
	return res
}

type pair struct{ before, after string }

type groupAgg struct {
	requests, changed int
	classes           map[string]int
	examples          []int
}

type splitAgg struct {
	requests      int
	before, after map[string]float64
}

// aggregate turns per-request results into the report, in the order of
// the requests, so the same source gives the same report.
func aggregate(reqs []Request, results []result, from, to *version, pr probe, examples int) replay.Report {
	rep := replay.Report{
		From:    replay.Version{Ref: from.ref.String(), Version: from.number},
		To:      replay.Version{Ref: to.ref.String(), Version: to.number},
		Engines: []string{replay.EngineEvaluator},
		Total:   len(reqs),
		Classes: map[string]int{},
		Groups:  []replay.Group{},
		Splits:  []replay.Split{},
	}
	if from.plain != nil || from.tls != nil {
		rep.Engines = append(rep.Engines, replay.EngineSim)
	}
	rep.Fidelity.Alarms = []replay.Alarm{}
	for _, c := range replay.Classes {
		rep.Classes[c] = 0
	}
	secret := credentialHeaders(from.ws, to.ws)
	groups := map[pair]*groupAgg{}
	splits := map[pair]*splitAgg{}
	for i := range results {
		r := &results[i]
		p := pair{r.before, r.after}
		g := groups[p]
		if g == nil {
			g = &groupAgg{classes: map[string]int{}}
			groups[p] = g
		}
		g.requests++
		if r.classes != 0 {
			rep.Changed++
			g.changed++
			for _, c := range classNames(r.classes) {
				rep.Classes[c]++
				g.classes[c]++
			}
			if len(g.examples) < examples {
				g.examples = append(g.examples, i)
			}
		}
		if r.split != nil {
			s := splits[p]
			if s == nil {
				s = &splitAgg{before: map[string]float64{}, after: map[string]float64{}}
				splits[p] = s
			}
			s.requests++
			for _, t := range r.split[0] {
				s.before[t.upstream] += t.share
			}
			for _, t := range r.split[1] {
				s.after[t.upstream] += t.share
			}
		}
		if r.alarm != nil {
			rep.Fidelity.Requests++
			if len(rep.Fidelity.Alarms) < replay.MaxAlarms {
				a := *r.alarm
				a.Request = reqs[i].info(secret)
				rep.Fidelity.Alarms = append(rep.Fidelity.Alarms, a)
			}
		}
	}
	rep.Summary = replay.SummaryText(rep.Changed, rep.Total)

	order := make([]pair, 0, len(groups))
	for p, g := range groups {
		if g.changed > 0 {
			order = append(order, p)
		}
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := groups[order[i]], groups[order[j]]
		if a.changed != b.changed {
			return a.changed > b.changed
		}
		return pairLess(order[i], order[j])
	})
	if len(order) > replay.MaxGroups {
		rep.GroupsOmitted = len(order) - replay.MaxGroups
		order = order[:replay.MaxGroups]
	}
	for _, p := range order {
		g := groups[p]
		out := replay.Group{RuleBefore: p.before, RuleAfter: p.after, Requests: g.requests, Changed: g.changed,
			Classes: g.classes, Examples: make([]replay.Example, 0, len(g.examples))}
		for _, i := range g.examples {
			out.Examples = append(out.Examples, example(&reqs[i], results[i].classes, from, to, pr, secret))
		}
		rep.Groups = append(rep.Groups, out)
	}

	sorder := make([]pair, 0, len(splits))
	for p := range splits {
		sorder = append(sorder, p)
	}
	sort.Slice(sorder, func(i, j int) bool {
		a, b := splits[sorder[i]], splits[sorder[j]]
		if a.requests != b.requests {
			return a.requests > b.requests
		}
		return pairLess(sorder[i], sorder[j])
	})
	for _, p := range sorder {
		s := splits[p]
		out := replay.Split{RuleBefore: p.before, RuleAfter: p.after, Requests: s.requests,
			Before: shares(s.before, s.requests), After: shares(s.after, s.requests)}
		out.Changed = !sameShares(out.Before, out.After)
		rep.Splits = append(rep.Splits, out)
	}
	return rep
}

func pairLess(a, b pair) bool {
	if a.before != b.before {
		return a.before < b.before
	}
	return a.after < b.after
}

// example runs a changed request again for its full outcomes: a replay
// keeps only what it counts for each request.
func example(q *Request, classes uint16, from, to *version, pr probe, secret func(string) bool) replay.Example {
	in := make(headerSet, len(q.Headers))
	for _, h := range q.Headers {
		in[h.Name] = append(in[h.Name], h.Value)
	}
	rr := q.evaluatorRequest()
	b, a := from.evaluate(rr, q.Authority, in, pr), to.evaluate(rr, q.Authority, in, pr)
	ex := replay.Example{Request: q.info(secret), Classes: classNames(classes), Before: b.report(), After: a.report()}
	redact(&ex.Before, secret)
	redact(&ex.After, secret)
	return ex
}

// redact hides credential values the gateway sets or passes on.
func redact(o *replay.Outcome, secret func(string) bool) {
	hide := func(m map[string]string) {
		for k := range m {
			if secret(k) {
				m[k] = redacted
			}
		}
	}
	hide(o.ResponseHeaders.Set)
	for i := range o.Forward {
		hide(o.Forward[i].RequestHeaders.Set)
		hide(o.Forward[i].ResponseHeaders.Set)
	}
}

// shares renders a distribution: expected requests per upstream, by name.
func shares(m map[string]float64, requests int) []replay.Share {
	out := make([]replay.Share, 0, len(m))
	for _, name := range sortedKeys(m) {
		out = append(out, replay.Share{Upstream: name, Requests: round(m[name], 3), Percent: round(100*m[name]/float64(requests), 2)})
	}
	return out
}

func sameShares(a, b []replay.Share) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Upstream != b[i].Upstream || math.Abs(a[i].Requests-b[i].Requests) > 1e-6 {
			return false
		}
	}
	return true
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// read reads the requests of a source.
func (e *Engine) read(ctx context.Context, gateway string, s replay.Source, from, to *version) ([]Request, replay.SourceSummary, error) {
	switch s.Kind() {
	case replay.SourceCaptured:
		if e.Log == nil {
			return nil, replay.SourceSummary{}, model.Errorf(model.EINVALID, "this server keeps no request log: replay a file or the route tests")
		}
		now := time.Now
		if e.Now != nil {
			now = e.Now
		}
		var kept []string
		if al := from.gw.AccessLog; al != nil {
			kept = al.RequestHeaders
		}
		rewrites := false
		for _, v := range []*version{from, to} {
			for _, r := range v.ws.Routes {
				if rw := r.Then.Rewrite; rw != nil && (rw.Host != "" || rw.HostFromHeader != "" || rw.AutoHost) {
					rewrites = true
				}
			}
		}
		return Captured(ctx, e.Log, gateway, now().Add(-s.Window()), now(), kept, rewrites)
	case replay.SourceHAR:
		return ParseHAR(ctx, []byte(s.HAR))
	case replay.SourceLog:
		return ParseLog(ctx, []byte(s.Log), s.Format)
	case replay.SourceTests:
		if e.Tests == nil {
			return nil, replay.SourceSummary{}, model.Errorf(model.EINVALID, "this server keeps no route tests")
		}
		return SavedTests(ctx, e.Tests, gateway)
	}
	return nil, replay.SourceSummary{}, fmt.Errorf("replay: no source")
}
