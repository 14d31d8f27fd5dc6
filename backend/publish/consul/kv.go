// Package consul publishes routedeck objects to Consul's KV store, one key
// per object under routedeck/v1/<kind>/<name>, as JSON. All gateways share
// that one tree: a gateway's routes record which gateway they belong to,
// and upstreams and secrets are shared by whichever routes use them. Every
// write is a check-and-set on the key's ModifyIndex, so two publishers
// never silently overwrite each other: the loser gets a conflict and must
// read again.
package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
)

// DefaultPrefix is the KV folder objects are published under.
const DefaultPrefix = "routedeck/v1"

// maxTxnOps is Consul's limit on operations in one transaction.
const maxTxnOps = 64

// KV reads and writes published objects in Consul's KV store.
type KV struct {
	client *api.Client
	prefix string

	// beforeTxn, when set, runs between Publish's read and its write, so
	// tests can change the store in that window.
	beforeTxn func()
}

// New returns a KV publisher under DefaultPrefix.
func New(client *api.Client) *KV { return &KV{client: client, prefix: DefaultPrefix} }

// Prefix is the KV folder this publisher owns.
func (k *KV) Prefix() string { return k.prefix }

// Entry is a stored object with the ModifyIndex a later write must present.
type Entry struct {
	Object      model.Object
	ModifyIndex uint64
}

// Key is where obj's kind and name are stored: <prefix>/<kind>/<name>,
// kind in lower case (routedeck/v1/route/static-assets).
func (k *KV) Key(kind, name string) string {
	return k.prefix + "/" + strings.ToLower(kind) + "/" + name
}

// Get reads one object. A missing key is a model.ENOTFOUND error.
func (k *KV) Get(ctx context.Context, kind, name string) (Entry, error) {
	key := k.Key(kind, name)
	pair, _, err := k.client.KV().Get(key, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return Entry{}, fmt.Errorf("consul kv get %s: %w", key, err)
	}
	if pair == nil {
		return Entry{}, model.Errorf(model.ENOTFOUND, "%s %q is not published to consul", kind, name)
	}
	return k.decode(pair)
}

