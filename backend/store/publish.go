package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// publish records the gateway's draft, as q's transaction sees it, as the
// gateway's next version.
func publish(ctx context.Context, q querier, keys *seal.Keyring, enc *versionEncoder, now time.Time, actor, gateway, note string) (Published, error) {
	ws, err := gatewayWorkspace(ctx, q, keys, gateway)
	if err != nil {
		return Published{}, err
	}
	p, _, err := publishWorkspace(ctx, q, keys, enc, now, actor, gateway, note, ws, false)
	return p, err
}

// publishWorkspace records ws as the gateway's next version. With
// skipEqual, a ws equal to the latest version records nothing and returns
// that version with unchanged set.
func publishWorkspace(ctx context.Context, q querier, keys *seal.Keyring, enc *versionEncoder, now time.Time, actor, gateway, note string,
	ws model.Workspace, skipEqual bool) (p Published, unchanged bool, err error) {
	// The encoding reuses what the gateway's last version encoded, so
	// it costs little even when the draft turns out unchanged; the
	// digest comes out of the same walk.
	secs, digest, err := enc.encode(keys, gateway, ws)
	if err != nil {
		return Published{}, false, fmt.Errorf("publish %q: encode: %w", gateway, err)
	}
	var last int64
	var lastDigest sql.NullString
	var lastManifest []byte
	err = q.QueryRowContext(ctx, `SELECT version, digest, manifest FROM published WHERE gateway = ?
		ORDER BY version DESC LIMIT 1`, gateway).Scan(&last, &lastDigest, &lastManifest)
	switch {
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return Published{}, false, fmt.Errorf("publish %q: read latest version: %w", gateway, err)
	case skipEqual && err == nil && lastDigest.Valid && lastDigest.String == digest:
		return Published{Gateway: gateway, Version: last, Workspace: ws}, true, nil
	}
	manifest, err := writeVersion(ctx, q, lastManifest, secs)
	if err != nil {
		return Published{}, false, fmt.Errorf("publish %q: %w", gateway, err)
	}
	// Writes run in BEGIN IMMEDIATE transactions on the one writer, so
	// the latest version read above is still the latest.
	p = Published{Gateway: gateway, Version: last + 1, At: now, Actor: actor, Note: note, Workspace: ws}
	if _, err := q.ExecContext(ctx, `INSERT INTO published (gateway, version, at, actor, note, digest, manifest)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, gateway, p.Version, unixNano(now), actor, note, digest, manifest); err != nil {
		return Published{}, false, fmt.Errorf("publish %q: %w", gateway, err)
	}
	if err := audit(ctx, q, AuditEntry{At: now, Actor: actor, Action: "gateway.publish", Target: gateway,
		Detail: fmt.Sprintf("version %d", p.Version)}); err != nil {
		return Published{}, false, err
	}
	return p, false, nil
}

// workspaceDigest identifies ws's content by its objects' identities: kind,
// name, version and time of last change. Every write of an object moves its
// version and time, so equal digests mean the same objects as written, and
// no secret value (nor a hash of one) enters the database this way.
// Hashing identities rather than the encoded workspace keeps the check
// cheap for thousands of routes.
func workspaceDigest(ws model.Workspace) string {
	var buf []byte
	for _, obj := range ws.Objects() {
		buf = digestLine(buf, obj.Kind(), obj.ObjectMeta())
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

// digestLine appends the object's line of a digest: the bytes of
// "%s\x00%s\x00%d\x00%d\n", which digests already stored were made of.
func digestLine(buf []byte, kind string, m *model.Meta) []byte {
	buf = append(buf, kind...)
	buf = append(buf, 0)
	buf = append(buf, m.Name...)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, m.Version, 10)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, m.UpdatedAt.UnixNano(), 10)
	return append(buf, '\n')
}

func getPublished(ctx context.Context, q querier, keys *seal.Keyring, gateway string, version int64) (Published, error) {
	query := `SELECT version, at, actor, note, manifest FROM published WHERE gateway = ? AND version = ?`
	args := []any{gateway, version}
	if version == 0 {
		query = `SELECT version, at, actor, note, manifest FROM published WHERE gateway = ?
			ORDER BY version DESC LIMIT 1`
		args = args[:1]
	}
	p := Published{Gateway: gateway}
	var at int64
	var manifest []byte
	err := q.QueryRowContext(ctx, query, args...).Scan(&p.Version, &at, &p.Actor, &p.Note, &manifest)
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return p, model.Errorf(model.ENOTFOUND, "gateway %q has never been published", gateway)
		}
		return p, model.Errorf(model.ENOTFOUND, "gateway %q has no published version %d", gateway, version)
	} else if err != nil {
		return p, fmt.Errorf("get published %q version %d: %w", gateway, version, err)
	}
	p.At = fromUnixNano(at)
	secs, err := readVersion(ctx, q, manifest)
	if err != nil {
		return p, fmt.Errorf("read published %q version %d: %w", gateway, p.Version, err)
	}
	if err := json.Unmarshal(secs.json(), &p.Workspace); err != nil {
		return p, fmt.Errorf("decode published %q version %d: %w", gateway, p.Version, err)
	}
	if err := openWorkspace(keys, &p.Workspace); err != nil {
		return p, fmt.Errorf("published %q version %d: %w", gateway, p.Version, err)
	}
	return p, nil
}

func listPublished(ctx context.Context, q querier, gateway string) ([]Published, error) {
	rows, err := q.QueryContext(ctx, `SELECT version, at, actor, note FROM published WHERE gateway = ?
		ORDER BY version DESC`, gateway)
	if err != nil {
		return nil, fmt.Errorf("list published %q: %w", gateway, err)
	}
	defer rows.Close()
	var out []Published
	for rows.Next() {
		p := Published{Gateway: gateway}
		var at int64
		if err := rows.Scan(&p.Version, &at, &p.Actor, &p.Note); err != nil {
			return nil, fmt.Errorf("list published %q: %w", gateway, err)
		}
		p.At = fromUnixNano(at)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list published %q: %w", gateway, err)
	}
	return out, nil
}
