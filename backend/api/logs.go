package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// AccessLog is the request log the gateways' proxies report to
// (backend/accesslog.Store); without it the logs and traffic endpoints
// answer 501.
type AccessLog interface {
	// List and Since examine a bounded part of the log per call: a
	// page may be short, even empty, and still go on.
	List(ctx context.Context, q accesslog.Query) (accesslog.Page, error)
	Since(ctx context.Context, q accesslog.Query, afterID int64, limit int) (accesslog.Tail, error)
	LastID(ctx context.Context) (int64, error)
	// Changed is closed at the next commit of entries.
	Changed() <-chan struct{}
	Traffic(ctx context.Context, gateway string, since time.Time) ([]accesslog.RuleTraffic, error)
	// Entry returns one entry of a gateway, ENOTFOUND if it is not kept.
	Entry(ctx context.Context, gateway string, id int64) (accesslog.Entry, error)
	// Series is a rule's traffic over time, one point per step.
	Series(ctx context.Context, gateway, rule string, since, until time.Time, step time.Duration) ([]accesslog.Point, error)
}

// Bounds of the request log endpoints.
const (
	// maxFollowers bounds the open follow streams of one server.
	maxFollowers = 64
	// followFor is how long one follow stream lasts; the client resumes
	// with Last-Event-ID, so none lasts forever past a server restart
	// or a revoked token.
	followFor = time.Hour
	// followHeartbeat keeps idle streams alive through proxies.
	followHeartbeat = 15 * time.Second
	// followBatch is how many entries one wake-up sends at most.
	followBatch      = 500
	maxTrafficWindow = 30 * 24 * time.Hour
)

var followers atomic.Int64

// knownParams adds a problem for every parameter of v not in known.
func knownParams(p *model.Problems, v url.Values, known ...string) {
	for k := range v {
		if !slices.Contains(known, k) {
			p.Add(k, "unknown parameter (known: %s)", strings.Join(known, ", "))
		}
	}
}

// readFlag reads a boolean parameter; absent is false.
func readFlag(p *model.Problems, v url.Values, name string) bool {
	switch v.Get(name) {
	case "", "false", "0":
		return false
	case "true", "1":
		return true
	}
	p.Add(name, "must be true or false")
	return false
}

// logKey is the gateway key of the request log the parameters select:
// the gateway's, or with sandbox=true its sandbox's.
func logKey(p *model.Problems, v url.Values, gateway string) (key string, sandbox bool) {
	if readFlag(p, v, "sandbox") {
		return "sandbox/" + gateway, true
	}
	return gateway, false
}

// readWindow reads the window of the traffic endpoints; 1h by default.
func readWindow(p *model.Problems, v url.Values) time.Duration {
	ws := v.Get("window")
	if ws == "" {
		return time.Hour
	}
	d, err := time.ParseDuration(ws)
	if err != nil || d < time.Minute || d > maxTrafficWindow {
		p.Add("window", "want a duration from 1m to 720h")
	}
	return d
}

// readLogQuery reads the filters of a logs request, every problem at once.
func readLogQuery(r *http.Request, now time.Time) (accesslog.Query, bool, error) {
	v := r.URL.Query()
	var p model.Problems
	knownParams(&p, v, "rule", "status", "host", "path", "since", "until", "limit", "cursor", "follow", "after", "sandbox")
	q := accesslog.Query{Rule: v.Get("rule"), Host: v.Get("host"), PathPrefix: v.Get("path")}
	q.Gateway, _ = logKey(&p, v, chi.URLParam(r, "name"))
	follow := readFlag(&p, v, "follow")
	if a := v.Get("after"); a != "" {
		if n, err := strconv.ParseInt(a, 10, 64); err != nil || n < 0 {
			p.Add("after", "want an entry id")
		} else if !follow {
			p.Add("after", "only with follow=true")
		}
	}
	if len(q.Rule) > model.MaxNameLen {
		p.Add("rule", "at most %d bytes", model.MaxNameLen)
	}
	if len(q.Host) > 256 {
		p.Add("host", "at most 256 bytes")
	}
	if len(q.PathPrefix) > 2048 {
		p.Add("path", "at most 2048 bytes")
	}
	if s := v.Get("status"); s != "" {
		var err error
		if q.StatusMin, q.StatusMax, err = parseStatusFilter(s); err != nil {
			p.Add("status", "%v", err)
		}
	}
	q.Since = readTime(&p, "since", v.Get("since"), now)
	q.Until = readTime(&p, "until", v.Get("until"), now)
	q.Limit = store.DefaultPageSize
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			p.Add("limit", "must be a positive integer")
		}
		q.Limit = min(n, store.MaxPageSize)
	}
	if c := v.Get("cursor"); c != "" {
		pos, ok := decodeLogCursor(c, filterDigest(v))
		if !ok {
			p.Add("cursor", "not a cursor of this list with these filters: send back the \"next\" of the previous page with the same filters")
		}
		q.Before = &pos
	}
	return q, follow, p.Err()
}

