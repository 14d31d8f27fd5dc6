package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// objKey names one draft object.
type objKey struct{ kind, name string }

func keyOf(obj model.Object) objKey { return objKey{obj.Kind(), obj.ObjectMeta().Name} }

func checkKind(kind string) error {
	if model.NewObject(kind) == nil {
		return model.Errorf(model.EINVALID, "unknown kind %q (want Secret, Gateway, Upstream or Route)", kind)
	}
	return nil
}

// encodeSpec is the stored JSON of obj: everything but Meta, which lives in
// columns. Equal specs mean equal content, which is how Apply tells
// "unchanged" from "updated".
func encodeSpec(obj model.Object) (string, error) {
	// A shallow copy is enough: only its Meta is changed.
	var c any
	switch v := obj.(type) {
	case *model.Gateway:
		g := *v
		g.Meta = model.Meta{}
		c = &g
	case *model.Upstream:
		u := *v
		u.Meta = model.Meta{}
		c = &u
	case *model.Route:
		r := *v
		r.Meta = model.Meta{}
		c = &r
	case *model.Secret:
		sc := *v
		sc.Meta = model.Meta{}
		c = &sc
	default:
		return "", fmt.Errorf("encode: unknown object type %T", obj)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode %s %q: %w", obj.Kind(), obj.ObjectMeta().Name, err)
	}
	return string(b), nil
}

// cloneObject deep-copies obj through JSON, so the store never shares
// memory with what callers keep mutating.
func cloneObject(obj model.Object) model.Object {
	b, err := json.Marshal(obj)
	if err != nil {
		panic(fmt.Sprintf("clone %s: %v", obj.Kind(), err)) // model types always marshal
	}
	c := model.NewObject(obj.Kind())
	if err := json.Unmarshal(b, c); err != nil {
		panic(fmt.Sprintf("clone %s: %v", obj.Kind(), err))
	}
	// Meta is copied by hand: UpdatedAt must keep its exact value.
	*c.ObjectMeta() = *obj.ObjectMeta()
	if r, ok := obj.(*model.Route); ok {
		copyText(&c.(*model.Route).When, &r.When)
	}
	return c
}

// copyText restores condition text that JSON does not carry, so a route
// whose text was never parsed reaches validation as such (and is refused)
// instead of turning into a condition that matches everything. The JSON
// copy has the same tree shape as the original.
func copyText(dst, src *model.Condition) {
	dst.Text = src.Text
	for i := range min(len(dst.All), len(src.All)) {
		copyText(&dst.All[i], &src.All[i])
	}
	for i := range min(len(dst.Any), len(src.Any)) {
		copyText(&dst.Any[i], &src.Any[i])
	}
	if dst.Not != nil && src.Not != nil {
		copyText(dst.Not, src.Not)
	}
}

func decodeObject(keys *seal.Keyring, kind, name string, version int64, spec string, updatedAt int64, updatedBy string) (model.Object, error) {
	obj := model.NewObject(kind)
	if obj == nil {
		return nil, fmt.Errorf("stored object %s %q has unknown kind", kind, name)
	}
	if err := json.Unmarshal([]byte(spec), obj); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", kind, name, err)
	}
	if err := openSecrets(keys, obj); err != nil {
		return nil, err
	}
	*obj.ObjectMeta() = model.Meta{Name: name, Version: version, UpdatedAt: fromUnixNano(updatedAt), UpdatedBy: updatedBy}
	return obj, nil
}

const objectColumns = `kind, name, version, spec, updated_at, updated_by`

func scanObject(keys *seal.Keyring, row interface{ Scan(...any) error }) (model.Object, error) {
	var (
		kind, name, spec, by string
		version, at          int64
	)
	if err := row.Scan(&kind, &name, &version, &spec, &at, &by); err != nil {
		return nil, err
	}
	return decodeObject(keys, kind, name, version, spec, at, by)
}

func getObject(ctx context.Context, q querier, keys *seal.Keyring, kind, name string) (model.Object, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	obj, err := scanObject(keys, q.QueryRowContext(ctx,
		`SELECT `+objectColumns+` FROM objects WHERE kind = ? AND name = ?`, kind, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.Errorf(model.ENOTFOUND, "%s %q not found", kind, name)
	} else if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", kind, name, err)
	}
	return obj, nil
}

