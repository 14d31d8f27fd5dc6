package replay

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/routetest"
)

// Bounds of reading a source, beside replay.MaxRequests and
// replay.MaxUploadBytes.
const (
	// maxLine bounds one line of a log file: Envoy's default limit on a
	// request's headers (60 KiB) plus the rest of the line.
	maxLine = 64 << 10
	// maxProblems bounds the problems reported for one file; the rest
	// are counted.
	maxProblems = 100
	// capturedPage is how many captured requests one query reads.
	capturedPage = 5000
)

// problems collects the problems of a file, each with its place (a line,
// a field path), so a file is refused with everything wrong in it at once.
type problems struct {
	field string // the request field the file came in
	list  []model.FieldError
	more  int
}

func (p *problems) add(at, format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.more++
		return
	}
	p.list = append(p.list, model.FieldError{Field: p.field, Message: at + ": " + fmt.Sprintf(format, args...)})
}

func (p *problems) line(n int, format string, args ...any) {
	p.add(fmt.Sprintf("line %d", n), format, args...)
}

func (p *problems) err(what string) error {
	if len(p.list) == 0 {
		return nil
	}
	msg := fmt.Sprintf("the %s cannot be replayed: %d problems", what, len(p.list)+p.more)
	if len(p.list)+p.more == 1 {
		msg = fmt.Sprintf("the %s cannot be replayed: 1 problem", what)
	}
	if p.more > 0 {
		msg += fmt.Sprintf(" (the first %d listed)", len(p.list))
	}
	return &model.Error{Code: model.EINVALID, Message: msg, Fields: p.list}
}

// collector gathers a source's requests up to replay.MaxRequests.
type collector struct {
	reqs    []Request
	summary replay.SourceSummary
}

func newCollector(kind string) *collector {
	return &collector{summary: replay.SourceSummary{Kind: kind}}
}

func (c *collector) add(q Request) {
	c.summary.Read++
	if len(c.reqs) >= replay.MaxRequests {
		c.summary.Truncated = true
		return
	}
	c.reqs = append(c.reqs, q)
}

func (c *collector) skip(reason string) {
	c.summary.Read++
	if c.summary.Skipped == nil {
		c.summary.Skipped = map[string]int{}
	}
	c.summary.Skipped[reason]++
}

// Reasons a request of a source is not replayed.
const (
	skipNotHTTP    = "not an http or https URL"
	skipConnect    = "CONNECT (a tunnel, not routed by path)"
	skipNoRequest  = "no request line (the proxy refused the request before reading it)"
	skipNotOrigin  = "not a path (an asterisk or authority form)"
	skipOtherProto = "not HTTP"
)

// Captured reads the gateway's captured requests of [since, until),
// newest first, up to replay.MaxRequests. kept are the request headers
// the gateway's access log keeps: the only ones a captured request has.
// rewritesHost says a rule rewrites the Host header, which the log then
// holds rewritten.
func Captured(ctx context.Context, log AccessLog, gateway string, since, until time.Time, kept []string, rewritesHost bool) ([]Request, replay.SourceSummary, error) {
	c := newCollector(replay.SourceCaptured)
	c.summary.Since, c.summary.Until = &since, &until
	if len(kept) == 0 {
		c.summary.Notes = append(c.summary.Notes, "captured requests keep no request headers (the gateway's access log keeps none): rules on headers or cookies see them absent")
	} else {
		c.summary.Notes = append(c.summary.Notes, "captured requests keep only the request headers the gateway's access log keeps ("+strings.Join(kept, ", ")+"): rules on other headers or on cookies see them absent")
	}
	if rewritesHost {
		c.summary.Notes = append(c.summary.Notes, "requests a rule sent on with another Host were captured with the new Host")
	}
	q := accesslog.Query{Gateway: gateway, Since: since, Until: until, Limit: capturedPage}
	for {
		entries, more, err := log.Entries(ctx, q)
		if err != nil {
			return nil, replay.SourceSummary{}, err
		}
		for _, e := range entries {
			if len(c.reqs) == replay.MaxRequests {
				c.summary.Truncated = true
				return c.reqs, c.summary, nil
			}
			addCaptured(c, e)
		}
		if !more || len(entries) == 0 {
			return c.reqs, c.summary, nil
		}
		last := accesslog.PositionOf(entries[len(entries)-1])
		q.Before = &last
	}
}

func addCaptured(c *collector, e accesslog.Entry) {
	target := e.OriginalPath
	if target == "" {
		target = e.Path
	}
	switch {
	case e.Method == "":
		c.skip(skipNoRequest)
		return
	case e.Method == "CONNECT":
		c.skip(skipConnect)
		return
	case !strings.HasPrefix(target, "/"):
		c.skip(skipNotOrigin)
		return
	}
	scheme := strings.ToLower(e.Scheme)
	if scheme != "https" {
		scheme = "http"
	}
	q := Request{Method: e.Method, Scheme: scheme, Authority: e.Host, Target: target,
		Origin: fmt.Sprintf("entry %d, captured %s", e.ID, e.Time.UTC().Format(time.RFC3339Nano))}
	for _, name := range sortedKeys(e.Headers) {
		q.addHeader(name, e.Headers[name])
	}
	c.add(q)
}

// SavedTests reads the requests of the gateway's saved route tests, by
// name.
func SavedTests(ctx context.Context, tests Tests, gateway string) ([]Request, replay.SourceSummary, error) {
	stored, err := tests.ListRouteTests(ctx, gateway)
	if err != nil {
		return nil, replay.SourceSummary{}, err
	}
	c := newCollector(replay.SourceTests)
	sort.Slice(stored, func(i, j int) bool { return stored[i].Name < stored[j].Name })
	for _, st := range stored {
		t, err := routetest.FromStore(st)
		if err != nil {
			return nil, replay.SourceSummary{}, err
		}
		c.add(testRequest(t))
	}
	return c.reqs, c.summary, nil
}

// testRequest reads a route test's request the way the evaluator does: a
// Host (or :authority) header wins over the URL's host, Scheme over the
// URL's scheme.
func testRequest(t routetest.Test) Request {
	r := t.Request
	q := Request{Method: strings.ToUpper(r.Method), Origin: "test " + t.Name}
	if q.Method == "" {
		q.Method = "GET"
	}
	raw := r.URL
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "://"); i > 0 && !strings.ContainsAny(raw[:i], "/?#") {
		q.Scheme, raw = strings.ToLower(raw[:i]), raw[i+3:]
		end := strings.IndexAny(raw, "/?")
		if end < 0 {
			end = len(raw)
		}
		q.Authority, raw = raw[:end], raw[end:]
		if at := strings.LastIndexByte(q.Authority, '@'); at >= 0 {
			q.Authority = q.Authority[at+1:]
		}
	}
	q.Target = raw
	if q.Target == "" || q.Target[0] == '?' {
		q.Target = "/" + q.Target
	}
	if r.Scheme != "" {
		q.Scheme = strings.ToLower(r.Scheme)
	}
	if q.Scheme != "https" {
		q.Scheme = "http"
	}
	for _, name := range sortedKeys(r.Headers) {
		ln := strings.ToLower(name)
		if (ln == "host" || ln == ":authority") && len(r.Headers[name]) > 0 {
			q.Authority = r.Headers[name][0]
			continue
		}
		for _, v := range r.Headers[name] {
			q.addHeader(ln, v)
		}
	}
	return q
}
