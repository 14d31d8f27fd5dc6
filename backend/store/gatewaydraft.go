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

// gatewayWorkspace is gatewayWorkspace over the cached objects, built
// once per gateway and draft generation: a publish and the lint of the
// same draft share it.
func (c *draftCache) gatewayWorkspace(gateway string) (model.Workspace, error) {
	c.mu.Lock()
	ws, ok := c.gateways[gateway]
	c.mu.Unlock()
	if ok {
		return ws, nil
	}
	ws, err := c.buildGatewayWorkspace(gateway)
	if err != nil {
		return ws, err
	}
	c.mu.Lock()
	if c.gateways == nil {
		c.gateways = map[string]model.Workspace{}
	}
	c.gateways[gateway] = ws
	c.mu.Unlock()
	return ws, nil
}

func (c *draftCache) buildGatewayWorkspace(gateway string) (model.Workspace, error) {
	var ws model.Workspace
	g, ok := c.objs[objKey{model.KindGateway, gateway}].(*model.Gateway)
	if !ok {
		return ws, model.Errorf(model.ENOTFOUND, "%s %q not found", model.KindGateway, gateway)
	}
	ws.Gateways = []model.Gateway{*g}
	// Workspace order holds each gateway's routes together, in rule
	// order (routeLess): no sort here.
	all := c.ordered()
	first := sort.Search(len(all), func(i int) bool {
		r, ok := all[i].(*model.Route)
		return ok && r.Gateway >= gateway
	})
	end := first
	for end < len(all) && all[end].(*model.Route).Gateway == gateway {
		end++
	}
	need := map[string]bool{}
	ws.Routes = make([]model.Route, end-first)
	for i, obj := range all[first:end] {
		r := obj.(*model.Route)
		ws.Routes[i] = *r
		for _, u := range referencedUpstreams(r) {
			need[u] = true
		}
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
