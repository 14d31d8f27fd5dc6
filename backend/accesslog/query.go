package accesslog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Query selects entries of one gateway, newest first. Zero fields do not
// filter.
type Query struct {
	Gateway string
	// Rule matches the rule exactly; NoRule selects entries no rule
	// matched.
	Rule   string
	NoRule bool
	// StatusMin and StatusMax bound the status code, inclusive.
	StatusMin, StatusMax int
	// Host matches the host exactly (case-insensitive); PathPrefix the
	// start of the path.
	Host       string
	PathPrefix string
	// Since and Until bound the request start time: Since <= t < Until.
	Since, Until time.Time
	Limit        int
	// Before continues a listing: entries strictly older than this
	// position (the last one of the previous page).
	Before *Position
}

// Position is an entry's place in the newest-first order.
type Position struct {
	Time int64 // unix microseconds
	ID   int64
}

// PositionOf returns e's position.
func PositionOf(e Entry) Position { return Position{Time: e.Time.UnixMicro(), ID: e.ID} }

const columns = `id, gateway, ts, node, version, route, rule, method, scheme, host, path, original_path, status,
	duration_us, flags, details, upstream_cluster, upstream_host, client, user_agent, request_id, bytes_received, bytes_sent, headers`

// How the request log answers any filter in bounded time, however few
// entries it matches. Hosted log stores answer this with a search that
// examines a bounded part of the log per call and returns what it found
// with a token to go on, so a page may hold fewer entries than asked,
// even none, and still have a next (the dashboard and routedeck logs read
// on while pages come back short); and with summaries that let a search
// skip the parts of the log where a value does not occur. Here:
//
//   - Entries have one index, (gateway, ts, id): a gateway's entries
//     newest first. A query without filters (any time window) reads it
//     and stops after the page: its cost is the page's.
//   - A query with filters (rule, status, host, path prefix, and their
//     combinations) examines at most scanRows entries. Where the
//     allowance ends is found in the index alone, a fraction of the cost
//     of examining the entries; when the page does not fill within it, the
//     listing goes on (Page.Next) after the last entry examined.
//   - A rule filter first skips to the newest minute that rule served a
//     request in (with the status class asked for, if one is), which the
//     per-minute rollups say: a rule with little traffic fills its pages
//     without reading the minutes it had none.
//
// A follower (Since) examines at most scanRows entries by id.
//
// Indexes on the filtered columns would fill rare filters' pages sooner,
// but each costs every insert a B-tree descent: a rule index, or a host
// or status-class one, each cost the writer a fifth or more of its
// entries per CPU second, which ingestion on one core cannot spare; and
// path prefixes no index returns in time order.
const scanRows = 20_000

// Page is one answer of List: entries newest first, and where the
// listing goes on.
type Page struct {
	Entries []Entry
	// Next is the Query.Before of the next page, nil when nothing older
	// matches. A page may hold fewer entries than the limit, even none,
	// and have a Next: the search stopped at its bound.
	Next *Position
}

// where is the condition of q's filters other than the gateway and the
// time window, "" for none.
func (q *Query) where() (string, []any) {
	var conds []string
	var args []any
	add := func(c string, a ...any) { conds = append(conds, c); args = append(args, a...) }
	switch {
	case q.NoRule:
		add("rule = ''")
	case q.Rule != "":
		add("rule = ?", q.Rule)
	}
	if q.StatusMin > 0 {
		add("status >= ?", q.StatusMin)
	}
	if q.StatusMax > 0 {
		add("status <= ?", q.StatusMax)
	}
	if q.Host != "" {
		add("host = ?", strings.ToLower(q.Host))
	}
	if q.PathPrefix != "" {
		add("substr(path, 1, ?) = ?", len(q.PathPrefix), q.PathPrefix)
	}
	return strings.Join(conds, " AND "), args
}

