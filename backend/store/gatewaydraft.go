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
// same draft share it. When the previous generation had built it, it is
// that workspace with the write's changes applied.
func (c *draftCache) gatewayWorkspace(gateway string) (model.Workspace, error) {
	c.mu.Lock()
	ws, ok := c.gateways[gateway]
	prev, derive := c.prev[gateway]
	c.mu.Unlock()
	if ok {
		return ws, nil
	}
	if derive {
		ws, ok = c.deriveGatewayWorkspace(gateway, prev.ws, prev.delta)
	}
	if !ok {
		var err error
		if ws, err = c.buildGatewayWorkspace(gateway); err != nil {
			return ws, err
		}
	}
	c.mu.Lock()
	if c.gateways == nil {
		c.gateways = map[string]model.Workspace{}
	}
	c.gateways[gateway] = ws
	// The previous generation's workspace is needed no more: letting it
	// go keeps at most this generation's in memory.
	delete(c.prev, gateway)
	c.mu.Unlock()
	return ws, nil
}

// deriveGatewayWorkspace is prev, the gateway's workspace in an earlier
// generation, with delta, the changes written since, applied: routes
// replaced, inserted or removed in rule order, and the upstreams and
// secrets they name brought along. A change of the gateway itself, of an
// upstream or of a secret answers false (build it whole): they are rare,
// and what they touch is spread over the workspace.
func (c *draftCache) deriveGatewayWorkspace(gateway string, prev model.Workspace, delta []change) (model.Workspace, bool) {
	var mine []change
	for _, ch := range delta {
		switch ch.key.kind {
		case model.KindRoute:
			if onGateway(ch.before, gateway) || onGateway(ch.after, gateway) {
				mine = append(mine, ch)
			}
		case model.KindGateway:
			if ch.key.name == gateway {
				return model.Workspace{}, false
			}
		default:
			return model.Workspace{}, false
		}
	}
	if len(mine) == 0 {
		return prev, true
	}
	ws := prev
	ws.Routes = slices.Clone(prev.Routes)
	for _, ch := range mine {
		i := -1
		if r, ok := ch.before.(*model.Route); ok && r.Gateway == gateway {
			if i = routePosition(ws.Routes, r); i < 0 {
				return model.Workspace{}, false
			}
		}
		r, ok := ch.after.(*model.Route)
		if !ok || r.Gateway != gateway {
			ws.Routes = slices.Delete(ws.Routes, i, i+1)
			continue
		}
		// An edit that keeps the route's place in rule order (its
		// priority) replaces it there, without moving the others.
		if i >= 0 && (i == 0 || model.CompareRoutes(&ws.Routes[i-1], r) < 0) &&
			(i+1 == len(ws.Routes) || model.CompareRoutes(r, &ws.Routes[i+1]) < 0) {
			ws.Routes[i] = *r
			continue
		}
		if i >= 0 {
			ws.Routes = slices.Delete(ws.Routes, i, i+1)
		}
		j := sort.Search(len(ws.Routes), func(j int) bool { return model.CompareRoutes(r, &ws.Routes[j]) < 0 })
		ws.Routes = slices.Insert(ws.Routes, j, *r)
	}
	if !sameRefsOnly(mine) {
		ws.Upstreams, ws.Secrets = c.namedBy(&ws.Gateways[0], ws.Routes)
	}
	return ws, true
}

// sameRefsOnly says every change of mine replaces a route of the gateway
// by one naming the same upstreams, so the workspace's upstreams and
// secrets stay as they are.
func sameRefsOnly(mine []change) bool {
	for _, ch := range mine {
		b, bok := ch.before.(*model.Route)
		a, aok := ch.after.(*model.Route)
		if !bok || !aok || a.Gateway != b.Gateway || !slices.Equal(referencedUpstreams(b), referencedUpstreams(a)) {
			return false
		}
	}
	return true
}

func onGateway(obj model.Object, gateway string) bool {
	r, ok := obj.(*model.Route)
	return ok && r.Gateway == gateway
}

// routePosition finds r by binary search in routes (in rule order), -1 if
// absent.
func routePosition(routes []model.Route, r *model.Route) int {
	for i := sort.Search(len(routes), func(i int) bool { return model.CompareRoutes(&routes[i], r) >= 0 }); i < len(routes); i++ {
		if routes[i].Name == r.Name {
			return i
		}
		if model.CompareRoutes(r, &routes[i]) < 0 {
			break
		}
	}
	return -1
}

// gatewayRoutes are the routes of gateway in sorted, the objects in
// workspace order, which holds each gateway's routes together in rule
// order (routeLess).
func gatewayRoutes(sorted []model.Object, gateway string) []model.Object {
	first := sort.Search(len(sorted), func(i int) bool {
		r, ok := sorted[i].(*model.Route)
		return ok && r.Gateway >= gateway
	})
	end := first
	for end < len(sorted) && sorted[end].(*model.Route).Gateway == gateway {
		end++
	}
	return sorted[first:end]
}

func (c *draftCache) buildGatewayWorkspace(gateway string) (model.Workspace, error) {
	var ws model.Workspace
	g, ok := c.get(objKey{model.KindGateway, gateway}).(*model.Gateway)
	if !ok {
		return ws, model.Errorf(model.ENOTFOUND, "%s %q not found", model.KindGateway, gateway)
	}
	ws.Gateways = []model.Gateway{*g}
	routes := gatewayRoutes(c.ordered(), gateway)
	ws.Routes = make([]model.Route, len(routes))
	for i, obj := range routes {
		ws.Routes[i] = *obj.(*model.Route)
	}
	ws.Upstreams, ws.Secrets = c.namedBy(g, ws.Routes)
	return ws, nil
}

// namedBy are the upstreams routes name and the secrets the gateway and
// those upstreams name, each sorted by name. A gap is the draft
// validation's to report, as in gatewayWorkspace.
func (c *draftCache) namedBy(g *model.Gateway, routes []model.Route) ([]model.Upstream, []model.Secret) {
	need := map[string]bool{}
	for i := range routes {
		for _, u := range referencedUpstreams(&routes[i]) {
			need[u] = true
		}
	}
	names := make([]string, 0, len(need))
	for u := range need {
		names = append(names, u)
	}
	sort.Strings(names)
	var ups []model.Upstream
	for _, u := range names {
		if up, ok := c.get(objKey{model.KindUpstream, u}).(*model.Upstream); ok {
			ups = append(ups, *up)
		}
	}
	secrets := model.SecretNames(g, ups)
	slices.SortFunc(secrets, strings.Compare)
	var secs []model.Secret
	for _, name := range secrets {
		if sec, ok := c.get(objKey{model.KindSecret, name}).(*model.Secret); ok {
			secs = append(secs, *sec)
		}
	}
	return ups, secs
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
	// Workspace order holds the upstreams together, by name.
	var out []model.Upstream
	for _, obj := range c.ordered() {
		if u, ok := obj.(*model.Upstream); ok {
			out = append(out, *u)
		}
	}
	return out, nil
}
