// Package accesslog keeps the requests gateways serve, as their proxies
// report them over Envoy's gRPC access log service: recent entries per
// gateway and per-rule per-minute rollups (requests by status class,
// latency percentiles), in a SQLite database of its own so the request
// log's churn never slows the configuration store. Size is bounded by age
// and count, enforced as entries arrive; entries are written in batches by
// one goroutine, never on the gRPC path.
package accesslog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/routedeck/routedeck/backend/xds"
)

// Defaults of Options.
const (
	DefaultMaxAge       = 24 * time.Hour
	DefaultMaxEntries   = 1_000_000
	DefaultRollupMaxAge = 30 * 24 * time.Hour
	// DefaultMaxQueued and DefaultMaxQueuedBytes bound what is received
	// but not yet written.
	DefaultMaxQueued      = 100_000
	DefaultMaxQueuedBytes = 64 << 20
)

// flushRows and flushEvery say when the writer commits: a full batch or
// a short wait, so a follower sees an entry within a fraction of a second
// and a busy gateway is written a few thousand rows per transaction.
const (
	flushRows  = 4000
	flushEvery = 200 * time.Millisecond
	// retentionEvery is how often entries and rollups past their age go.
	retentionEvery = time.Minute
)

// Options configure Open. Zero values take the defaults.
type Options struct {
	// MaxAge and MaxEntries bound the entries kept per gateway: older
	// ones, and the oldest past the count, are deleted.
	MaxAge     time.Duration
	MaxEntries int
	// RollupMaxAge is how long per-minute rollups are kept.
	RollupMaxAge time.Duration
	// MaxQueued and MaxQueuedBytes (encoded, as received) bound the
	// entries waiting to be written; past either, new ones are dropped
	// and counted.
	MaxQueued      int
	MaxQueuedBytes int
	// Files, when Files.Dir is set, also writes every entry to a rotated
	// JSON-lines file per gateway.
	Files FileOptions
	// Now is the clock (tests inject one).
	Now    func() time.Time
	Logger *slog.Logger
}

// Store is the access log database. It implements xds.AccessLogSink.
type Store struct {
	db      *sql.DB
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	// files writes the JSON-lines files; nil when they are off.
	files *fileSink

	queue       chan batch
	queued      atomic.Int64
	queuedBytes atomic.Int64
	stop        chan struct{}
	done        chan struct{}
	closed      atomic.Bool
	// sync asks the writer to commit what is queued (and, with retain,
	// to enforce retention) and answer.
	sync chan syncRequest

	// Owned by the writer goroutine: entries stored per gateway, and
	// when retention last ran.
	counts    map[string]int
	retention time.Time

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every commit

	// scanRows bounds the entries one query examines (tests lower it).
	scanRows int
	// pagesRead counts the queries of listings, so tests can hold a
	// listing to the pages it needs.
	pagesRead atomic.Int64
}