// span is the part of the gateway's index q reads: in the time window,
// before q.Before, and from edge on (inclusive) when edge is set.
func (q *Query) span(edge *Position) (string, []any) {
	conds := []string{"gateway = ?"}
	args := []any{q.Gateway}
	// One lower and one upper bound on ts each, so that SQLite ranges
	// the index on them; the terms on id break ties of start time.
	switch {
	case edge != nil:
		// Within the window: it was found there.
		conds = append(conds, "ts >= ? AND (ts > ? OR id >= ?)")
		args = append(args, edge.Time, edge.Time, edge.ID)
	case !q.Since.IsZero():
		conds = append(conds, "ts >= ?")
		args = append(args, q.Since.UnixMicro())
	}
	if up, ok := q.upper(); ok {
		conds = append(conds, "ts <= ? AND (ts < ? OR id < ?)")
		args = append(args, up.Time, up.Time, up.ID)
	}
	return strings.Join(conds, " AND "), args
}

// upper is the position the listing continues below, exclusive: the
// tighter of q.Before and q.Until.
func (q *Query) upper() (Position, bool) {
	switch {
	case q.Before != nil && (q.Until.IsZero() || q.Before.Time < q.Until.UnixMicro()):
		return *q.Before, true
	case !q.Until.IsZero():
		// ID 0: no entry at Until itself.
		return Position{Time: q.Until.UnixMicro()}, true
	}
	return Position{}, false
}

// filtered says q has filters beyond the gateway and the time window.
func (q *Query) filtered() bool {
	return q.NoRule || q.Rule != "" || q.StatusMin > 0 || q.StatusMax > 0 || q.Host != "" || q.PathPrefix != ""
}

// List returns a page of up to q.Limit entries matching q, newest first,
// having examined at most scanRows entries (see scanRows).
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
	limit := max(q.Limit, 1)
	if !q.filtered() {
		return s.page(ctx, q, nil, limit)
	}
	if q.NoRule || q.Rule != "" {
		done, err := s.skipToRule(ctx, &q)
		if err != nil || done {
			return Page{Entries: []Entry{}}, err
		}
	}
	span, args := q.span(nil)
	var edge Position
	err := s.db.QueryRowContext(ctx, `SELECT ts, id FROM entries INDEXED BY entries_gateway_ts WHERE `+span+
		` ORDER BY ts DESC, id DESC LIMIT 1 OFFSET ?`, append(args, s.scanRows-1)...).Scan(&edge.Time, &edge.ID)
	if errors.Is(err, sql.ErrNoRows) {
		// Fewer than scanRows entries left: this page reads them all.
		return s.page(ctx, q, nil, limit)
	}
	if err != nil {
		return Page{}, fmt.Errorf("access log query: %w", err)
	}
	return s.page(ctx, q, &edge, limit)
}

// skipToRule moves q.Before up to the end of the newest minute, within
// q's window and below its position, in which q's rule served a request
// (of q's status class, when the status filter is within one), as the
// rollups count them; done when there is none.
func (s *Store) skipToRule(ctx context.Context, q *Query) (done bool, err error) {
	rule := q.Rule
	if q.NoRule {
		rule = ""
	}
	cond := ""
	if q.StatusMin > 0 && q.StatusMax > 0 && statusClass(q.StatusMin) == statusClass(q.StatusMax) {
		cond = " AND s" + classNames[statusClass(q.StatusMin)] + " > 0"
	}
	// Entries past retention are gone whatever the rollups say.
	lo := minuteOf(s.opts.Now().Add(-s.opts.MaxAge).UnixMicro()) - 1
	if !q.Since.IsZero() {
		lo = max(lo, minuteOf(q.Since.UnixMicro()))
	}
	hi := int64(math.MaxInt64)
	up, bounded := q.upper()
	if bounded {
		// The minute of the last microsecond before up.
		hi = minuteOf(up.Time - 1)
	}
	var m sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(minute) FROM rollups WHERE gateway = ? AND rule = ? AND minute >= ? AND minute <= ?`+cond,
		q.Gateway, rule, lo, hi).Scan(&m); err != nil {
		return false, fmt.Errorf("access log query: %w", err)
	}
	if !m.Valid {
		return true, nil
	}
	if end := (m.Int64 + 1) * 60_000_000; !bounded || end < up.Time {
		q.Before = &Position{Time: end}
	}
	return false, nil
}

// minuteOf is the unix minute of a time in unix microseconds, as the
// rollups key them.
func minuteOf(us int64) int64 {
	m := us / 60_000_000
	if us%60_000_000 < 0 {
		m--
	}
	return m
}

// page reads the entries matching q, newest first, down to edge inclusive
// (nil: to the end of the window).
func (s *Store) page(ctx context.Context, q Query, edge *Position, limit int) (Page, error) {
	s.pagesRead.Add(1)
	span, args := q.span(edge)
	stmt := `SELECT ` + columns + ` FROM entries INDEXED BY entries_gateway_ts WHERE ` + span
	if filter, fargs := q.where(); filter != "" {
		stmt += " AND " + filter
		args = append(args, fargs...)
	}
	out, err := s.query(ctx, stmt+` ORDER BY ts DESC, id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return Page{}, err
	}
	if len(out) > limit {
		out = out[:limit]
		next := PositionOf(out[limit-1])
		return Page{Entries: out, Next: &next}, nil
	}
	return Page{Entries: out, Next: edge}, nil
}

