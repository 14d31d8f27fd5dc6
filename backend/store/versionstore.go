package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// Published versions are stored by content: every object of a version is
// a blob (its sealed JSON) named by the SHA-256 of its bytes, the objects
// of each section of the workspace are grouped into chunks (blobs too: the
// concatenated hashes of their objects), and a version row holds only its
// manifest, the hashes of its chunks. Versions share every object and
// chunk they have in common, so a publish after a one-route edit of a
// 10,000-route gateway writes that route, the chunk around it and a
// manifest of a few kilobytes, not a copy of the whole gateway, and every
// version still reads back whole.
//
// Chunks are cut where an object's hash says so (content-defined), so an
// added or removed route changes the chunk around it, not every chunk
// after it.
//
// Blobs are never updated in place, only added with the version that
// first holds them, in that publish's transaction: a version row commits
// with everything it names. Rewriting stored secrets (rekey.go) writes new
// blobs and collects the ones no version names any more.

// The sections of a version, in model.Workspace's field order.
const (
	sectionSecrets = iota
	sectionGateways
	sectionUpstreams
	sectionRoutes
	numSections
)

var (
	sectionFields = [numSections]string{"secrets", "gateways", "upstreams", "routes"}
	sectionKinds  = [numSections]string{model.KindSecret, model.KindGateway, model.KindUpstream, model.KindRoute}
)

type hash [sha256.Size]byte

// blob is a stored object or chunk: its bytes and their hash.
type blob struct {
	hash hash
	body []byte
}

func newBlob(body []byte) blob { return blob{hash: sha256.Sum256(body), body: body} }

// sections are a version's objects, encoded, by section.
type sections [numSections][]blob

// json is the version's workspace as one JSON document, decoded as a
// model.Workspace.
func (s sections) json() []byte {
	size := 2
	for _, sec := range s {
		for _, b := range sec {
			size += len(b.body) + 1
		}
		size += 16
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '{')
	first := true
	for i, sec := range s {
		if len(sec) == 0 {
			continue // omitempty
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, '"')
		buf = append(buf, sectionFields[i]...)
		buf = append(buf, `":[`...)
		for j, b := range sec {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, b.body...)
		}
		buf = append(buf, ']')
	}
	return append(buf, '}')
}

// A chunk ends after an object whose hash's first byte has its low six
// bits clear (one in 64 on average) or at maxChunk objects.
const (
	chunkMask = 63
	maxChunk  = 512
)

// chunks cuts a section's objects into chunks.
func chunks(objs []blob) [][]blob {
	var out [][]blob
	start := 0
	for i, o := range objs {
		if o.hash[0]&chunkMask == 0 || i+1-start == maxChunk || i == len(objs)-1 {
			out = append(out, objs[start:i+1])
			start = i + 1
		}
	}
	return out
}

func chunkBlob(objs []blob) blob {
	body := make([]byte, 0, len(objs)*sha256.Size)
	for _, o := range objs {
		body = append(body, o.hash[:]...)
	}
	return newBlob(body)
}

// manifestFormat is the first byte of a manifest; a manifest is then, for
// each section, the number of its chunks (uvarint) and their hashes.
const manifestFormat = 1

func parseManifest(m []byte) ([numSections][]hash, error) {
	var out [numSections][]hash
	if len(m) == 0 || m[0] != manifestFormat {
		return out, errors.New("unknown manifest format")
	}
	m = m[1:]
	for i := range out {
		n, k := binary.Uvarint(m)
		if k <= 0 || n > uint64(len(m)/sha256.Size) {
			return out, errors.New("damaged manifest")
		}
		m = m[k:]
		out[i] = make([]hash, n)
		for j := range out[i] {
			out[i][j] = hash(m[:sha256.Size])
			m = m[sha256.Size:]
		}
	}
	if len(m) != 0 {
		return out, errors.New("damaged manifest")
	}
	return out, nil
}

func splitHashes(body []byte) ([]hash, error) {
	if len(body)%sha256.Size != 0 {
		return nil, errors.New("damaged chunk")
	}
	out := make([]hash, len(body)/sha256.Size)
	for i := range out {
		out[i] = hash(body[i*sha256.Size:])
	}
	return out, nil
}

