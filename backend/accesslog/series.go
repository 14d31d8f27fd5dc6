package accesslog

import (
	"context"
	"fmt"
	"time"
)

// Point is one step of a rule's traffic over time. The JSON shape is part
// of the HTTP API (GET /gateways/{name}/traffic/series).
type Point struct {
	// Time is the start of the step.
	Time     time.Time `json:"time"`
	Requests uint64    `json:"requests"`
	// Errors counts 5xx and responseless requests; ErrorRate is their
	// share (0 without requests).
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	// P50Ms and P99Ms are latency percentiles in milliseconds (bucket
	// upper bounds, see RuleTraffic); 0 without requests.
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

// Series returns rule's traffic on gateway from since to until in steps
// of step (a whole number of minutes), oldest first, with a point for
// every step, traffic or not.
func (s *Store) Series(ctx context.Context, gateway, rule string, since, until time.Time, step time.Duration) ([]Point, error) {
	stepMin := max(int64(step/time.Minute), 1)
	first := since.Unix() / 60 / stepMin * stepMin
	last := (until.Unix() - 1) / 60
	if last < first {
		return []Point{}, nil
	}
	n := (last-first)/stepMin + 1
	sums := make([]rollup, n)
	rows, err := s.db.QueryContext(ctx, `SELECT minute, requests, s1xx, s2xx, s3xx, s4xx, s5xx, sother, latency
		FROM rollups WHERE gateway = ? AND rule = ? AND minute >= ? AND minute <= ?`, gateway, rule, first, last)
	if err != nil {
		return nil, fmt.Errorf("access log series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var minute int64
		var r rollup
		var blob []byte
		if err := rows.Scan(&minute, &r.requests, &r.classes[0], &r.classes[1], &r.classes[2], &r.classes[3],
			&r.classes[4], &r.classes[5], &blob); err != nil {
			return nil, fmt.Errorf("access log series: %w", err)
		}
		if r.latency, err = decodeHistogram(blob); err != nil {
			return nil, fmt.Errorf("access log series: rule %q minute %d: %w", rule, minute, err)
		}
		sums[(minute-first)/stepMin].merge(&r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("access log series: %w", err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	out := make([]Point, n)
	for i := range sums {
		r := &sums[i]
		p := Point{Time: time.Unix((first+int64(i)*stepMin)*60, 0).UTC(), Requests: r.requests,
			Errors: r.classes[4] + r.classes[5], P50Ms: ms(r.latency.quantile(0.5)), P99Ms: ms(r.latency.quantile(0.99))}
		if r.requests > 0 {
			p.ErrorRate = float64(p.Errors) / float64(r.requests)
		}
		out[i] = p
	}
	return out, nil
}