var _ xds.AccessLogSink = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS entries (
	id INTEGER PRIMARY KEY,
	gateway TEXT NOT NULL,
	ts INTEGER NOT NULL,          -- request start, unix microseconds
	node TEXT NOT NULL,
	version TEXT NOT NULL,
	route TEXT NOT NULL,          -- Envoy route name
	rule TEXT NOT NULL,           -- routedeck rule, '' when none
	method TEXT NOT NULL,
	scheme TEXT NOT NULL,
	host TEXT NOT NULL,           -- lower case
	path TEXT NOT NULL,
	original_path TEXT NOT NULL,
	status INTEGER NOT NULL,
	duration_us INTEGER NOT NULL,
	flags TEXT NOT NULL,
	details TEXT NOT NULL,
	upstream_cluster TEXT NOT NULL,
	upstream_host TEXT NOT NULL,
	client TEXT NOT NULL,
	user_agent TEXT NOT NULL,
	request_id TEXT NOT NULL,
	bytes_received INTEGER NOT NULL,
	bytes_sent INTEGER NOT NULL,
	headers TEXT NOT NULL         -- JSON object of the kept request headers
);
CREATE INDEX IF NOT EXISTS entries_gateway_ts ON entries (gateway, ts, id);
-- Earlier databases index rules too; each index costs every insert, and
-- queries no longer need it (see scanRows in query.go).
DROP INDEX IF EXISTS entries_gateway_rule_ts;
CREATE TABLE IF NOT EXISTS rollups (
	gateway TEXT NOT NULL,
	rule TEXT NOT NULL,
	minute INTEGER NOT NULL,      -- unix minutes
	requests INTEGER NOT NULL,
	s1xx INTEGER NOT NULL, s2xx INTEGER NOT NULL, s3xx INTEGER NOT NULL,
	s4xx INTEGER NOT NULL, s5xx INTEGER NOT NULL, sother INTEGER NOT NULL,
	latency BLOB NOT NULL,        -- histogram, see histogram.go
	PRIMARY KEY (gateway, rule, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollups_minute ON rollups (minute);
`

// Open opens (creating) the database at path and starts the writer.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open access log: invalid database path %q", path)
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.RollupMaxAge <= 0 {
		opts.RollupMaxAge = DefaultRollupMaxAge
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = DefaultMaxQueued
	}
	if opts.MaxQueuedBytes <= 0 {
		opts.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := createFile(ctx, path); err != nil {
		return nil, fmt.Errorf("open access log %s: %w", path, err)
	}
	// synchronous(NORMAL): a crash may lose the last commits, which a
	// request log can afford; the configuration store cannot and keeps
	// FULL.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32768)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open access log %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open access log %s: %w", path, err)
	}
	s := &Store{db: db, opts: opts, log: opts.Logger, metrics: newMetrics(),
		queue: make(chan batch, 4096), stop: make(chan struct{}), done: make(chan struct{}),
		sync: make(chan syncRequest), counts: map[string]int{}, changed: make(chan struct{}), scanRows: scanRows}
	rows, err := db.QueryContext(ctx, `SELECT gateway, COUNT(*) FROM entries GROUP BY gateway`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open access log %s: %w", path, err)
	}
	for rows.Next() {
		var g string
		var n int
		if err := rows.Scan(&g, &n); err != nil {
			rows.Close()
			db.Close()
			return nil, fmt.Errorf("open access log %s: %w", path, err)
		}
		s.counts[g] = n
	}
	rows.Close()
	if err := s.enforceRetention(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Files.Dir != "" {
		if s.files, err = newFileSink(opts.Files, s.log, s.metrics.fileDropped); err != nil {
			db.Close()
			return nil, err
		}
	}
	go s.run()
	return s, nil
}

// pageSize is the new database's page size. An entry is a few hundred
// bytes with its two index keys; pages four times SQLite's default hold
// four times the rows, so B-tree inserts split and rebalance pages a
// quarter as often.
const pageSize = 16384

// createFile creates the database file with pageSize. The driver applies
// a DSN's pragmas in name order, journal_mode before page_size, and the
// switch to WAL writes the first page, fixing the size; so the file is
// made here first. An existing file keeps its page size.
func createFile(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, fmt.Sprintf(`PRAGMA page_size = %d; PRAGMA journal_mode = WAL`, pageSize))
	return err
}

// Metrics returns the store's Prometheus collectors.
func (s *Store) Metrics() *Metrics { return s.metrics }

// batch is an offered batch as it waits for the writer: its entries
// already converted, which frees the decoded messages, several times
// larger, as they arrive instead of when they are written.
type batch struct {
	entries []Entry
	bytes   int // encoded size, for MaxQueuedBytes
}

// Offer queues a batch for writing without blocking; false when the queue
// is full (or the store closed) and the batch was dropped.
func (s *Store) Offer(b xds.AccessLogBatch) bool {
	n, size := int64(len(b.Entries)), int64(b.Bytes)
	over := s.queued.Add(n) > int64(s.opts.MaxQueued)
	over = s.queuedBytes.Add(size) > int64(s.opts.MaxQueuedBytes) || over
	if !over && !s.closed.Load() {
		q := batch{entries: make([]Entry, len(b.Entries)), bytes: b.Bytes}
		for i, pe := range b.Entries {
			q.entries[i] = fromProto(b, pe)
		}
		select {
		case s.queue <- q:
			return true
		default:
		}
	}
	s.queued.Add(-n)
	s.queuedBytes.Add(-size)
	s.metrics.dropped.Add(float64(n))
	return false
}

// release forgets a batch's share of the queue bounds.
func (s *Store) release(b batch) {
	s.queued.Add(-int64(len(b.entries)))
	s.queuedBytes.Add(-int64(b.bytes))
}

// Close writes what is queued and closes the database.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	<-s.done
	if s.files != nil {
		s.files.close()
	}
	return s.db.Close()
}

// Changed returns a channel closed at the next commit of entries.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Store) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// run is the writer: it gathers batches and commits them together.
func (s *Store) run() {
	defer close(s.done)
	ticker := time.NewTicker(flushEvery)
	defer ticker.Stop()
	var pending []batch
	rows := 0
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if err := s.write(context.Background(), pending); err != nil {
			s.log.Error("access log: write failed; entries lost", "entries", rows, "err", err)
			s.metrics.dropped.Add(float64(rows))
		}
		for _, b := range pending {
			s.release(b)
		}
		clear(pending)
		pending, rows = pending[:0], 0
	}
	// drain takes what is queued now, so a Flush or Close that follows
	// an Offer finds its batch written.
	drain := func() {
		for {
			select {
			case b := <-s.queue:
				pending = append(pending, b)
				rows += len(b.entries)
			default:
				return
			}
		}
	}
	for {
		select {
		case b := <-s.queue:
			pending = append(pending, b)
			rows += len(b.entries)
			if rows >= flushRows {
				flush()
			}
		case req := <-s.sync:
			drain()
			flush()
			var err error
			if req.retain {
				err = s.enforceRetention(context.Background())
			}
			req.done <- err
		case <-ticker.C:
			flush()
			if s.opts.Now().Sub(s.retention) >= retentionEvery {
				if err := s.enforceRetention(context.Background()); err != nil {
					s.log.Error("access log: retention failed", "err", err)
				}
			}
		case <-s.stop:
			drain()
			flush()
			return
		}
	}
}

// write stores batches in one transaction: the entries, the rollups they
// add to, and the count bound of each gateway they touch.
func (s *Store) write(ctx context.Context, batches []batch) error {
	start := time.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	ins := &inserter{tx: tx}
	defer ins.close()
	roll := map[rollupKey]*rollup{}
	added := map[string]int{}
	var kept []Entry // for the files
	for _, b := range batches {
		if s.files != nil {
			kept = append(kept, b.entries...)
		}
		for i := range b.entries {
			e := &b.entries[i]
			if err := ins.add(ctx, e); err != nil {
				return err
			}
			added[e.Gateway]++
			k := rollupKey{gateway: e.Gateway, rule: e.Rule, minute: e.Time.Unix() / 60}
			r := roll[k]
			if r == nil {
				r = &rollup{}
				roll[k] = r
			}
			r.add(e.Status, e.duration)
			s.metrics.observe(e)
		}
	}
	if err := ins.flush(ctx); err != nil {
		return err
	}
	if err := mergeRollups(ctx, tx, roll); err != nil {
		return err
	}
	trimmed := map[string]int{}
	for g, n := range added {
		total := s.counts[g] + n
		if over := total - s.opts.MaxEntries; over > 0 {
			res, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE id IN
				(SELECT id FROM entries WHERE gateway = ? ORDER BY ts, id LIMIT ?)`, g, over)
			if err != nil {
				return err
			}
			d, _ := res.RowsAffected()
			total -= int(d)
		}
		trimmed[g] = total
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for g, n := range trimmed {
		s.counts[g] = n
	}
	if s.files != nil {
		s.files.offer(kept)
	}
	s.metrics.write.Observe(time.Since(start).Seconds())
	s.notify()
	return nil
}