// Entries returns up to q.Limit entries matching q, newest first, and
// whether more follow. Unlike List it reads on until the page is full or
// the log ends, so for a rare filter its cost grows with the log: it is
// for callers in the process that want a whole answer, not for requests.
func (s *Store) Entries(ctx context.Context, q Query) ([]Entry, bool, error) {
	limit := max(q.Limit, 1)
	out := []Entry{}
	for len(out) < limit {
		q.Limit = limit - len(out)
		p, err := s.List(ctx, q)
		if err != nil {
			return nil, false, err
		}
		out = append(out, p.Entries...)
		if p.Next == nil {
			return out, false, nil
		}
		q.Before = p.Next
	}
	// Full: more follow if one more entry matches past the last page. One
	// entry is looked for, page after bounded page, never the rest of the
	// log entry by entry.
	q.Limit = 1
	for {
		p, err := s.List(ctx, q)
		if err != nil || len(p.Entries) > 0 || p.Next == nil {
			return out, err == nil && len(p.Entries) > 0, err
		}
		q.Before = p.Next
	}
}

// Tail is one answer of Since.
type Tail struct {
	// Entries are oldest first.
	Entries []Entry
	// After is the afterID of the next call: the last entry returned,
	// or the last examined.
	After int64
	// More says entries past After are stored already: call again at
	// once rather than wait for the next commit.
	More bool
}

// Since returns up to limit entries matching q stored after entry
// afterID, oldest first: what a follower has not seen yet. It examines at
// most scanRows entries, by id whatever their gateway.
func (s *Store) Since(ctx context.Context, q Query, afterID int64, limit int) (Tail, error) {
	limit = max(limit, 1)
	// One read transaction: the newest id and the entries up to it are
	// of one commit.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Tail{}, fmt.Errorf("access log query: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(id) FROM entries`).Scan(&last); err != nil {
		return Tail{}, fmt.Errorf("access log query: %w", err)
	}
	upto := min(last.Int64, afterID+int64(s.scanRows))
	if upto <= afterID {
		return Tail{Entries: []Entry{}, After: afterID}, nil
	}
	stmt := `SELECT ` + columns + ` FROM entries NOT INDEXED WHERE gateway = ? AND id > ? AND id <= ?`
	args := []any{q.Gateway, afterID, upto}
	if filter, fargs := q.where(); filter != "" {
		stmt += " AND " + filter
		args = append(args, fargs...)
	}
	// NOT INDEXED: the table's id range, never an index that would read
	// past it.
	out, err := queryRows(ctx, tx, stmt+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return Tail{}, err
	}
	t := Tail{Entries: out, After: upto}
	if len(out) == limit {
		t.After = out[limit-1].ID
	}
	t.More = t.After < last.Int64
	return t, nil
}

