package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// GatewayDraft is GatewayWorkspace built from the draft the store keeps
// decoded in memory (the writer's cache, current as of the latest commit),
// so a publish of thousands of routes does not decode them again. The
// objects are shared with that cache: callers must not change the
// workspace or anything it points to.
func (s *Store) GatewayDraft(ctx context.Context, gateway string) (model.Workspace, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return model.Workspace{}, fmt.Errorf("read gateway %q: %w", gateway, err)
	}
	defer tx.Rollback()
	c, err := s.loadDraft(ctx, tx)
	if err != nil {
		return model.Workspace{}, err
	}
	return c.gatewayWorkspace(gateway)
}

// gatewayWorkspace is gatewayWorkspace over the cached objects.
func (c *draftCache) gatewayWorkspace(gateway string) (model.Workspace, error) {
	var ws model.Workspace
	g, ok := c.objs[objKey{model.KindGateway, gateway}].(*model.Gateway)
	if !ok {
		return ws, model.Errorf(model.ENOTFOUND, "%s %q not found", model.KindGateway, gateway)
	}
	ws.Gateways = []model.Gateway{*g}
	var routes []*model.Route
	need := map[string]bool{}
	for _, obj := range c.objs {
		if r, ok := obj.(*model.Route); ok && r.Gateway == gateway {
			routes = append(routes, r)
			for _, u := range referencedUpstreams(r) {
				need[u] = true
			}
		}
	}
	slices.SortFunc(routes, func(a, b *model.Route) int { return model.CompareRoutes(a, b) })
	ws.Routes = make([]model.Route, len(routes))
	for i, r := range routes {
		ws.Routes[i] = *r
	}
	names := make([]string, 0, len(need))
	for u := range need {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		// A gap is the draft validation's to report, as in
		// gatewayWorkspace.
		if up, ok := c.objs[objKey{model.KindUpstream, u}].(*model.Upstream); ok {
			ws.Upstreams = append(ws.Upstreams, *up)
		}
	}
	secrets := model.SecretNames(&ws.Gateways[0], ws.Upstreams)
	slices.SortFunc(secrets, strings.Compare)
	for _, name := range secrets {
		if sec, ok := c.objs[objKey{model.KindSecret, name}].(*model.Secret); ok {
			ws.Secrets = append(ws.Secrets, *sec)
		}
	}
	return ws, nil
}

// DraftUpstreams is every upstream of the draft, sorted by name, from the
// decoded draft the store keeps (shared: callers must not change them).
func (s *Store) DraftUpstreams(ctx context.Context) ([]model.Upstream, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read upstreams: %w", err)
	}
	defer tx.Rollback()
	c, err := s.loadDraft(ctx, tx)
	if err != nil {
		return nil, err
	}
	var out []model.Upstream
	for _, obj := range c.objs {
		if u, ok := obj.(*model.Upstream); ok {
			out = append(out, *u)
		}
	}
	slices.SortFunc(out, func(a, b model.Upstream) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