// enforceRetention deletes entries past MaxAge and rollups past
// RollupMaxAge. It runs on the writer goroutine (or before it starts).
func (s *Store) enforceRetention(ctx context.Context) error {
	now := s.opts.Now()
	s.retention = now
	cut := now.Add(-s.opts.MaxAge).UnixMicro()
	for g := range s.counts {
		res, err := s.db.ExecContext(ctx, `DELETE FROM entries WHERE gateway = ? AND ts < ?`, g, cut)
		if err != nil {
			return fmt.Errorf("access log retention: %w", err)
		}
		n, _ := res.RowsAffected()
		s.counts[g] -= int(n)
		if s.counts[g] <= 0 {
			delete(s.counts, g)
		}
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM rollups WHERE minute < ?`, now.Add(-s.opts.RollupMaxAge).Unix()/60); err != nil {
		return fmt.Errorf("access log retention: %w", err)
	}
	return nil
}

const insertColumns = `gateway, ts, node, version, route, rule, method, scheme, host, path, original_path, status,
	duration_us, flags, details, upstream_cluster, upstream_host, client, user_agent, request_id, bytes_received, bytes_sent, headers`

// insertRows is how many entries one INSERT statement writes: SQLite's
// cost is mostly per statement, so rows go in groups.
const (
	insertRows   = 64
	insertParams = 23
)

// inserter writes entries insertRows at a time within a transaction.
type inserter struct {
	tx   *sql.Tx
	full *sql.Stmt
	args []any
}

func (in *inserter) add(ctx context.Context, e *Entry) error {
	in.args = append(in.args, e.Gateway, e.Time.UnixMicro(), e.Node, e.Version, e.Route, e.Rule, e.Method, e.Scheme,
		e.Host, e.Path, e.OriginalPath, e.Status, e.duration.Microseconds(), e.ResponseFlags, e.ResponseDetails,
		e.UpstreamCluster, e.UpstreamHost, e.Client, e.UserAgent, e.RequestID, int64(e.BytesReceived), int64(e.BytesSent),
		e.headersJSON())
	if len(in.args) < insertRows*insertParams {
		return nil
	}
	if in.full == nil {
		st, err := in.tx.PrepareContext(ctx, insertStatement(insertRows))
		if err != nil {
			return err
		}
		in.full = st
	}
	_, err := in.full.ExecContext(ctx, in.args...)
	in.args = in.args[:0]
	return err
}

// flush writes the rows of a last, partial group.
func (in *inserter) flush(ctx context.Context) error {
	if len(in.args) == 0 {
		return nil
	}
	_, err := in.tx.ExecContext(ctx, insertStatement(len(in.args)/insertParams), in.args...)
	in.args = in.args[:0]
	return err
}

func (in *inserter) close() {
	if in.full != nil {
		in.full.Close()
	}
}

// insertStatement is an INSERT of rows entries. OR FAIL: a plain INSERT
// of several rows may abort half-way, so SQLite keeps a statement journal
// of every page it touches to undo it, a tenth of the writer's time; the
// rows cannot conflict (the id is assigned, every column has a value), and
// any failure rolls the whole transaction back anyway.
func insertStatement(rows int) string {
	row := "(" + strings.Repeat("?,", insertParams-1) + "?)"
	return "INSERT OR FAIL INTO entries (" + insertColumns + ") VALUES " + strings.Repeat(row+",", rows-1) + row
}

type syncRequest struct {
	retain bool
	done   chan error
}

// Flush waits until every batch offered before it is written.
func (s *Store) Flush(ctx context.Context) error { return s.request(ctx, false) }

// EnforceRetention writes what is queued, then deletes what is past its
// age now, as the writer does every minute.
func (s *Store) EnforceRetention(ctx context.Context) error { return s.request(ctx, true) }

func (s *Store) request(ctx context.Context, retain bool) error {
	req := syncRequest{retain: retain, done: make(chan error, 1)}
	select {
	case s.sync <- req:
	case <-s.done:
		return errors.New("access log store closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