// LastID is the id of the newest stored entry (0 if none), where a
// follower that wants only new entries starts.
func (s *Store) LastID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(id) FROM entries`).Scan(&id); err != nil {
		return 0, fmt.Errorf("access log: %w", err)
	}
	return id.Int64, nil
}

func (s *Store) query(ctx context.Context, stmt string, args ...any) ([]Entry, error) {
	return queryRows(ctx, s.db, stmt, args...)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryRows(ctx context.Context, db querier, stmt string, args ...any) ([]Entry, error) {
	rows, err := db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("access log query: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var ts, dur int64
		var headers string
		if err := rows.Scan(&e.ID, &e.Gateway, &ts, &e.Node, &e.Version, &e.Route, &e.Rule, &e.Method, &e.Scheme, &e.Host,
			&e.Path, &e.OriginalPath, &e.Status, &dur, &e.ResponseFlags, &e.ResponseDetails, &e.UpstreamCluster,
			&e.UpstreamHost, &e.Client, &e.UserAgent, &e.RequestID, &e.BytesReceived, &e.BytesSent, &headers); err != nil {
			return nil, fmt.Errorf("access log query: %w", err)
		}
		e.Time = time.UnixMicro(ts).UTC()
		e.duration = time.Duration(dur) * time.Microsecond
		e.DurationMs = float64(dur) / 1000
		if headers != "{}" {
			_ = json.Unmarshal([]byte(headers), &e.Headers)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("access log query: %w", err)
	}
	return out, nil
}

// RuleTraffic is one rule's traffic over a window. The JSON shape is part
// of the HTTP API (GET /gateways/{name}/traffic).
type RuleTraffic struct {
	// Rule is "" for requests no rule matched.
	Rule     string `json:"rule"`
	Requests uint64 `json:"requests"`
	// Status counts requests by class: "1xx" ... "5xx", "other" (no
	// response code, such as a reset).
	Status map[string]uint64 `json:"status"`
	// ErrorRate is the share of 5xx (and responseless) requests.
	ErrorRate float64 `json:"errorRate"`
	// Latency percentiles, in milliseconds, each the upper bound of the
	// histogram bucket it falls in (about 10% resolution).
	P50Ms float64 `json:"p50Ms"`
	P90Ms float64 `json:"p90Ms"`
	P99Ms float64 `json:"p99Ms"`
	// LastSeen is the start of the last minute with a request.
	LastSeen time.Time `json:"lastSeen"`
}

// Traffic sums gateway's per-minute rollups from since to now, by rule,
// busiest first.
func (s *Store) Traffic(ctx context.Context, gateway string, since time.Time) ([]RuleTraffic, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule, minute, requests, s1xx, s2xx, s3xx, s4xx, s5xx, sother, latency
		FROM rollups WHERE gateway = ? AND minute >= ?`, gateway, since.Unix()/60)
	if err != nil {
		return nil, fmt.Errorf("access log traffic: %w", err)
	}
	defer rows.Close()
	sums := map[string]*rollup{}
	last := map[string]int64{}
	for rows.Next() {
		var rule string
		var minute int64
		var r rollup
		var blob []byte
		if err := rows.Scan(&rule, &minute, &r.requests, &r.classes[0], &r.classes[1], &r.classes[2], &r.classes[3],
			&r.classes[4], &r.classes[5], &blob); err != nil {
			return nil, fmt.Errorf("access log traffic: %w", err)
		}
		if r.latency, err = decodeHistogram(blob); err != nil {
			return nil, fmt.Errorf("access log traffic: rule %q minute %d: %w", rule, minute, err)
		}
		if sums[rule] == nil {
			sums[rule] = &rollup{}
		}
		sums[rule].merge(&r)
		last[rule] = max(last[rule], minute)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("access log traffic: %w", err)
	}
	out := make([]RuleTraffic, 0, len(sums))
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for rule, r := range sums {
		t := RuleTraffic{Rule: rule, Requests: r.requests, Status: map[string]uint64{},
			P50Ms: ms(r.latency.quantile(0.5)), P90Ms: ms(r.latency.quantile(0.9)), P99Ms: ms(r.latency.quantile(0.99)),
			LastSeen: time.Unix(last[rule]*60, 0).UTC()}
		for i, c := range r.classes {
			if c > 0 {
				t.Status[classNames[i]] = c
			}
		}
		if r.requests > 0 {
			t.ErrorRate = float64(r.classes[4]+r.classes[5]) / float64(r.requests)
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b RuleTraffic) int {
		if a.Requests != b.Requests {
			if a.Requests > b.Requests {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return out, nil
}
