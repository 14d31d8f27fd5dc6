package accesslog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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

func (q *Query) where() (string, []any) {
	conds := []string{"gateway = ?"}
	args := []any{q.Gateway}
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
	if !q.Since.IsZero() {
		add("ts >= ?", q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		add("ts < ?", q.Until.UnixMicro())
	}
	return strings.Join(conds, " AND "), args
}

// Entries returns up to q.Limit entries matching q, newest first, and
// whether more follow.
func (s *Store) Entries(ctx context.Context, q Query) ([]Entry, bool, error) {
	where, args := q.where()
	if q.Before != nil {
		where += " AND (ts < ? OR (ts = ? AND id < ?))"
		args = append(args, q.Before.Time, q.Before.Time, q.Before.ID)
	}
	limit := max(q.Limit, 1)
	args = append(args, limit+1)
	out, err := s.query(ctx, `SELECT `+columns+` FROM entries WHERE `+where+` ORDER BY ts DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// Since returns up to limit entries matching q stored after entry id
// afterID, oldest first: what a follower has not seen yet.
func (s *Store) Since(ctx context.Context, q Query, afterID int64, limit int) ([]Entry, error) {
	where, args := q.where()
	args = append(args, afterID, max(limit, 1))
	return s.query(ctx, `SELECT `+columns+` FROM entries WHERE `+where+` AND id > ? ORDER BY id LIMIT ?`, args...)
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
	rows, err := s.db.QueryContext(ctx, stmt, args...)
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
