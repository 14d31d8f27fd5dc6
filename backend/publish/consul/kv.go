// Package consul publishes routedeck objects to Consul's KV store, one key
// per object under routedeck/v1/<kind>/<name>, as JSON. Every write is a
// check-and-set on the key's ModifyIndex, so two publishers never silently
// overwrite each other: the loser gets a conflict and must read again.
package consul

import (
	"context"
	"encoding/json"
	"fmt"
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

// ForGateway returns a KV publisher for one gateway's published workspace,
// under <DefaultPrefix>/gateways/<gateway>. Gateways share upstreams, and
// Publish makes its prefix hold exactly one workspace, so each gateway
// needs a folder of its own.
func ForGateway(client *api.Client, gateway string) *KV {
	return &KV{client: client, prefix: DefaultPrefix + "/gateways/" + gateway}
}

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

// Publish makes the prefix hold exactly ws's objects, in one transaction:
// every object is written and every other key under the prefix deleted,
// each checked against the index read at the start. If anything changed
// in between, nothing is written and the error is model.ECONFLICT.
func (k *KV) Publish(ctx context.Context, ws model.Workspace) error {
	current, err := k.List(ctx)
	if err != nil {
		return err
	}
	index := map[string]uint64{}
	for _, e := range current {
		index[k.Key(e.Object.Kind(), e.Object.ObjectMeta().Name)] = e.ModifyIndex
	}
	var ops api.KVTxnOps
	keep := map[string]bool{}
	for _, obj := range ws.Objects() {
		key := k.Key(obj.Kind(), obj.ObjectMeta().Name)
		keep[key] = true
		op, err := k.casOp(obj, index[key])
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	for _, e := range current {
		key := k.Key(e.Object.Kind(), e.Object.ObjectMeta().Name)
		if !keep[key] {
			ops = append(ops, &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: key, Index: e.ModifyIndex})
		}
	}
	if len(ops) > maxTxnOps {
		return model.Errorf(model.EINVALID,
			"publishing to consul takes %d writes, more than the %d one transaction allows", len(ops), maxTxnOps)
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