// writeVersion stores secs's objects and chunks that prev, the manifest
// of the gateway's latest version (nil if none), does not name already,
// and returns the manifest of secs. A chunk stored is stored with all its
// objects, so a chunk prev names needs nothing written.
func writeVersion(ctx context.Context, q querier, prev []byte, secs sections) ([]byte, error) {
	have := map[hash]bool{}
	if prev != nil {
		old, err := parseManifest(prev)
		if err != nil {
			return nil, err
		}
		for _, sec := range old {
			for _, h := range sec {
				have[h] = true
			}
		}
	}
	manifest := []byte{manifestFormat}
	var rows []blob
	for _, sec := range secs {
		cs := chunks(sec)
		manifest = binary.AppendUvarint(manifest, uint64(len(cs)))
		for _, objs := range cs {
			c := chunkBlob(objs)
			manifest = append(manifest, c.hash[:]...)
			if !have[c.hash] {
				have[c.hash] = true
				rows = append(rows, objs...)
				rows = append(rows, c)
			}
		}
	}
	// In hash order, each statement's rows land side by side in the
	// table's B-tree (keyed by hash) instead of splitting pages all over
	// it: a cold publish of 10,000 routes inserts in half the time.
	slices.SortFunc(rows, func(a, b blob) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	return manifest, insertBlobs(ctx, q, rows)
}

// blobBatch bounds the rows, and so the parameters, of one statement.
const blobBatch = 400

// insertBlobs adds blobs not stored yet; a blob stored already is the
// same bytes, being named by them. Full batches share one prepared
// statement: parsing the statement of 400 rows again for each batch took
// a fifth of a first publish's inserts.
func insertBlobs(ctx context.Context, q querier, blobs []blob) error {
	var full *sql.Stmt
	if p, ok := q.(interface {
		PrepareContext(context.Context, string) (*sql.Stmt, error)
	}); ok && len(blobs) >= 2*blobBatch {
		var err error
		if full, err = p.PrepareContext(ctx, insertBlobsSQL(blobBatch)); err != nil {
			return fmt.Errorf("store version objects: %w", err)
		}
		defer full.Close()
	}
	for len(blobs) > 0 {
		n := min(len(blobs), blobBatch)
		args := make([]any, 0, 2*n)
		for _, b := range blobs[:n] {
			args = append(args, b.hash[:], b.body)
		}
		var err error
		if full != nil && n == blobBatch {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = q.ExecContext(ctx, insertBlobsSQL(n), args...)
		}
		if err != nil {
			return fmt.Errorf("store version objects: %w", err)
		}
		blobs = blobs[n:]
	}
	return nil
}

// insertBlobsSQL is the statement inserting n blobs.
func insertBlobsSQL(n int) string {
	return `INSERT OR IGNORE INTO version_blobs (hash, body) VALUES (?,?)` + strings.Repeat(",(?,?)", n-1)
}

// fetchBlobs reads the blobs named; one missing is an error.
func fetchBlobs(ctx context.Context, q querier, hashes []hash) (map[hash][]byte, error) {
	out := make(map[hash][]byte, len(hashes))
	var want []hash
	for _, h := range hashes {
		if _, ok := out[h]; !ok {
			out[h] = nil
			want = append(want, h)
		}
	}
	for len(want) > 0 {
		n := min(len(want), blobBatch)
		args := make([]any, n)
		for i, h := range want[:n] {
			args[i] = h[:]
		}
		rows, err := q.QueryContext(ctx, `SELECT hash, body FROM version_blobs WHERE hash IN (?`+strings.Repeat(",?", n-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read version objects: %w", err)
		}
		for rows.Next() {
			var k, body []byte
			if err := rows.Scan(&k, &body); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read version objects: %w", err)
			}
			if len(k) == sha256.Size {
				out[hash(k)] = body
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read version objects: %w", err)
		}
		want = want[n:]
	}
	for h, body := range out {
		if body == nil {
			return nil, fmt.Errorf("version object %x is missing", h[:8])
		}
	}
	return out, nil
}

// readVersion reads the objects manifest names.
func readVersion(ctx context.Context, q querier, manifest []byte) (sections, error) {
	var out sections
	secChunks, err := parseManifest(manifest)
	if err != nil {
		return out, err
	}
	var all []hash
	for _, sec := range secChunks {
		all = append(all, sec...)
	}
	chunkBodies, err := fetchBlobs(ctx, q, all)
	if err != nil {
		return out, err
	}
	var objHashes [numSections][]hash
	all = all[:0]
	for i, sec := range secChunks {
		for _, c := range sec {
			hs, err := splitHashes(chunkBodies[c])
			if err != nil {
				return out, err
			}
			objHashes[i] = append(objHashes[i], hs...)
		}
		all = append(all, objHashes[i]...)
	}
	bodies, err := fetchBlobs(ctx, q, all)
	if err != nil {
		return out, err
	}
	for i, hs := range objHashes {
		for _, h := range hs {
			out[i] = append(out[i], blob{hash: h, body: bodies[h]})
		}
	}
	return out, nil
}

// collectBlobs deletes the blobs no version names, and returns how many.
func collectBlobs(ctx context.Context, q *sql.Tx) (int, error) {
	var manifests [][]byte
	if err := collect(ctx, q, `SELECT manifest FROM published`, func(r *sql.Rows) error {
		var m []byte
		if err := r.Scan(&m); err != nil {
			return err
		}
		manifests = append(manifests, m)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("read versions: %w", err)
	}
	live := map[hash]bool{}
	var chunkHashes []hash
	for _, m := range manifests {
		secs, err := parseManifest(m)
		if err != nil {
			return 0, err
		}
		for _, sec := range secs {
			for _, h := range sec {
				if !live[h] {
					live[h] = true
					chunkHashes = append(chunkHashes, h)
				}
			}
		}
	}
	chunkBodies, err := fetchBlobs(ctx, q, chunkHashes)
	if err != nil {
		return 0, err
	}
	for _, body := range chunkBodies {
		hs, err := splitHashes(body)
		if err != nil {
			return 0, err
		}
		for _, h := range hs {
			live[h] = true
		}
	}
	var dead [][]byte
	if err := collect(ctx, q, `SELECT hash FROM version_blobs`, func(r *sql.Rows) error {
		var k []byte
		if err := r.Scan(&k); err != nil {
			return err
		}
		if len(k) != sha256.Size || !live[hash(k)] {
			dead = append(dead, k)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("read version objects: %w", err)
	}
	for i := 0; i < len(dead); i += blobBatch {
		part := dead[i:min(i+blobBatch, len(dead))]
		args := make([]any, len(part))
		for j, k := range part {
			args[j] = k
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM version_blobs WHERE hash IN (?`+strings.Repeat(",?", len(part)-1)+`)`, args...); err != nil {
			return 0, fmt.Errorf("delete version objects: %w", err)
		}
	}
	return len(dead), nil
}

// splitWholeVersion cuts a version stored as one workspace document into
// its objects, byte for byte as stored.
func splitWholeVersion(body []byte) (sections, error) {
	var out sections
	var raw struct {
		Secrets   []json.RawMessage `json:"secrets"`
		Gateways  []json.RawMessage `json:"gateways"`
		Upstreams []json.RawMessage `json:"upstreams"`
		Routes    []json.RawMessage `json:"routes"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return out, err
	}
	for i, sec := range [numSections][]json.RawMessage{raw.Secrets, raw.Gateways, raw.Upstreams, raw.Routes} {
		for _, m := range sec {
			out[i] = append(out[i], newBlob(m))
		}
	}
	return out, nil
}

// migrateWholeVersions moves the versions the store kept as one document
// each (published_whole, as migration 7 leaves them) into the version
// store, oldest first per gateway, so each shares what it can with the
// one before, and drops their table. It runs in the migration's
// transaction: the move happens whole or not at all.
func migrateWholeVersions(ctx context.Context, tx *sql.Tx) error {
	type key struct {
		gateway string
		version int64
	}
	var keys []key
	if err := collect(ctx, tx, `SELECT gateway, version FROM published_whole ORDER BY gateway, version`, func(r *sql.Rows) error {
		var k key
		if err := r.Scan(&k.gateway, &k.version); err != nil {
			return err
		}
		keys = append(keys, k)
		return nil
	}); err != nil {
		return fmt.Errorf("read versions: %w", err)
	}
	var prev []byte
	prevGateway := ""
	for _, k := range keys {
		var at int64
		var actor, note, body string
		var digest sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT at, actor, note, workspace, digest FROM published_whole WHERE gateway = ? AND version = ?`,
			k.gateway, k.version).Scan(&at, &actor, &note, &body, &digest); err != nil {
			return fmt.Errorf("read %q version %d: %w", k.gateway, k.version, err)
		}
		secs, err := splitWholeVersion([]byte(body))
		if err != nil {
			return fmt.Errorf("decode %q version %d: %w", k.gateway, k.version, err)
		}
		if k.gateway != prevGateway {
			prev, prevGateway = nil, k.gateway
		}
		manifest, err := writeVersion(ctx, tx, prev, secs)
		if err != nil {
			return fmt.Errorf("%q version %d: %w", k.gateway, k.version, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO published (gateway, version, at, actor, note, digest, manifest) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.gateway, k.version, at, actor, note, digest, manifest); err != nil {
			return fmt.Errorf("write %q version %d: %w", k.gateway, k.version, err)
		}
		prev = manifest
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE published_whole`); err != nil {
		return fmt.Errorf("drop the old versions: %w", err)
	}
	return nil
}

// rewriteVersionSecrets applies apply to every object of every published
// version; each object the versions share is rewritten once. The versions
// whose objects changed get new manifests, and the blobs no version names
// any more (the old sealings, or clear values) are deleted. It returns
// how many versions it rewrote.
func rewriteVersionSecrets(ctx context.Context, tx *sql.Tx, apply func(model.Object) (bool, error)) (int, error) {
	type row struct {
		gateway  string
		version  int64
		manifest []byte
	}
	var rows []row
	if err := collect(ctx, tx, `SELECT gateway, version, manifest FROM published ORDER BY gateway, version`, func(r *sql.Rows) error {
		var v row
		if err := r.Scan(&v.gateway, &v.version, &v.manifest); err != nil {
			return err
		}
		rows = append(rows, v)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("read published versions: %w", err)
	}
	rewritten := map[hash]blob{} // by the hash of the object as stored
	total := 0
	var prev []byte
	prevGateway := ""
	for _, r := range rows {
		if r.gateway != prevGateway {
			prev, prevGateway = nil, r.gateway
		}
		secs, err := readVersion(ctx, tx, r.manifest)
		if err != nil {
			return 0, fmt.Errorf("published %q version %d: %w", r.gateway, r.version, err)
		}
		changed := false
		for i, sec := range secs {
			for j, b := range sec {
				nb, ok := rewritten[b.hash]
				if !ok {
					obj := model.NewObject(sectionKinds[i])
					if err := json.Unmarshal(b.body, obj); err != nil {
						return 0, fmt.Errorf("decode published %q version %d: %w", r.gateway, r.version, err)
					}
					c, err := apply(obj)
					if err != nil {
						return 0, fmt.Errorf("published %q version %d: %w", r.gateway, r.version, err)
					}
					nb = b
					if c {
						body, err := json.Marshal(obj)
						if err != nil {
							return 0, fmt.Errorf("encode published %q version %d: %w", r.gateway, r.version, err)
						}
						nb = newBlob(body)
					}
					rewritten[b.hash] = nb
				}
				if nb.hash != b.hash {
					secs[i][j] = nb
					changed = true
				}
			}
		}
		manifest := r.manifest
		if changed {
			// prev is the manifest of the gateway's version before, as
			// rewritten: what it names is stored.
			if manifest, err = writeVersion(ctx, tx, prev, secs); err != nil {
				return 0, fmt.Errorf("published %q version %d: %w", r.gateway, r.version, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE published SET manifest = ? WHERE gateway = ? AND version = ?`,
				manifest, r.gateway, r.version); err != nil {
				return 0, fmt.Errorf("write published %q version %d: %w", r.gateway, r.version, err)
			}
			total++
		}
		prev = manifest
	}
	if total > 0 {
		if _, err := collectBlobs(ctx, tx); err != nil {
			return 0, err
		}
	}
	return total, nil
}
