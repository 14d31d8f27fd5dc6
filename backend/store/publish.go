package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// publish records the gateway's draft, as q's transaction sees it, as the
// gateway's next version.
func publish(ctx context.Context, q querier, keys *seal.Keyring, now time.Time, actor, gateway, note string) (Published, error) {
	ws, err := gatewayWorkspace(ctx, q, keys, gateway)
	if err != nil {
		return Published{}, err
	}
	sealed, err := sealWorkspace(keys, ws)
	if err != nil {
		return Published{}, fmt.Errorf("publish %q: %w", gateway, err)
	}
	body, err := json.Marshal(sealed)
	if err != nil {
		return Published{}, fmt.Errorf("publish %q: encode: %w", gateway, err)
	}
	p := Published{Gateway: gateway, At: now, Actor: actor, Note: note, Workspace: ws}
	if err := q.QueryRowContext(ctx, `INSERT INTO published (gateway, version, at, actor, note, workspace)
		VALUES (?, (SELECT coalesce(max(version), 0) + 1 FROM published WHERE gateway = ?), ?, ?, ?, ?)
		RETURNING version`, gateway, gateway, unixNano(now), actor, note, string(body)).Scan(&p.Version); err != nil {
		return Published{}, fmt.Errorf("publish %q: %w", gateway, err)
	}
	if err := audit(ctx, q, AuditEntry{At: now, Actor: actor, Action: "gateway.publish", Target: gateway,
		Detail: fmt.Sprintf("version %d", p.Version)}); err != nil {
		return Published{}, err
	}
	return p, nil
}

func getPublished(ctx context.Context, q querier, keys *seal.Keyring, gateway string, version int64) (Published, error) {
	query := `SELECT version, at, actor, note, workspace FROM published WHERE gateway = ? AND version = ?`
	args := []any{gateway, version}
	if version == 0 {
		query = `SELECT version, at, actor, note, workspace FROM published WHERE gateway = ?
			ORDER BY version DESC LIMIT 1`
		args = args[:1]
	}
	p := Published{Gateway: gateway}
	var at int64
	var body string
	err := q.QueryRowContext(ctx, query, args...).Scan(&p.Version, &at, &p.Actor, &p.Note, &body)
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return p, model.Errorf(model.ENOTFOUND, "gateway %q has never been published", gateway)
		}
		return p, model.Errorf(model.ENOTFOUND, "gateway %q has no published version %d", gateway, version)
	} else if err != nil {
		return p, fmt.Errorf("get published %q version %d: %w", gateway, version, err)
	}
	p.At = fromUnixNano(at)
	if err := json.Unmarshal([]byte(body), &p.Workspace); err != nil {
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
