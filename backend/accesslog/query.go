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
// entries it matches. Hosted log stores answer this in two ways, and so
// does this one: indexes on the fields people filter by, and a search
// that examines a bounded part of the log per call and returns what it
// found with a token to go on, so a page may hold fewer entries than
// asked, even none, and still have a next.
//
//   - Each selective filter has an index ending in (ts, id), which yields
//     entries newest first: the gateway alone, rule, host, and status
//     class (status / 100).
//   - A query one index answers entirely (no filter, a rule, a host, a
//     status class; any time window) reads that index newest first and
//     stops after the page: its cost is the page's.
//   - Any other query examines at most scanRows entries of one index (a
//     tenth as many of an index other than the gateway's, see
//     driver.rows): an index with fewer entries left in the window
//     answers completely; otherwise the one whose allowance reaches
//     furthest back in time. Where scanRows entries end is
//     found in the index alone, a fraction of the cost of examining the
//     entries. When the page does not fill within them, the listing goes
//     on (Page.Next) after the last entry examined.
//
// A follower (Since) examines at most scanRows entries by id.
//
// Each index costs every insert a B-tree descent; path prefixes, whose
// matches an index could not return in time order, are left to the
// bounded search.
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

// driver is an index a query can read entries from, newest first.
type driver struct {
	index string
	cond  string // on the index's column after the gateway; "" for none
	arg   any
	// exact: the index alone answers every filter of the query.
	exact bool
}

// rows is how many of d's index entries a query may examine. The
// entries of the gateway's index are in the table's order, dozens to a
// page; those of the other indexes are scattered over the table, each
// another page to read: they are given a tenth of the rows.
func (d driver) rows(scanRows int) int {
	if d.cond == "" {
		return scanRows
	}
	return max(scanRows/10, 1)
}

// drivers are the indexes q can be read from, the likely most selective
// first; the last, the gateway's, always applies.
func (q *Query) drivers() []driver {
	filters := 0
	for _, on := range []bool{q.NoRule || q.Rule != "", q.Host != "", q.StatusMin > 0 || q.StatusMax > 0, q.PathPrefix != ""} {
		if on {
			filters++
		}
	}
	var out []driver
	if q.StatusMin > 0 && q.StatusMax > 0 && q.StatusMin/100 == q.StatusMax/100 {
		whole := q.StatusMin%100 == 0 && q.StatusMax%100 == 99
		out = append(out, driver{index: "entries_gateway_class_ts", cond: "status / 100 = ?", arg: q.StatusMin / 100,
			exact: whole && filters == 1})
	}
	if q.Host != "" {
		out = append(out, driver{index: "entries_gateway_host_ts", cond: "host = ?", arg: strings.ToLower(q.Host), exact: filters == 1})
	}
	if q.NoRule || q.Rule != "" {
		rule := q.Rule
		if q.NoRule {
			rule = ""
		}
		out = append(out, driver{index: "entries_gateway_rule_ts", cond: "rule = ?", arg: rule, exact: filters == 1})
	}
	return append(out, driver{index: "entries_gateway_ts", exact: filters == 0})
}

// span is the part of d's index q reads: its gateway and d's column, in
// the time window, before q.Before, and from edge on (inclusive) when
// edge is set.
func (q *Query) span(d driver, edge *Position) (string, []any) {
	conds := []string{"gateway = ?"}
	args := []any{q.Gateway}
	if d.cond != "" {
		conds = append(conds, d.cond)
		args = append(args, d.arg)
	}
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
	until := int64(math.MaxInt64)
	if !q.Until.IsZero() {
		until = q.Until.UnixMicro()
	}
	if q.Before != nil && q.Before.Time < until {
		conds = append(conds, "ts <= ? AND (ts < ? OR id < ?)")
		args = append(args, q.Before.Time, q.Before.Time, q.Before.ID)
	} else if !q.Until.IsZero() {
		conds = append(conds, "ts < ?")
		args = append(args, until)
	}
	return strings.Join(conds, " AND "), args
}

// List returns a page of up to q.Limit entries matching q, newest first,
// having examined at most scanRows entries (see scanRows).
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
	limit := max(q.Limit, 1)
	ds := q.drivers()
	for _, d := range ds {
		if d.exact {
			return s.page(ctx, q, d, nil, limit)
		}
	}
	var best driver
	var edge *Position
	for _, d := range ds {
		span, args := q.span(d, nil)
		var p Position
		err := s.db.QueryRowContext(ctx, `SELECT ts, id FROM entries INDEXED BY `+d.index+` WHERE `+span+
			` ORDER BY ts DESC, id DESC LIMIT 1 OFFSET ?`, append(args, d.rows(s.scanRows)-1)...).Scan(&p.Time, &p.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.page(ctx, q, d, nil, limit)
		}
		if err != nil {
			return Page{}, fmt.Errorf("access log query: %w", err)
		}
		if edge == nil || p.Time < edge.Time || p.Time == edge.Time && p.ID < edge.ID {
			best, edge = d, &p
		}
	}
	return s.page(ctx, q, best, edge, limit)
}

// page reads the entries matching q from d's index, newest first, down to
// edge inclusive (nil: to the end of the span).
func (s *Store) page(ctx context.Context, q Query, d driver, edge *Position, limit int) (Page, error) {
	span, args := q.span(d, edge)
	stmt := `SELECT ` + columns + ` FROM entries INDEXED BY ` + d.index + ` WHERE ` + span
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
	for {
		q.Limit = limit - len(out)
		if q.Limit == 0 {
			// Full: more follow if any entry does.
			q.Limit = 1
			rest, _, err := s.Entries(ctx, q)
			return out, len(rest) > 0, err
		}
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