// parseStatusFilter reads "404", "4xx" or "500-504".
func parseStatusFilter(s string) (int, int, error) {
	code := func(t string) (int, bool) {
		n, err := strconv.Atoi(t)
		return n, err == nil && n >= 100 && n <= 599
	}
	if len(s) == 3 && strings.HasSuffix(strings.ToLower(s), "xx") && s[0] >= '1' && s[0] <= '5' {
		c := int(s[0]-'0') * 100
		return c, c + 99, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, okA := code(lo)
		b, okB := code(hi)
		if okA && okB && a <= b {
			return a, b, nil
		}
	} else if c, ok := code(s); ok {
		return c, c, nil
	}
	return 0, 0, fmt.Errorf("want a status code (404), a class (5xx) or a range (500-504)")
}

// readTime reads an RFC 3339 time or a duration before now ("10m").
func readTime(p *model.Problems, name, s string, now time.Time) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d)
	}
	p.Add(name, "want an RFC 3339 time or a duration before now such as 10m")
	return time.Time{}
}

func encodeLogCursor(pos accesslog.Position, filter string) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d.%s", pos.Time, pos.ID, filter))
}

func decodeLogCursor(c, filter string) (accesslog.Position, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return accesslog.Position{}, false
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 || parts[2] != filter {
		return accesslog.Position{}, false
	}
	ts, err1 := strconv.ParseInt(parts[0], 10, 64)
	id, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || id < 0 {
		return accesslog.Position{}, false
	}
	return accesslog.Position{Time: ts, ID: id}, true
}