// routeOrder is the documented order of routes everywhere: by gateway, then
// priority (higher first), then name, the order rules are tried in.
const routeOrder = `gateway, priority DESC, name`

func listObjects(ctx context.Context, q querier, keys *seal.Keyring, kind string, opt ListOptions) ([]model.Object, int, error) {
	if err := checkKind(kind); err != nil {
		return nil, 0, err
	}
	where := []string{`kind = ?`}
	args := []any{kind}
	if opt.Gateway != "" {
		switch kind {
		case model.KindRoute:
			where = append(where, `gateway = ?`)
		case model.KindGateway:
			where = append(where, `name = ?`)
		case model.KindUpstream:
			where = append(where, `name IN (SELECT f.value FROM route_refs f JOIN objects r
				ON r.kind = 'Route' AND r.name = f.route WHERE f.ref = 'upstream' AND r.gateway = ?)`)
		}
		args = append(args, opt.Gateway)
	}
	if opt.Upstream != "" {
		switch kind {
		case model.KindRoute:
			where = append(where, `name IN (SELECT route FROM route_refs WHERE ref = 'upstream' AND value = ?)`)
			args = append(args, opt.Upstream)
		case model.KindUpstream:
			where = append(where, `name = ?`)
			args = append(args, opt.Upstream)
		}
	}
	if opt.Host != "" && kind == model.KindRoute {
		// A stored value matches when equal, or when it is a wildcard
		// "*.example.com" and the host ends in ".example.com" with at least
		// one character before it, as Envoy's suffix wildcards require.
		where = append(where, `name IN (SELECT route FROM route_refs f WHERE f.ref = 'host'
			AND (f.value = ? OR (substr(f.value, 1, 2) = '*.' AND length(?) > length(f.value) - 1
				AND substr(?, -(length(f.value) - 1)) = substr(f.value, 2))))`)
		h := normalizeHost(opt.Host)
		args = append(args, h, h, h)
	}
	if opt.Search != "" {
		where = append(where, `(instr(lower(name), ?) > 0 OR instr(lower(description), ?) > 0)`)
		s := strings.ToLower(opt.Search)
		args = append(args, s, s)
	}
	cond := strings.Join(where, " AND ")

	var total int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM objects WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count %s: %w", kind, err)
	}
	order := `name`
	if kind == model.KindRoute {
		order = routeOrder
	}
	limit, offset := page(opt.Limit, opt.Offset)
	rows, err := q.QueryContext(ctx, `SELECT `+objectColumns+` FROM objects WHERE `+cond+
		` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", kind, err)
	}
	defer rows.Close()
	var out []model.Object
	for rows.Next() {
		obj, err := scanObject(keys, rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list %s: %w", kind, err)
		}
		out = append(out, obj)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", kind, err)
	}
	return out, total, nil
}

// normalizeHost lowers a host and drops its port: host conditions ignore the
// port, as the gateway strips it before matching.
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// routeRefs lists what a route refers to, for the List filters: upstreams it
// forwards or mirrors to, and the host values of its conditions.
func routeRefs(r *model.Route) (upstreams, hosts []string) {
	seen := map[string]bool{}
	addUp := func(u string) {
		if u != "" && !seen["u:"+u] {
			seen["u:"+u] = true
			upstreams = append(upstreams, u)
		}
	}
	for _, b := range r.Then.Forward {
		addUp(b.Upstream)
	}
	if r.Then.Mirror != nil {
		addUp(r.Then.Mirror.Upstream)
	}
	addHost := func(h string) {
		h = normalizeHost(h)
		if h != "" && !seen["h:"+h] {
			seen["h:"+h] = true
			hosts = append(hosts, h)
		}
	}
	var walk func(c *model.Condition)
	walk = func(c *model.Condition) {
		for i := range c.All {
			walk(&c.All[i])
		}
		for i := range c.Any {
			walk(&c.Any[i])
		}
		if c.Not != nil {
			walk(c.Not)
		}
		if c.Field != model.FieldHost {
			return
		}
		switch c.Op {
		case model.OpSuffix:
			// host.suffix(".example.com") covers what *.example.com does.
			if strings.HasPrefix(c.Value, ".") {
				addHost("*" + c.Value)
			}
		case model.OpRegex, model.OpPrefix, model.OpContains, model.OpPresent, model.OpAbsent:
		default:
			addHost(c.Value)
			for _, v := range c.Values {
				addHost(v)
			}
		}
	}
	walk(&r.When)
	return upstreams, hosts
}

// referencedUpstreams lists every upstream a route needs, including the one
// serving its JWKS.
// It is routeRefs' upstream half without the walk over the conditions for
// hosts: every draft read calls it for every route.
func referencedUpstreams(r *model.Route) []string {
	var ups []string
	add := func(u string) {
		if u != "" && !slices.Contains(ups, u) {
			ups = append(ups, u)
		}
	}
	for _, b := range r.Then.Forward {
		add(b.Upstream)
	}
	if r.Then.Mirror != nil {
		add(r.Then.Mirror.Upstream)
	}
	if r.Then.Auth != nil && r.Then.Auth.JWT != nil && r.Then.Auth.JWT.JWKSUpstream != "" {
		ups = append(ups, r.Then.Auth.JWT.JWKSUpstream)
	}
	return ups
}

// gatewayWorkspace reads the gateway, its routes in rule order, the
// upstreams they reference and the secrets the gateway and those upstreams
// use, each sorted by name.
func gatewayWorkspace(ctx context.Context, q querier, keys *seal.Keyring, gateway string) (model.Workspace, error) {
	var ws model.Workspace
	g, err := getObject(ctx, q, keys, model.KindGateway, gateway)
	if err != nil {
		return ws, err
	}
	ws.Gateways = []model.Gateway{*g.(*model.Gateway)}
	rows, err := q.QueryContext(ctx, `SELECT `+objectColumns+` FROM objects
		WHERE kind = 'Route' AND gateway = ? ORDER BY `+routeOrder, gateway)
	if err != nil {
		return ws, fmt.Errorf("read routes of gateway %q: %w", gateway, err)
	}
	defer rows.Close()
	need := map[string]bool{}
	for rows.Next() {
		obj, err := scanObject(keys, rows)
		if err != nil {
			return ws, fmt.Errorf("read routes of gateway %q: %w", gateway, err)
		}
		r := obj.(*model.Route)
		ws.Routes = append(ws.Routes, *r)
		for _, u := range referencedUpstreams(r) {
			need[u] = true
		}
	}
	if err := rows.Err(); err != nil {
		return ws, fmt.Errorf("read routes of gateway %q: %w", gateway, err)
	}
	names := make([]string, 0, len(need))
	for u := range need {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		obj, err := getObject(ctx, q, keys, model.KindUpstream, u)
		if model.ErrorCode(err) == model.ENOTFOUND {
			continue // the draft validates references; a gap here is not ours to report
		} else if err != nil {
			return ws, err
		}
		ws.Upstreams = append(ws.Upstreams, *obj.(*model.Upstream))
	}
	secrets := model.SecretNames(&ws.Gateways[0], ws.Upstreams)
	sort.Strings(secrets)
	for _, name := range secrets {
		obj, err := getObject(ctx, q, keys, model.KindSecret, name)
		if model.ErrorCode(err) == model.ENOTFOUND {
			continue // as for upstreams: validation reports dangling references
		} else if err != nil {
			return ws, err
		}
		ws.Secrets = append(ws.Secrets, *obj.(*model.Secret))
	}
	return ws, nil
}

// readWorkspace decodes the whole draft: secrets, gateways and upstreams by
// name, routes in rule order. It is decoded afresh so callers may change it.
func readWorkspace(ctx context.Context, q querier, keys *seal.Keyring) (model.Workspace, error) {
	var ws model.Workspace
	rows, err := q.QueryContext(ctx, `SELECT `+objectColumns+` FROM objects
		ORDER BY CASE kind WHEN 'Secret' THEN 0 WHEN 'Gateway' THEN 1 WHEN 'Upstream' THEN 2 ELSE 3 END, `+routeOrder)
	if err != nil {
		return ws, fmt.Errorf("read workspace: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		obj, err := scanObject(keys, rows)
		if err != nil {
			return ws, fmt.Errorf("read workspace: %w", err)
		}
		ws.Add(obj)
	}
	if err := rows.Err(); err != nil {
		return ws, fmt.Errorf("read workspace: %w", err)
	}
	return ws, nil
}
