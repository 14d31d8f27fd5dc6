package consul

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
)

// versionFolder holds each gateway's version record: the number its
// publisher gave the content the tree holds. Like commitFolder, no kind
// is named like it.
const versionFolder = "_version"

// versionRecord is what <prefix>/_version/<gateway> stores.
type versionRecord struct {
	Version int64 `json:"version"`
}

// versionEntry is a version record as read.
type versionEntry struct {
	versionRecord
	modifyIndex uint64
}

func (k *KV) versionKey(gateway string) string {
	return k.prefix + "/" + versionFolder + "/" + gateway
}

func decodeVersion(p *api.KVPair) (versionEntry, error) {
	var rec versionRecord
	if err := json.Unmarshal(p.Value, &rec); err != nil || rec.Version <= 0 {
		return versionEntry{}, fmt.Errorf("consul kv version record %s holds no positive version", p.Key)
	}
	return versionEntry{versionRecord: rec, modifyIndex: p.ModifyIndex}, nil
}

// versionOp is the write that leaves gateway's version record at version
// (0: no record), or nil when it already is. It is a check-and-set, so two
// publishers of the gateway conflict here as they do on content.
func (k *KV) versionOp(gateway string, version int64, snap snapshot) *api.KVTxnOp {
	cur, has := snap.versions[gateway]
	switch {
	case version == 0 && !has, has && cur.Version == version:
		return nil
	case version == 0:
		return &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: k.versionKey(gateway), Index: cur.modifyIndex}
	}
	body, _ := json.Marshal(versionRecord{Version: version}) // a struct of one int
	return &api.KVTxnOp{Verb: api.KVCAS, Key: k.versionKey(gateway), Value: body, Index: cur.modifyIndex}
}

// Tree is the published tree as one read of Consul saw it: what a replica
// serves its gateways from.
type Tree struct {
	k    *KV
	snap snapshot
	// Index is Consul's index of the read; Watch with it waits for the
	// next change.
	Index uint64
	// KnownLeader is whether the answering server knew a leader; without
	// one what it answered may be behind.
	KnownLeader bool
}

// Watch reads the whole tree in one Consul blocking query: at once when
// index is 0, else once the tree's index moves past index or wait has
// passed (then the same tree comes back). The read is answered by the
// leader, so two replicas never serve a gateway older than what either
// has seen acknowledged; while the cluster has no leader it fails, and
// the caller keeps what it serves.
func (k *KV) Watch(ctx context.Context, index uint64, wait time.Duration) (*Tree, error) {
	snap, meta, err := k.readWith(ctx, &api.QueryOptions{WaitIndex: index, WaitTime: wait})
	if err != nil {
		return nil, err
	}
	return &Tree{k: k, snap: snap, Index: meta.LastIndex, KnownLeader: meta.KnownLeader}, nil
}

// Gateways are the gateways the tree holds a Gateway document of, sorted.
func (t *Tree) Gateways() []string {
	var out []string
	for _, e := range t.snap.entries {
		if gw, ok := e.Object.(*model.Gateway); ok {
			out = append(out, gw.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Release is one gateway's published version as the tree holds it.
type Release struct {
	Gateway string
	// Version is the number its publisher gave it.
	Version int64
	// Workspace is the gateway, its routes, the upstreams they use and
	// the secrets of both, credentials opened; TLS private keys are
	// redacted, since they never go to Consul.
	Workspace model.Workspace
}

// Release reads gateway's published version out of the tree, never half
// of one: a split publish in progress, one that was interrupted and keys
// that do not match the gateway's commit record are model.ECONFLICT
// errors (a later tree may resolve them: Watch wakes when the record
// changes). A gateway published without a version record (by Publish, or
// by a routedeck from before version records) is model.ECONFLICT too,
// since no replica could label it as its publisher does. Never published
// is model.ENOTFOUND.
func (t *Tree) Release(gateway string) (Release, error) {
	entries, err := t.k.gatewayEntries(gateway, t.snap)
	var again readAgain
	if errors.As(err, &again) {
		return Release{}, again.err
	}
	if err == nil {
		err = t.k.opened(t.snap, entries)
	}
	if err != nil {
		return Release{}, err
	}
	ver, ok := t.snap.versions[gateway]
	if !ok {
		return Release{}, model.Errorf(model.ECONFLICT,
			"gateway %q in consul has no version record (it was published without one); publishing the gateway again writes it", gateway)
	}
	return Release{Gateway: gateway, Version: ver.Version, Workspace: Workspace(entries)}, nil
}
