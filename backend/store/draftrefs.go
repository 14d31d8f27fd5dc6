package store

import (
	"maps"
	"slices"
	"sort"

	"github.com/routedeck/routedeck/backend/model"
)

// draftRefs indexes the references between draft objects by the name
// referred to, so a write finds the objects whose validation it can change
// (the routes on a gateway it deletes, the gateways using a secret it
// edits) without visiting every route of the draft. The writer owns it: it
// moves from one committed draft to the next and is changed only once a
// write has committed. Every reference model.Workspace.ValidateWith checks
// between objects needs its entry here and in affected;
// TestIncrementalChecksAgreeWithWholeValidation holds the two to the same
// answers.
type draftRefs struct {
	// routes on each gateway.
	gatewayRoutes map[string]map[string]struct{}
	// routes naming each upstream (forward, mirror, JWKS).
	upstreamRoutes map[string]map[string]struct{}
	// gateways and upstreams naming each secret.
	secretUsers map[string]map[objKey]struct{}
	// routes of each gateway that read an API key from a header, which
	// the gateway's access log must not keep.
	keyRoutes map[string]map[string]struct{}
	// routes of each gateway that name its listeners, which an edit of
	// the gateway can take away.
	listenerRoutes map[string]map[string]struct{}
}

func newDraftRefs(objs []model.Object) *draftRefs {
	r := &draftRefs{gatewayRoutes: map[string]map[string]struct{}{}, upstreamRoutes: map[string]map[string]struct{}{},
		secretUsers: map[string]map[objKey]struct{}{}, keyRoutes: map[string]map[string]struct{}{},
		listenerRoutes: map[string]map[string]struct{}{}}
	for _, obj := range objs {
		r.update(obj, true)
	}
	return r
}

// update adds (or, with add false, removes) obj's references.
func (r *draftRefs) update(obj model.Object, add bool) {
	switch o := obj.(type) {
	case *model.Route:
		indexSet(r.gatewayRoutes, o.Gateway, o.Name, add)
		for _, u := range referencedUpstreams(o) {
			indexSet(r.upstreamRoutes, u, o.Name, add)
		}
		if readsAPIKeyHeader(o) {
			indexSet(r.keyRoutes, o.Gateway, o.Name, add)
		}
		if len(o.Listeners) > 0 {
			indexSet(r.listenerRoutes, o.Gateway, o.Name, add)
		}
	case *model.Gateway, *model.Upstream:
		for _, s := range model.ObjectSecretNames(obj) {
			indexSet(r.secretUsers, s, keyOf(obj), add)
		}
	}
}

func readsAPIKeyHeader(r *model.Route) bool {
	a := r.Then.Auth
	return a != nil && a.APIKey != nil && a.APIKey.Header != ""
}

func indexSet[V comparable](m map[string]map[V]struct{}, name string, v V, add bool) {
	set := m[name]
	if add {
		if set == nil {
			set = map[V]struct{}{}
			m[name] = set
		}
		set[v] = struct{}{}
		return
	}
	delete(set, v)
	if len(set) == 0 {
		delete(m, name)
	}
}

// routeKeys are the keys of a set of route names.
func routeKeys(set map[string]struct{}) []objKey {
	out := make([]objKey, 0, len(set))
	for name := range set {
		out = append(out, objKey{model.KindRoute, name})
	}
	return out
}

// affected lists the objects whose validation problems a write of changes
// (nil: deleted) can change, with the objects it took to decide (the
// routes a deleted gateway leaves dangling, the gateways and upstreams
// using an edited secret, the gateway of an edited route for its access
// log). Candidates the index knows as of the base draft are returned
// whatever they became: the caller checks each as the write leaves it.
func (w *draftWrite) affected() map[objKey]bool {
	refs := w.refs()
	out := make(map[objKey]bool, len(w.changes)*2)
	for k, after := range w.changes {
		out[k] = true
		before := w.base.get(k)
		exists := func(o model.Object) bool { return o != nil }
		switch k.kind {
		case model.KindGateway:
			// Routes name a gateway, and some its listeners: its coming
			// or going changes what they all say, an edit what those
			// naming listeners say.
			routes := refs.listenerRoutes[k.name]
			if exists(before) != exists(after) {
				routes = refs.gatewayRoutes[k.name]
			}
			for _, rk := range routeKeys(routes) {
				out[rk] = true
			}
		case model.KindUpstream:
			if exists(before) != exists(after) {
				for _, rk := range routeKeys(refs.upstreamRoutes[k.name]) {
					out[rk] = true
				}
			}
		case model.KindSecret:
			// What a secret holds decides whether its users find the
			// part they need, so any change checks them again.
			for uk := range refs.secretUsers[k.name] {
				out[uk] = true
			}
		case model.KindRoute:
			for _, o := range []model.Object{before, after} {
				if r, ok := o.(*model.Route); ok && r.Gateway != "" {
					out[objKey{model.KindGateway, r.Gateway}] = true
				}
			}
		}
	}
	// Objects staged in this write may refer to each other: their own
	// references are checked as they are (each is in out already).
	return out
}

// partialWorkspace is the draft after the staged changes, cut down to the
// objects of keys and what checking their references needs: the gateway
// and upstreams each route names, the secrets each gateway and upstream
// names, and a gateway's routes that read API keys from headers. In
// workspace order, so its problems come in the order a whole validation
// gives them.
func (w *draftWrite) partialWorkspace(keys map[objKey]bool) (model.Workspace, wsKeys) {
	refs := w.refs()
	in := make(map[objKey]model.Object, len(keys)*2)
	add := func(k objKey) {
		if _, ok := in[k]; ok {
			return
		}
		if obj := w.current(k); obj != nil {
			in[k] = obj
		}
	}
	for k := range keys {
		obj := w.current(k)
		if obj == nil {
			continue
		}
		in[k] = obj
		switch o := obj.(type) {
		case *model.Route:
			add(objKey{model.KindGateway, o.Gateway})
			for _, u := range referencedUpstreams(o) {
				add(objKey{model.KindUpstream, u})
			}
		case *model.Gateway:
			for _, s := range model.ObjectSecretNames(o) {
				add(objKey{model.KindSecret, s})
			}
			// Routes that read API keys, as the base knows them and as
			// this write stages them.
			for _, rk := range routeKeys(refs.keyRoutes[o.Name]) {
				add(rk)
			}
			for ck, c := range w.changes {
				if r, ok := c.(*model.Route); ok && r.Gateway == o.Name && readsAPIKeyHeader(r) {
					add(ck)
				}
			}
		case *model.Upstream:
			for _, s := range model.ObjectSecretNames(o) {
				add(objKey{model.KindSecret, s})
			}
		}
	}
	objs := slices.Collect(maps.Values(in))
	sort.Slice(objs, func(i, j int) bool { return objectLess(objs[i], objs[j]) })
	return workspaceOf(objs)
}
