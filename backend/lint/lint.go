// Package lint keeps what linting says about each gateway's draft: the
// rules that can never match and the notes on rules that work differently
// from how they read. A report is computed on first request and kept until
// the store announces a draft change that touches its gateway, so the
// dashboard asking after every keystroke costs nothing while nothing
// changed, and an edit of one gateway keeps the others' reports.
package lint

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/translate"
)

// Finding is one rule of a gateway's draft that can never match.
//
// Kind is rules.FindingShadowed (severity error: the rule can never match)
// or rules.FindingRewriteSlash (severity warning: its prefix rewrite
// doubles or drops a slash, with the fix); Witness is a request that shows
// it, checked with the evaluator.
type Finding struct {
	Rule       string         `json:"rule"`
	Kind       string         `json:"kind"`
	Severity   string         `json:"severity"`
	ShadowedBy string         `json:"shadowedBy"`
	Message    string         `json:"message"`
	Witness    *rules.Witness `json:"witness"`
	Fix        *rules.Fix     `json:"fix"`
}

// Note is something an operator should know about a rule that still
// works: an earlier rule that takes part of its requests (kind overlap,
// with the rule and a request that shows it), or a rate limit Envoy
// applies once per route the rule became (kind rate-limit).
type Note struct {
	Rule       string         `json:"rule"`
	Kind       string         `json:"kind"`
	ShadowedBy string         `json:"shadowedBy,omitempty"`
	Message    string         `json:"message"`
	Witness    *rules.Witness `json:"witness,omitempty"`
}

// Report is what linting a gateway's draft says.
type Report struct {
	Items []Finding `json:"items"`
	Notes []Note    `json:"notes"`
}

// Cache keeps each gateway's report. It follows the store's draft events
// by draining its subscription on every request (the store announces a
// write before the write returns, so a request that follows a write sees
// it) and needs no goroutine of its own. Safe for concurrent use.
type Cache struct {
	store *store.Store
	sub   *events.Subscription[events.DraftChanged]
	// translators make the rate-limit notes: a rule edit translates the
	// one rule again.
	translators translate.Translators

	mu sync.Mutex
	// started is set by the first request, which takes the generation
	// it reads as seen: every later write is announced to sub.
	started bool
	// seen is the draft generation of the last change event taken.
	seen int64
	// touched is, per gateway, the generation of the last change that
	// touched it; everything is the last one that touched them all.
	touched    map[string]int64
	everything int64
	reports    map[string]entry
}

type entry struct {
	gen    int64 // the draft generation it was computed at (or after)
	report Report
}

// New returns a cache over st's draft; it subscribes to st's events, so
// it lives as long as st.
func New(st *store.Store) *Cache {
	return &Cache{store: st, sub: st.Events().Draft.Subscribe(), touched: map[string]int64{}, reports: map[string]entry{}}
}

// Close ends the cache's subscription.
func (c *Cache) Close() { c.sub.Close() }

// drain takes the queued change events. A generation that skips one says
// another process wrote the database: every report is then stale. Callers
// hold c.mu.
func (c *Cache) drain() {
	done, cancel := context.WithCancel(context.Background())
	cancel() // take what is queued, never wait
	batch, lost, ok := c.sub.Next(done)
	if !ok {
		return
	}
	for _, ev := range batch {
		names, all := ev.Gateways()
		if all || lost > 0 || ev.Generation != c.seen+1 {
			c.everything = ev.Generation
			clear(c.reports)
		}
		for name := range names {
			c.touched[name] = ev.Generation
			delete(c.reports, name)
		}
		for _, obj := range ev.Deleted {
			if obj.Kind() == model.KindGateway {
				delete(c.touched, obj.ObjectMeta().Name)
				c.translators.Forget(obj.ObjectMeta().Name)
			}
		}
		c.seen = max(c.seen, ev.Generation)
	}
}

// Report lints the gateway's draft, or returns the report kept since the
// last change that touched the gateway.
func (c *Cache) Report(ctx context.Context, gateway string) (Report, error) {
	rep, _, err := c.report(ctx, gateway, -1)
	return rep, err
}