// withRequestLog answers the request log's routes with 501 on a server
// that keeps no request log.
func (s *server) withRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.AccessLog == nil {
			s.writeError(w, r, notWired("the request log"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// gatewayExists reports whether gateway name exists, and answers the
// store's error (404 for an unknown gateway) when it does not.
func (s *server) gatewayExists(w http.ResponseWriter, r *http.Request, name string) bool {
	if _, err := s.Store.Get(r.Context(), model.KindGateway, name); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// logs lists a gateway's recent requests, newest first, or with
// follow=true streams them as they arrive.
func (s *server) logs(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if !s.gatewayExists(w, r, name) {
		return
	}
	q, follow, err := readLogQuery(r, time.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if follow {
		s.followLogs(w, r, q)
		return
	}
	page, err := s.AccessLog.List(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := listResponse[accesslog.Entry]{Items: page.Entries, Limit: q.Limit, MaxLimit: store.MaxPageSize}
	if page.Next != nil {
		resp.Next = encodeLogCursor(*page.Next, filterDigest(r.URL.Query()))
		nq := r.URL.Query()
		nq.Set("cursor", resp.Next)
		w.Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, nq.Encode()))
	}
	writeJSON(w, http.StatusOK, resp)
}

// followLogs streams entries as server-sent events ("entry" events whose
// id is the entry's, so a client that reconnects with Last-Event-ID
// misses nothing still stored). It starts after the newest stored entry,
// or after the entry "after" names (the newest of a listing the client
// shows, so nothing falls between the listing and the stream), or after
// Last-Event-ID, which a reconnecting browser sends; since/until and
// cursor do not apply.
func (s *server) followLogs(w http.ResponseWriter, r *http.Request, q accesslog.Query) {
	if n := followers.Add(1); n > maxFollowers {
		followers.Add(-1)
		s.writeError(w, r, model.Errorf(eTooMany, "at most %d request log streams may be open at once", maxFollowers))
		return
	}
	defer followers.Add(-1)
	q.Since, q.Until, q.Before = time.Time{}, time.Time{}, nil
	after, err := s.AccessLog.LastID(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		id, err := strconv.ParseInt(last, 10, 64)
		if err != nil || id < 0 {
			s.writeError(w, r, model.Errorf(model.EINVALID, "Last-Event-ID: want an entry id"))
			return
		}
		after = min(id, after)
	} else if a := r.URL.Query().Get("after"); a != "" {
		id, _ := strconv.ParseInt(a, 10, 64) // checked by readLogQuery
		after = min(id, after)
	}
	ctx, cancel := context.WithTimeout(r.Context(), followFor)
	defer cancel()
	stop := shutdownSignal(r)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		// Every write gets its own deadline: a client that stops
		// reading cannot hold the stream (and a follower slot) open.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte(": following\n\n")) {
		return
	}
	heartbeat := time.NewTicker(followHeartbeat)
	defer heartbeat.Stop()
	for {
		changed := s.AccessLog.Changed()
		for {
			tail, err := s.AccessLog.Since(ctx, q, after, followBatch)
			if err != nil {
				return
			}
			var buf []byte
			for _, e := range tail.Entries {
				data, _ := json.Marshal(e)
				buf = fmt.Appendf(buf, "id: %d\nevent: entry\ndata: %s\n\n", e.ID, data)
			}
			after = tail.After
			if len(buf) > 0 && !write(buf) {
				return
			}
			if !tail.More {
				break
			}
		}
		select {
		case <-changed:
		case <-heartbeat.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// shutdownSignals holds, per http.Server, a channel closed when it shuts
// down: Shutdown waits for open connections to go idle, which a follow
// stream never does on its own.
var shutdownSignals sync.Map // *http.Server -> chan struct{}

func shutdownSignal(r *http.Request) <-chan struct{} {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return nil
	}
	ch := make(chan struct{})
	if got, loaded := shutdownSignals.LoadOrStore(srv, ch); loaded {
		return got.(chan struct{})
	}
	srv.RegisterOnShutdown(func() { close(ch) })
	return ch
}

// Traffic is the answer of GET /gateways/{name}/traffic.
type Traffic struct {
	Window string    `json:"window"`
	Since  time.Time `json:"since"`
	// Version is the published version whose rules are listed; 0 when
	// the gateway was never published.
	Version int64 `json:"version"`
	// Items has every rule with traffic in the window, busiest first,
	// then the published rules without any ("" is the requests no rule
	// matched).
	Items []accesslog.RuleTraffic `json:"items"`
	// Failing lists the rules that answered 5xx, highest error rate first.
	Failing []string `json:"failing"`
	// NoTraffic lists the published rules no request reached.
	NoTraffic []string `json:"noTraffic"`
}

// traffic sums a gateway's per-rule rollups over a window.
func (s *server) traffic(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if !s.gatewayExists(w, r, name) {
		return
	}
	v := r.URL.Query()
	var p model.Problems
	knownParams(&p, v, "window", "sandbox")
	key, _ := logKey(&p, v, name)
	window := readWindow(&p, v)
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	since := time.Now().Add(-window)
	items, err := s.AccessLog.Traffic(r.Context(), key, since)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := Traffic{Window: window.String(), Since: since.UTC(), Items: items, Failing: []string{}, NoTraffic: []string{}}
	seen := map[string]bool{}
	var failing []accesslog.RuleTraffic
	for _, t := range items {
		seen[t.Rule] = true
		if t.Status["5xx"] > 0 {
			failing = append(failing, t)
		}
	}
	slices.SortStableFunc(failing, func(a, b accesslog.RuleTraffic) int {
		switch {
		case a.ErrorRate > b.ErrorRate:
			return -1
		case a.ErrorRate < b.ErrorRate:
			return 1
		}
		return 0
	})
	for _, t := range failing {
		out.Failing = append(out.Failing, t.Rule)
	}
	pub, err := s.Store.GetPublished(r.Context(), name, 0)
	switch {
	case key != name:
		// The sandbox serves the draft: published rules say nothing.
	case model.ErrorCode(err) == model.ENOTFOUND:
	case err != nil:
		s.writeError(w, r, err)
		return
	default:
		out.Version = pub.Version
		var idle []string
		for _, rt := range pub.Workspace.Routes {
			if rt.Gateway == name && !rt.Disabled && !seen[rt.Name] {
				idle = append(idle, rt.Name)
			}
		}
		slices.Sort(idle)
		for _, rule := range idle {
			out.NoTraffic = append(out.NoTraffic, rule)
			out.Items = append(out.Items, accesslog.RuleTraffic{Rule: rule, Status: map[string]uint64{}})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// TrafficSeries is the answer of GET /gateways/{name}/traffic/series.
type TrafficSeries struct {
	Rule   string            `json:"rule"`
	Window string            `json:"window"`
	Step   string            `json:"step"`
	Points []accesslog.Point `json:"points"`
}

// maxSeriesPoints bounds one series; a longer window takes longer steps.
const maxSeriesPoints = 1000

// trafficSeries is one rule's traffic over a window, step by step, for
// the route page's charts.
func (s *server) trafficSeries(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	v := r.URL.Query()
	var p model.Problems
	knownParams(&p, v, "rule", "window", "step", "sandbox")
	rule := v.Get("rule")
	switch {
	case !v.Has("rule"):
		p.Add("rule", "required: a rule name, or empty for the requests no rule matched")
	case len(rule) > model.MaxNameLen:
		p.Add("rule", "at most %d bytes", model.MaxNameLen)
	}
	key, _ := logKey(&p, v, name)
	window := readWindow(&p, v)
	// By default about 60 points, in whole minutes (the rollups' grain).
	step := max((window/60+time.Minute-1)/time.Minute*time.Minute, time.Minute)
	if ss := v.Get("step"); ss != "" {
		d, err := time.ParseDuration(ss)
		if err != nil || d < time.Minute || d%time.Minute != 0 {
			p.Add("step", "want a whole number of minutes, 1m or more")
		} else if window/d > maxSeriesPoints {
			p.Add("step", "at most %d points: for a window of %s, a step of %s or more", maxSeriesPoints, window,
				(window/maxSeriesPoints+time.Minute-1)/time.Minute*time.Minute)
		}
		step = d
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.gatewayExists(w, r, name) {
		return
	}
	now := time.Now()
	points, err := s.AccessLog.Series(r.Context(), key, rule, now.Add(-window), now, step)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TrafficSeries{Rule: rule, Window: window.String(), Step: step.String(), Points: points})
}