// List reads every object under the prefix, in key order.
func (k *KV) List(ctx context.Context) ([]Entry, error) {
	pairs, _, err := k.client.KV().List(k.prefix+"/", (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul kv list %s/: %w", k.prefix, err)
	}
	out := make([]Entry, 0, len(pairs))
	for _, p := range pairs {
		e, err := k.decode(p)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Put writes obj if its key's ModifyIndex is still index; index 0 means
// the key must not exist yet. It returns the new ModifyIndex, or a
// model.ECONFLICT error when someone else wrote in between.
func (k *KV) Put(ctx context.Context, obj model.Object, index uint64) (uint64, error) {
	op, err := k.casOp(obj, index)
	if err != nil {
		return 0, err
	}
	pairs, err := k.txn(ctx, api.KVTxnOps{op})
	if err != nil {
		return 0, err
	}
	if len(pairs) != 1 {
		return 0, fmt.Errorf("consul kv put %s: %d results for one write", op.Key, len(pairs))
	}
	return pairs[0].ModifyIndex, nil
}

// Delete removes an object if its ModifyIndex is still index.
func (k *KV) Delete(ctx context.Context, kind, name string, index uint64) error {
	_, err := k.txn(ctx, api.KVTxnOps{{Verb: api.KVDeleteCAS, Key: k.Key(kind, name), Index: index}})
	return err
}

// Publish writes gateway's published workspace ws into the shared tree,
// in one transaction with a check-and-set on every key it touches:
//
//   - the Gateway document, ws's routes, and the upstreams and secrets
//     they use are written;
//   - routes of this gateway that ws no longer holds are deleted (a route
//     records its gateway, so another gateway's routes are never
//     candidates);
//   - upstreams no route left in the tree uses, and secrets no gateway or
//     upstream left in the tree uses, are deleted.
//
// Each check is against the index read at the start; if anything changed
// in between, nothing is written and the error is model.ECONFLICT. A
// publish that needs more than Consul's 64 operations is refused
// (model.EINVALID) rather than split: split transactions could leave a
// reader, or a second routedeck, with routes whose upstreams are not
// written yet.
func (k *KV) Publish(ctx context.Context, gateway string, ws model.Workspace) error {
	if err := checkGatewayWorkspace(gateway, ws); err != nil {
		return err
	}
	current, err := k.List(ctx)
	if err != nil {
		return err
	}
	// after is the tree as it will be once the transaction commits; the
	// garbage collection below decides on it, not on what was read.
	after := map[string]model.Object{}
	for _, e := range current {
		after[k.objectKey(e.Object)] = e.Object
	}
	index := map[string]uint64{}
	for _, e := range current {
		index[k.objectKey(e.Object)] = e.ModifyIndex
	}

	var ops api.KVTxnOps
	written := map[string]bool{}
	for _, obj := range ws.Objects() {
		key := k.objectKey(obj)
		if old, ok := after[key].(*model.Route); ok && old.Gateway != gateway {
			return model.Errorf(model.ECONFLICT,
				"route %q in consul belongs to gateway %q, not %q", old.Name, old.Gateway, gateway)
		}
		written[key] = true
		after[key] = obj
		op, err := k.casOp(obj, index[key])
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	del := func(e Entry) {
		key := k.objectKey(e.Object)
		delete(after, key)
		ops = append(ops, &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: key, Index: e.ModifyIndex})
	}
	for _, e := range current {
		if r, ok := e.Object.(*model.Route); ok && r.Gateway == gateway && !written[k.objectKey(r)] {
			del(e)
		}
	}
	// Routes are settled, so the upstreams they use are known; upstreams
	// are settled once those are deleted, and with them the secrets.
	usedUpstreams := map[string]bool{}
	for _, obj := range after {
		if r, ok := obj.(*model.Route); ok {
			for _, u := range RouteUpstreams(r) {
				usedUpstreams[u] = true
			}
		}
	}
	for _, e := range current {
		if u, ok := e.Object.(*model.Upstream); ok && !usedUpstreams[u.Name] && !written[k.objectKey(u)] {
			del(e)
		}
	}
	usedSecrets := map[string]bool{}
	for _, obj := range after {
		for _, n := range model.ObjectSecretNames(obj) {
			usedSecrets[n] = true
		}
	}
	for _, e := range current {
		if s, ok := e.Object.(*model.Secret); ok && !usedSecrets[s.Name] && !written[k.objectKey(s)] {
			del(e)
		}
	}

	if len(ops) > maxTxnOps {
		return model.Errorf(model.EINVALID,
			"publishing gateway %q to consul takes %d writes and deletes, more than the %d one consul transaction allows; "+
				"it is refused rather than split, so consul never holds half of it", gateway, len(ops), maxTxnOps)
	}
	if len(ops) == 0 {
		return nil
	}
	if k.beforeTxn != nil {
		k.beforeTxn()
	}
	_, err = k.txn(ctx, ops)
	return err
}

// checkGatewayWorkspace refuses a workspace that is not one gateway's: the
// tree is shared, so writing another gateway's routes here would take them
// over.
func checkGatewayWorkspace(gateway string, ws model.Workspace) error {
	var p model.Problems
	if len(ws.Gateways) != 1 || ws.Gateways[0].Name != gateway {
		p.Add("gateways", "must hold exactly gateway %q", gateway)
	}
	for i, r := range ws.Routes {
		if r.Gateway != gateway {
			p.Add(model.JoinPath(model.Index("routes", i), "gateway"), "is %q, publishing gateway %q", r.Gateway, gateway)
		}
	}
	return p.Err()
}

// ReadGateway reads gateway's published workspace back from the tree: its
// Gateway document, its routes in rule order, the upstreams those routes
// use and the secrets the gateway and those upstreams use, each sorted by
// name. Secrets come back as they were published, without private keys. A
// gateway that was never published is a model.ENOTFOUND error.
func (k *KV) ReadGateway(ctx context.Context, gateway string) ([]Entry, error) {
	all, err := k.List(ctx)
	if err != nil {
		return nil, err
	}
	byKey := map[string]Entry{}
	for _, e := range all {
		byKey[k.objectKey(e.Object)] = e
	}
	gw, ok := byKey[k.Key(model.KindGateway, gateway)]
	if !ok {
		return nil, model.Errorf(model.ENOTFOUND, "gateway %q is not published to consul", gateway)
	}
	out := []Entry{gw}
	var routes []Entry
	usedUpstreams := map[string]bool{}
	for _, e := range all {
		if r, ok := e.Object.(*model.Route); ok && r.Gateway == gateway {
			routes = append(routes, e)
			for _, u := range RouteUpstreams(r) {
				usedUpstreams[u] = true
			}
		}
	}
	slices.SortStableFunc(routes, func(a, b Entry) int {
		return model.CompareRoutes(a.Object.(*model.Route), b.Object.(*model.Route))
	})
	var upstreams []model.Upstream
	var upEntries []Entry
	for _, e := range all { // List is in key order, so by name
		if u, ok := e.Object.(*model.Upstream); ok && usedUpstreams[u.Name] {
			upstreams = append(upstreams, *u)
			upEntries = append(upEntries, e)
		}
	}
	secrets := model.SecretNames(gw.Object.(*model.Gateway), upstreams)
	slices.Sort(secrets)
	var secEntries []Entry
	for _, name := range secrets {
		if e, ok := byKey[k.Key(model.KindSecret, name)]; ok {
			secEntries = append(secEntries, e)
		}
	}
	out = append(out, upEntries...)
	out = append(out, routes...)
	return append(secEntries, out...), nil
}

// Workspace collects entries' objects into a workspace.
func Workspace(entries []Entry) model.Workspace {
	var ws model.Workspace
	for _, e := range entries {
		ws.Add(e.Object)
	}
	return ws
}

// RouteUpstreams returns the upstreams r sends requests to: its forward
// backends, its mirror and the upstream its JWKS is fetched from.
func RouteUpstreams(r *model.Route) []string {
	var out []string
	add := func(u string) {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	for _, b := range r.Then.Forward {
		add(b.Upstream)
	}
	if r.Then.Mirror != nil {
		add(r.Then.Mirror.Upstream)
	}
	if r.Then.Auth != nil && r.Then.Auth.JWT != nil {
		add(r.Then.Auth.JWT.JWKSUpstream)
	}
	return out
}

func (k *KV) objectKey(obj model.Object) string {
	return k.Key(obj.Kind(), obj.ObjectMeta().Name)
}

func (k *KV) casOp(obj model.Object, index uint64) (*api.KVTxnOp, error) {
	key := k.Key(obj.Kind(), obj.ObjectMeta().Name)
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	return &api.KVTxnOp{Verb: api.KVCAS, Key: key, Value: body, Index: index}, nil
}

// txn runs ops atomically. A failed check-and-set comes back as a
// rolled-back transaction with per-operation errors: that is a conflict.
func (k *KV) txn(ctx context.Context, ops api.KVTxnOps) ([]*api.KVPair, error) {
	var tops api.TxnOps
	for _, op := range ops {
		tops = append(tops, &api.TxnOp{KV: op})
	}
	ok, resp, _, err := k.client.Txn().Txn(tops, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul kv transaction: %w", err)
	}
	if !ok {
		var msgs []string
		for _, e := range resp.Errors {
			key := ""
			if e.OpIndex >= 0 && e.OpIndex < len(ops) {
				key = ops[e.OpIndex].Key
			}
			msgs = append(msgs, fmt.Sprintf("%s: %s", key, e.What))
		}
		return nil, model.Errorf(model.ECONFLICT, "consul changed since it was read (%s)", strings.Join(msgs, "; "))
	}
	var pairs []*api.KVPair
	for _, r := range resp.Results {
		if r.KV != nil {
			pairs = append(pairs, r.KV)
		}
	}
	return pairs, nil
}

// decode turns a KV pair back into an object, taking the kind from the key.
func (k *KV) decode(p *api.KVPair) (Entry, error) {
	rest, ok := strings.CutPrefix(p.Key, k.prefix+"/")
	kindPart, name, ok2 := strings.Cut(rest, "/")
	var obj model.Object
	if ok && ok2 {
		for _, kind := range model.Kinds {
			if strings.EqualFold(kind, kindPart) {
				obj = model.NewObject(kind)
			}
		}
	}
	if obj == nil || name == "" {
		return Entry{}, fmt.Errorf("consul kv key %s is not <kind>/<name> under %s", p.Key, k.prefix)
	}
	if err := json.Unmarshal(p.Value, obj); err != nil {
		return Entry{}, fmt.Errorf("decode consul kv %s: %w", p.Key, err)
	}
	if obj.ObjectMeta().Name != name {
		return Entry{}, fmt.Errorf("consul kv %s holds an object named %q", p.Key, obj.ObjectMeta().Name)
	}
	return Entry{Object: obj, ModifyIndex: p.ModifyIndex}, nil
}