// ReportUpTo is Report for a gateway of at most maxRoutes routes; for a
// larger one it returns the kept report if there is one, and otherwise
// lints nothing and returns ok false. Linting grows faster than the
// routes do (10,000 routes take longer than publishing them), so a reply
// that must not wait uses this and leaves the rest to GET .../lint.
func (c *Cache) ReportUpTo(ctx context.Context, gateway string, maxRoutes int) (rep Report, ok bool, err error) {
	return c.report(ctx, gateway, maxRoutes)
}

// report is Report, linting only gateways of at most maxRoutes routes
// (maxRoutes < 0: all).
func (c *Cache) report(ctx context.Context, gateway string, maxRoutes int) (Report, bool, error) {
	// The generation is read first: a write after it makes the entry
	// look older than it is, never newer.
	gen, err := c.store.DraftGeneration(ctx)
	if err != nil {
		return Report{}, false, err
	}
	c.mu.Lock()
	c.drain()
	if !c.started {
		c.started = true
		c.seen, c.everything = max(c.seen, gen), max(c.everything, gen)
	}
	e, ok := c.reports[gateway]
	fresh := ok && gen <= c.seen && e.gen >= max(c.touched[gateway], c.everything)
	c.mu.Unlock()
	if fresh {
		return e.report, true, nil
	}
	ws, err := c.store.GatewayDraft(ctx, gateway)
	if err != nil {
		return Report{}, false, err
	}
	if maxRoutes >= 0 && len(ws.Routes) > maxRoutes {
		return Report{}, false, nil
	}
	rep := Compute(ws, gateway, c.translators.For(gateway))
	c.mu.Lock()
	if cur, ok := c.reports[gateway]; !ok || cur.gen < gen {
		c.reports[gateway] = entry{gen: gen, report: rep}
	}
	c.mu.Unlock()
	return rep, true, nil
}

// Compute lints gateway of ws (rules.LintAll): every error finding is
// certain, a rule that takes no traffic, and every witness request was
// checked with the evaluator; partial overlaps go to the notes. tr translates for the
// rate-limit notes; nil translates from cold.
func Compute(ws model.Workspace, gateway string, tr *translate.Translator) Report {
	out := Report{Items: []Finding{}, Notes: rateLimitNotes(ws, gateway, tr)}
	for _, f := range rules.LintAll(ws.Routes) {
		// A gateway workspace holds only this gateway's routes; the
		// check keeps the answer right should that ever widen.
		if f.Gateway != gateway {
			continue
		}
		if f.Severity == rules.SeverityInfo {
			out.Notes = append(out.Notes, Note{Rule: f.Rule, Kind: f.Kind, ShadowedBy: f.ShadowedBy, Message: f.Message, Witness: f.Witness})
			continue
		}
		out.Items = append(out.Items, Finding{Rule: f.Rule, Kind: f.Kind, Severity: f.Severity, ShadowedBy: f.ShadowedBy,
			Message: f.Message, Witness: f.Witness, Fix: f.Fix})
	}
	return out
}

// rateLimitNotes says which rate-limited rules Envoy counts in more than
// one bucket. A draft that does not translate gets no notes: publishing
// it fails and says why.
func rateLimitNotes(ws model.Workspace, gateway string, tr *translate.Translator) []Note {
	notes := []Note{}
	// Translating is the costly part; most gateways have no rate limit.
	if !slices.ContainsFunc(ws.Routes, func(r model.Route) bool { return r.Then.RateLimit != nil }) {
		return notes
	}
	if tr == nil {
		tr = translate.NewTranslator()
	}
	res, err := tr.Translate(ws, gateway, translate.Options{})
	if err != nil {
		return notes
	}
	buckets := translate.RateLimitBuckets(res)
	for _, r := range ws.Routes {
		n := buckets[r.Name]
		if n < 2 || r.Then.RateLimit == nil {
			continue
		}
		rl := r.Then.RateLimit
		notes = append(notes, Note{Rule: r.Name, Kind: "rate-limit", Message: fmt.Sprintf(
			"rate limit counted per Envoy route: this rule becomes %d routes (one per virtual host it can match, times its any/not alternatives), each with its own bucket, so up to %d requests per %s pass, not %d",
			n, n*rl.Requests, time.Duration(rl.Per), rl.Requests)})
	}
	return notes
}
