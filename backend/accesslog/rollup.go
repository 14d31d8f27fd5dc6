package accesslog

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// Latency is kept per rule and minute as a histogram over fixed,
// exponentially growing buckets: bucket i holds durations up to
// histBase * histGrowth^i. Fixed buckets make rollups mergeable by adding
// counts (minutes into windows, proxies into gateways) at the cost of a
// percentile being known to within one bucket: about 10%.
const (
	histBuckets = 80
	histGrowth  = 1.2
	histBase    = 100 * time.Microsecond // bucket 0: up to 0.1 ms; bucket 79: about 3 minutes
)

var histBounds = func() [histBuckets]time.Duration {
	var b [histBuckets]time.Duration
	for i := range b {
		b[i] = time.Duration(float64(histBase) * math.Pow(histGrowth, float64(i)))
	}
	return b
}()

// histogram counts durations per bucket.
type histogram [histBuckets]uint64

func bucketOf(d time.Duration) int {
	if d <= histBase {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(histBase)) / math.Log(histGrowth)))
	// Float rounding may land one bucket off either way.
	for i > 0 && i < histBuckets && histBounds[i-1] >= d {
		i--
	}
	for i < histBuckets && histBounds[i] < d {
		i++
	}
	return min(i, histBuckets-1)
}

func (h *histogram) add(d time.Duration) { h[bucketOf(d)]++ }

func (h *histogram) merge(o *histogram) {
	for i := range h {
		h[i] += o[i]
	}
}

// quantile returns the upper bound of the bucket holding the q-quantile,
// 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return histBounds[i]
		}
	}
	return histBounds[histBuckets-1]
}

// encode writes the non-empty buckets as (index, count) varint pairs:
// a minute of one rule's traffic touches a handful of buckets.
func (h *histogram) encode() []byte {
	var b []byte
	for i, c := range h {
		if c > 0 {
			b = binary.AppendUvarint(b, uint64(i))
			b = binary.AppendUvarint(b, c)
		}
	}
	return b
}

func decodeHistogram(b []byte) (histogram, error) {
	var h histogram
	for len(b) > 0 {
		i, n := binary.Uvarint(b)
		if n <= 0 || i >= histBuckets {
			return h, errors.New("corrupt latency histogram")
		}
		b = b[n:]
		c, n := binary.Uvarint(b)
		if n <= 0 {
			return h, errors.New("corrupt latency histogram")
		}
		b = b[n:]
		h[i] += c
	}
	return h, nil
}

type rollupKey struct {
	gateway, rule string
	minute        int64
}

// rollup is one rule's traffic in one minute (or, summed, a window).
type rollup struct {
	requests uint64
	classes  [6]uint64 // 1xx..5xx, then anything else (0: no response)
	latency  histogram
}

func statusClass(status int) int {
	if status >= 100 && status < 600 {
		return status/100 - 1
	}
	return 5
}

func (r *rollup) add(status int, d time.Duration) {
	r.requests++
	r.classes[statusClass(status)]++
	r.latency.add(d)
}

func (r *rollup) merge(o *rollup) {
	r.requests += o.requests
	for i := range r.classes {
		r.classes[i] += o.classes[i]
	}
	r.latency.merge(&o.latency)
}

// mergeRollups adds rs to the stored rollups in tx.
func mergeRollups(ctx context.Context, tx *sql.Tx, rs map[rollupKey]*rollup) error {
	get, err := tx.PrepareContext(ctx, `SELECT requests, s1xx, s2xx, s3xx, s4xx, s5xx, sother, latency FROM rollups
		WHERE gateway = ? AND rule = ? AND minute = ?`)
	if err != nil {
		return err
	}
	defer get.Close()
	put, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO rollups (gateway, rule, minute, requests, s1xx, s2xx, s3xx, s4xx, s5xx, sother, latency)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer put.Close()
	for k, r := range rs {
		var old rollup
		var blob []byte
		err := get.QueryRowContext(ctx, k.gateway, k.rule, k.minute).Scan(&old.requests, &old.classes[0], &old.classes[1],
			&old.classes[2], &old.classes[3], &old.classes[4], &old.classes[5], &blob)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if old.latency, err = decodeHistogram(blob); err != nil {
				return err
			}
			r.merge(&old)
		}
		if _, err := put.ExecContext(ctx, k.gateway, k.rule, k.minute, r.requests, r.classes[0], r.classes[1], r.classes[2],
			r.classes[3], r.classes[4], r.classes[5], r.latency.encode()); err != nil {
			return err
		}
	}
	return nil
}
