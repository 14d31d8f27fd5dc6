package accesslog

import (
	"context"
	"fmt"
	"time"
)

// Window is the traffic of a gateway, or of one of its rules, over a span
// of time.
type Window struct {
	Requests uint64
	// Classes counts requests by status class: "1xx" ... "5xx", "other".
	Classes map[string]uint64
	// Latency percentiles, each the upper bound of its histogram bucket.
	P50, P90, P99 time.Duration
}

// Window sums the traffic of gateway (of its rule rule, when not empty)
// with a start time in [since, until). Whole minutes come from the
// rollups; the minutes the window only partly covers, at either end, from
// the entries themselves, so a window is exact to the microsecond while
// an hour of a busy gateway costs sixty rollup rows.
func (s *Store) Window(ctx context.Context, gateway, rule string, since, until time.Time) (Window, error) {
	var sum rollup
	first, last := since.Unix()/60, until.Unix()/60 // the minutes of either end
	if since.UnixMicro()%60_000_000 != 0 {
		first++ // partly covered: read from entries below
	}
	ruleCond, args := "", []any{gateway}
	if rule != "" {
		ruleCond = " AND rule = ?"
		args = append(args, rule)
	}
	if first < last {
		rows, err := s.db.QueryContext(ctx, `SELECT requests, s1xx, s2xx, s3xx, s4xx, s5xx, sother, latency FROM rollups
			WHERE gateway = ?`+ruleCond+` AND minute >= ? AND minute < ?`, append(args, first, last)...)
		if err != nil {
			return Window{}, fmt.Errorf("access log window: %w", err)
		}
		for rows.Next() {
			var r rollup
			var blob []byte
			if err := rows.Scan(&r.requests, &r.classes[0], &r.classes[1], &r.classes[2], &r.classes[3], &r.classes[4],
				&r.classes[5], &blob); err != nil {
				rows.Close()
				return Window{}, fmt.Errorf("access log window: %w", err)
			}
			if r.latency, err = decodeHistogram(blob); err != nil {
				rows.Close()
				return Window{}, fmt.Errorf("access log window: %w", err)
			}
			sum.merge(&r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Window{}, fmt.Errorf("access log window: %w", err)
		}
	}
	// The edges: from since to the first whole minute, and from the
	// end of the last whole minute to until (the whole span when it
	// holds no whole minute).
	edges := [][2]int64{{since.UnixMicro(), min(first*60_000_000, until.UnixMicro())}}
	if first < last {
		edges = append(edges, [2]int64{last * 60_000_000, until.UnixMicro()})
	} else {
		edges[0][1] = until.UnixMicro()
	}
	for _, e := range edges {
		if e[0] >= e[1] {
			continue
		}
		rows, err := s.db.QueryContext(ctx, `SELECT status, duration_us FROM entries
			WHERE gateway = ?`+ruleCond+` AND ts >= ? AND ts < ?`, append(args[:len(args):len(args)], e[0], e[1])...)
		if err != nil {
			return Window{}, fmt.Errorf("access log window: %w", err)
		}
		for rows.Next() {
			var status int
			var dur int64
			if err := rows.Scan(&status, &dur); err != nil {
				rows.Close()
				return Window{}, fmt.Errorf("access log window: %w", err)
			}
			sum.add(status, time.Duration(dur)*time.Microsecond)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Window{}, fmt.Errorf("access log window: %w", err)
		}
	}
	w := Window{Requests: sum.requests, Classes: map[string]uint64{},
		P50: sum.latency.quantile(0.5), P90: sum.latency.quantile(0.9), P99: sum.latency.quantile(0.99)}
	for i, c := range sum.classes {
		if c > 0 {
			w.Classes[classNames[i]] = c
		}
	}
	return w, nil
}
