// Package consul publishes routedeck objects to Consul's KV store, one key
// per object under routedeck/v1/<kind>/<name>, as JSON. All gateways share
// that one tree: a gateway's routes record which gateway they belong to,
// and upstreams and secrets are shared by whichever routes use them. Every
// write is a check-and-set on the key's ModifyIndex, so two publishers
// never silently overwrite each other: the loser gets a conflict and must
// read again.
//
// A publish writes only what changed: objects whose stored JSON is
// byte-identical to what would be written are left alone, except an
// upstream or secret that something the publish does write refers to. That
// write is a claim: a concurrent publish of another gateway that read the
// object as unused, and is about to delete it, then conflicts instead of
// leaving a route here pointing at nothing (before writes were skipped,
// rewriting every object gave the same guarantee).
//
// A publish that fits in one Consul transaction (64 operations) is one
// atomic transaction, and readers can never see half of it. A larger one is
// split into transactions of at most 64 operations, ordered so that no
// committed prefix leaves a dangling reference: secrets, upstreams, routes,
// the Gateway document, then deletions of removed routes, of upstreams no
// route uses any more and of secrets nothing uses any more. Readers still
// must not see the gateway half-written, so such a publish keeps a commit
// record at routedeck/v1/_commit/<gateway> (no kind is named "_commit", so
// List never takes it for an object):
//
//   - before the first batch the record is locked by a Consul session and
//     set to "in-progress" with the hash of every key the gateway owns (its
//     Gateway document and its routes) as the publish will leave them;
//     every batch checks that it still holds the lock, so a second
//     publisher of the gateway gets a conflict rather than interleaving;
//   - after the last batch one operation sets it to "done" and releases
//     the lock. A publish that fails or is cancelled half-way destroys its
//     session, which releases the lock and leaves the record "in-progress"
//     with no holder: the gateway reads as interrupted until it is
//     published again, and the next publish repairs it.
//
// ReadGateway checks what it read against the record: while a publish holds
// it, or the owned keys do not hash to what it lists, it reads again a few
// times and then reports a conflict; an interrupted publish is reported at
// once. A gateway without a record (published in one transaction, which
// also deletes any record an earlier split publish left) reads as is. Only
// owned keys are hashed: upstreams and secrets are shared, and another
// gateway's publish may legitimately change them afterwards.
//
// PublishVersion also records the number the publisher gave the version
// at routedeck/v1/_version/<gateway>, in the transaction that makes the
// content visible (the one transaction, or the one that marks a split
// publish done), so a reader that honours the commit record never pairs a
// number with content it does not name. xDS replicas (Watch, Tree) serve
// a gateway under that number.
//
// Credentials (API keys, basic-auth passwords: model.MapSecrets) are sealed
// with routedeck's master key before they are written, so a KV read token
// does not give them away, and a routedeck with the same key reads them
// back. TLS private keys are never written: secrets go out with their key
// redacted, and one that still carries a key is refused.
//
// While any other gateway's split publish is in progress (or interrupted),
// a publish does not collect unused upstreams and secrets: what looks
// unused may be what that publish wrote for routes of its later batches.
// They are collected by a later publish.
package consul

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// DefaultPrefix is the KV folder objects are published under.
const DefaultPrefix = "routedeck/v1"

// maxTxnOps is Consul's limit on operations in one transaction.
const maxTxnOps = 64

// KV reads and writes published objects in Consul's KV store.
type KV struct {
	client *api.Client
	prefix string
	// keys seal credentials on the way in and open them on the way out;
	// without them, objects with credentials can be neither written nor
	// read.
	keys *seal.Keyring

	// beforeTxn, when set, runs between Publish's read and its first
	// write, so tests can change the store in that window.
	beforeTxn func()
	// beforeBatch, when set, runs before each transaction of content
	// Publish commits (batch counts from 0) with its operations; an error
	// stops the publish there, as a failed transaction would.
	beforeBatch func(batch int, ops api.KVTxnOps) error

	// readAttempts and readPause bound how often and after how long a
	// first pause ReadGateway reads again while a publish is in progress;
	// zero means the defaults.
	readAttempts int
	readPause    time.Duration
}

// Option configures a KV.
type Option func(*KV)

// WithKeys seals the credentials KV writes with keys' current master key,
// and opens those it reads with any of keys' master keys.
func WithKeys(keys *seal.Keyring) Option { return func(k *KV) { k.keys = keys } }

// BeforeBatch runs hook before each content transaction a publish
// commits (batch counts from 0); an error from it stops the publish there,
// as a failed transaction would. It is how tests of readers stop a writer
// between two batches of a split publish, in process or by killing the
// process while hook blocks.
func BeforeBatch(hook func(batch int) error) Option {
	return func(k *KV) { k.beforeBatch = func(batch int, _ api.KVTxnOps) error { return hook(batch) } }
}

// New returns a KV publisher under DefaultPrefix.
func New(client *api.Client, opts ...Option) *KV {
	k := &KV{client: client, prefix: DefaultPrefix}
	for _, o := range opts {
		o(k)
	}
	return k
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
	e, err := k.decode(pair)
	if err != nil {
		return Entry{}, err
	}
	if err := k.openCredentials(key, e.Object); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// List reads every object under the prefix, in key order. Commit records
// of split publishes are not objects and are left out.
func (k *KV) List(ctx context.Context) ([]Entry, error) {
	snap, err := k.read(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.opened(snap, snap.entries); err != nil {
		return nil, err
	}
	return snap.entries, nil
}

// opened fails when credentials of one of entries could not be opened.
// Only what is handed out must open: a publish plans over the whole tree,
// and another routedeck's objects there are none of its business.
func (k *KV) opened(snap snapshot, entries []Entry) error {
	var errs []error
	for _, e := range entries {
		if err := snap.unopened[k.objectKey(e.Object)]; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// snapshot is the whole tree as one consistent read saw it.
type snapshot struct {
	entries []Entry           // objects, in key order
	raw     map[string][]byte // key -> stored JSON
	// plain maps the key of each object with credentials to its JSON with
	// the credentials opened: sealing is randomised, so an unchanged
	// object is recognised by its content, not by its stored bytes.
	plain map[string][]byte
	// unopened holds why the credentials of an object could not be
	// opened (no key, another routedeck's key); the object keeps them
	// sealed.
	unopened map[string]error
	index    map[string]uint64 // key -> ModifyIndex
	commits  map[string]commitEntry
	versions map[string]versionEntry // gateway -> its version record
}

// read lists the tree in one consistent read, objects and commit records
// together, so a reader checks objects against the record of the same
// moment.
func (k *KV) read(ctx context.Context) (snapshot, error) {
	snap, _, err := k.readWith(ctx, &api.QueryOptions{RequireConsistent: true})
	return snap, err
}

// readWith lists the tree as read does, with opts (a blocking query, say),
// and returns Consul's answer metadata too.
func (k *KV) readWith(ctx context.Context, opts *api.QueryOptions) (snapshot, *api.QueryMeta, error) {
	pairs, meta, err := k.client.KV().List(k.prefix+"/", opts.WithContext(ctx))
	if err != nil {
		return snapshot{}, nil, fmt.Errorf("consul kv list %s/: %w", k.prefix, err)
	}
	snap := snapshot{raw: map[string][]byte{}, plain: map[string][]byte{}, unopened: map[string]error{},
		index: map[string]uint64{}, commits: map[string]commitEntry{}, versions: map[string]versionEntry{}}
	commitFolder, versionFolder := k.commitKey(""), k.versionKey("")
	for _, p := range pairs {
		if gw, ok := strings.CutPrefix(p.Key, commitFolder); ok {
			c, err := decodeCommit(p)
			if err != nil {
				return snapshot{}, nil, err
			}
			snap.commits[gw] = c
			continue
		}
		if gw, ok := strings.CutPrefix(p.Key, versionFolder); ok {
			v, err := decodeVersion(p)
			if err != nil {
				return snapshot{}, nil, err
			}
			snap.versions[gw] = v
			continue
		}
		e, err := k.decode(p)
		if err != nil {
			return snapshot{}, nil, err
		}
		snap.entries = append(snap.entries, e)
		snap.raw[p.Key] = p.Value
		if model.HasSecrets(e.Object) {
			if err := k.openCredentials(p.Key, e.Object); err != nil {
				snap.unopened[p.Key] = err
			} else if plain, err := json.Marshal(e.Object); err == nil {
				snap.plain[p.Key] = plain
			}
		}
		snap.index[p.Key] = p.ModifyIndex
	}
	return snap, meta, nil
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
// with a check-and-set on every key it touches:
//
//   - objects of ws that differ from what is stored are written, and so
//     are unchanged upstreams and secrets that something written refers
//     to (see the package doc for why);
//   - routes of this gateway that ws no longer holds are deleted (a route
//     records its gateway, so another gateway's routes are never
//     candidates);
//   - upstreams no route left in the tree uses, and secrets no gateway or
//     upstream left in the tree uses, are deleted, unless another
//     gateway's split publish is in progress.
//
// Each check is against the index read at the start; if anything changed
// in between, the error is model.ECONFLICT. Up to 64 operations this is
// one transaction and nothing is written on a conflict. Past that the
// publish is split into ordered batches behind a commit record (see the
// package doc); a conflict or failure in a batch stops it, says how many
// batches committed, and leaves the gateway reading as interrupted until
// it is published again.
//
// Publish leaves no version record (see PublishVersion), and removes one
// an earlier publish left: the content it named is gone.
func (k *KV) Publish(ctx context.Context, gateway string, ws model.Workspace) error {
	return k.publish(ctx, gateway, 0, ws)
}

// PublishVersion is Publish that also records version, the number the
// publisher gave this content, at <prefix>/_version/<gateway>: in the
// same transaction as the content, or for a split publish in the one that
// marks it done. xDS replicas serve the gateway under that number, so a
// proxy that moves from one replica to another, or from the publisher to a
// replica, sees the same version.
func (k *KV) PublishVersion(ctx context.Context, gateway string, version int64, ws model.Workspace) error {
	if version <= 0 {
		return model.Errorf(model.EINVALID, "publish gateway %q to consul: version %d is not positive", gateway, version)
	}
	return k.publish(ctx, gateway, version, ws)
}

func (k *KV) publish(ctx context.Context, gateway string, version int64, ws model.Workspace) error {
	if err := checkGatewayWorkspace(gateway, ws); err != nil {
		return err
	}
	snap, err := k.read(ctx)
	if err != nil {
		return err
	}
	p, err := k.plan(gateway, ws, snap)
	if err != nil {
		return err
	}
	rec, hasRec := snap.commits[gateway]
	if hasRec && rec.session != "" {
		return model.Errorf(model.ECONFLICT,
			"another publish of gateway %q to consul is in progress; publish again once it has finished", gateway)
	}
	ops := p.ops()
	verOp := k.versionOp(gateway, version, snap)
	if len(ops) == 0 && verOp == nil && (!hasRec || rec.State == stateDone) {
		return nil
	}
	// The record guard keeps a split publish that starts after the read
	// from interleaving with this one, and deletes the record of an earlier
	// split publish: after this transaction the keys no longer hash to it.
	guard := &api.KVTxnOp{Verb: api.KVCheckNotExists, Key: k.commitKey(gateway)}
	if hasRec {
		guard = &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: k.commitKey(gateway), Index: rec.modifyIndex}
	}
	if verOp != nil && len(ops)+2 <= maxTxnOps {
		ops = append(ops, verOp)
		verOp = nil
	}
	if verOp == nil && len(ops)+1 <= maxTxnOps {
		if k.beforeTxn != nil {
			k.beforeTxn()
		}
		if k.beforeBatch != nil {
			if err := k.beforeBatch(0, ops); err != nil {
				return fmt.Errorf("publish gateway %q to consul: %w", gateway, err)
			}
		}
		_, err = k.txn(ctx, append(ops, guard))
		return err
	}
	return k.publishSplit(ctx, gateway, ops, verOp, p.owned, rec, hasRec)
}

// publishPlan is what one publish writes and deletes, by kind, in the
// order a split publish commits them.
type publishPlan struct {
	secrets, upstreams, routes, gateway []*api.KVTxnOp
	delRoutes, delUpstreams, delSecrets []*api.KVTxnOp
	// owned maps each key the gateway owns (its Gateway document and its
	// routes) to the hash of its value once the publish is done.
	owned map[string]string
}

// ops is every operation of p in commit order: nothing is written before
// what it refers to, and nothing is deleted before what refers to it.
func (p publishPlan) ops() api.KVTxnOps {
	var out api.KVTxnOps
	for _, group := range [][]*api.KVTxnOp{p.secrets, p.upstreams, p.routes, p.gateway, p.delRoutes, p.delUpstreams, p.delSecrets} {
		out = append(out, group...)
	}
	return out
}

// plan decides what publishing ws for gateway over snap writes and deletes.
func (k *KV) plan(gateway string, ws model.Workspace, snap snapshot) (publishPlan, error) {
	// after is the tree as it will be once the publish is done; the
	// garbage collection below decides on it, not on what was read.
	after := map[string]model.Object{}
	for _, e := range snap.entries {
		after[k.objectKey(e.Object)] = e.Object
	}
	p := publishPlan{owned: map[string]string{}}
	written := map[string]bool{}
	ops := map[string]*api.KVTxnOp{}
	for _, obj := range ws.Objects() {
		key := k.objectKey(obj)
		if old, ok := after[key].(*model.Route); ok && old.Gateway != gateway {
			return p, model.Errorf(model.ECONFLICT,
				"route %q in consul belongs to gateway %q, not %q", old.Name, old.Gateway, gateway)
		}
		written[key] = true
		after[key] = obj
		op, err := k.casOp(obj, snap.index[key])
		if err != nil {
			return p, err
		}
		if prev, ok := snap.plain[key]; ok {
			// Same content, credentials included: keep the stored
			// ciphertext, so the object counts as unchanged.
			if now, err := json.Marshal(obj); err == nil && bytes.Equal(now, prev) {
				op.Value = snap.raw[key]
			}
		}
		ops[key] = op
	}
	// An unchanged object is written anyway when something this publish
	// writes refers to it: that write is the claim that makes a concurrent
	// publish collecting it as unused conflict (see the package doc).
	// Referrers come before what they refer to, so each claim is known
	// before its target is decided.
	claimed := map[string]bool{}
	changed := func(key string) bool {
		old, ok := snap.raw[key]
		return claimed[key] || !ok || !bytes.Equal(old, ops[key].Value)
	}
	for _, r := range ws.Routes {
		key := k.objectKey(&r)
		p.owned[key] = valueHash(ops[key].Value)
		if changed(key) {
			p.routes = append(p.routes, ops[key])
			for _, u := range RouteUpstreams(&r) {
				claimed[k.Key(model.KindUpstream, u)] = true
			}
		}
	}
	for _, g := range ws.Gateways {
		key := k.objectKey(&g)
		p.owned[key] = valueHash(ops[key].Value)
		if changed(key) {
			p.gateway = append(p.gateway, ops[key])
			for _, s := range model.ObjectSecretNames(&g) {
				claimed[k.Key(model.KindSecret, s)] = true
			}
		}
	}
	for _, u := range ws.Upstreams {
		if key := k.objectKey(&u); changed(key) {
			p.upstreams = append(p.upstreams, ops[key])
			for _, s := range model.ObjectSecretNames(&u) {
				claimed[k.Key(model.KindSecret, s)] = true
			}
		}
	}
	for _, s := range ws.Secrets {
		if key := k.objectKey(&s); changed(key) {
			p.secrets = append(p.secrets, ops[key])
		}
	}
	del := func(e Entry) *api.KVTxnOp {
		key := k.objectKey(e.Object)
		delete(after, key)
		return &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: key, Index: e.ModifyIndex}
	}
	for _, e := range snap.entries {
		if r, ok := e.Object.(*model.Route); ok && r.Gateway == gateway && !written[k.objectKey(r)] {
			p.delRoutes = append(p.delRoutes, del(e))
		}
	}
	for gw, rec := range snap.commits {
		if gw != gateway && rec.State != stateDone {
			return p, nil // that publish may be about to use what looks unused
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
	for _, e := range snap.entries {
		if u, ok := e.Object.(*model.Upstream); ok && !usedUpstreams[u.Name] && !written[k.objectKey(u)] {
			p.delUpstreams = append(p.delUpstreams, del(e))
		}
	}
	usedSecrets := map[string]bool{}
	for _, obj := range after {
		for _, n := range model.ObjectSecretNames(obj) {
			usedSecrets[n] = true
		}
	}
	for _, e := range snap.entries {
		if s, ok := e.Object.(*model.Secret); ok && !usedSecrets[s.Name] && !written[k.objectKey(s)] {
			p.delSecrets = append(p.delSecrets, del(e))
		}
	}
	return p, nil
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
//
// It never returns half of a split publish (see the package doc): while
// one is in progress it reads again a few times, with a growing pause, and
// then gives up with a model.ECONFLICT error; an interrupted one is a
// model.ECONFLICT error at once. Both say that publishing the gateway
// again repairs it.
func (k *KV) ReadGateway(ctx context.Context, gateway string) ([]Entry, error) {
	return k.readConsistent(ctx, fmt.Sprintf("gateway %q", gateway), func(snap snapshot) ([]Entry, error) {
		return k.gatewayEntries(gateway, snap)
	})
}

// ReadAll reads every published gateway as ReadGateway does, from one
// consistent read of the tree: each gateway's read set, shared upstreams
// and secrets once. Objects no gateway uses are left out. An empty tree is
// no entries and no error.
func (k *KV) ReadAll(ctx context.Context) ([]Entry, error) {
	return k.readConsistent(ctx, "every gateway", func(snap snapshot) ([]Entry, error) {
		var out []Entry
		seen := map[string]bool{}
		for _, e := range snap.entries {
			gw, ok := e.Object.(*model.Gateway)
			if !ok {
				continue
			}
			entries, err := k.gatewayEntries(gw.Name, snap)
			if err != nil {
				return nil, err
			}
			for _, ge := range entries {
				if key := k.objectKey(ge.Object); !seen[key] {
					seen[key] = true
					out = append(out, ge)
				}
			}
		}
		return out, nil
	})
}

// readConsistent reads the tree and picks from it until pick stops asking
// to read again (a split publish in progress), a few times with a growing
// pause; what says what is being read, for errors.
func (k *KV) readConsistent(ctx context.Context, what string, pick func(snapshot) ([]Entry, error)) ([]Entry, error) {
	attempts, pause := k.readAttempts, k.readPause
	if attempts <= 0 {
		attempts, pause = defaultReadAttempts, defaultReadPause
	}
	for attempt := 1; ; attempt++ {
		snap, err := k.read(ctx)
		if err != nil {
			return nil, err
		}
		entries, err := pick(snap)
		var again readAgain
		if !errors.As(err, &again) {
			if err == nil {
				err = k.opened(snap, entries)
			}
			if err != nil {
				return nil, err
			}
			return entries, nil
		}
		if attempt >= attempts {
			return nil, again.err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s from consul: %w (%s)", what, ctx.Err(), again.err)
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// gatewayEntries picks gateway's read set out of snap and checks it
// against the gateway's commit record.
func (k *KV) gatewayEntries(gateway string, snap snapshot) ([]Entry, error) {
	if err := k.checkCommit(gateway, snap); err != nil {
		return nil, err
	}
	byKey := map[string]Entry{}
	for _, e := range snap.entries {
		byKey[k.objectKey(e.Object)] = e
	}
	gw, ok := byKey[k.Key(model.KindGateway, gateway)]
	if !ok {
		return nil, model.Errorf(model.ENOTFOUND, "gateway %q is not published to consul", gateway)
	}
	out := []Entry{gw}
	var routes []Entry
	usedUpstreams := map[string]bool{}
	for _, e := range snap.entries {
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
	for _, e := range snap.entries { // in key order, so by name
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
	sealed, err := k.sealCredentials(key, obj)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(sealed)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	return &api.KVTxnOp{Verb: api.KVCAS, Key: key, Value: body, Index: index}, nil
}

// sealCredentials returns obj as it may be written to KV: credentials
// sealed, on a copy. A TLS private key is refused: it has no business in
// KV, sealed or not, and callers redact it.
func (k *KV) sealCredentials(key string, obj model.Object) (model.Object, error) {
	if !model.HasSecrets(obj) {
		return obj, nil
	}
	var c model.Object
	switch o := obj.(type) {
	case *model.Secret:
		s := *o
		c = &s
	case *model.Route:
		r := *o
		c = &r
	default:
		return obj, nil
	}
	err := model.MapSecrets(c, func(path, v string) (string, error) {
		if path == "tls.privateKey" {
			if v == model.RedactedPrivateKey {
				return v, nil
			}
			return "", model.Errorf(model.EINVALID, "%s: a TLS private key is never published to consul; redact it", key)
		}
		if k.keys == nil {
			return "", fmt.Errorf("%s: %s holds a credential, and this publisher has no master key to seal it", key, path)
		}
		s, err := k.keys.Seal([]byte(v))
		if err != nil {
			return "", fmt.Errorf("%s: seal %s: %w", key, path, err)
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// openCredentials opens, in place, the sealed credentials of obj read from
// key.
func (k *KV) openCredentials(key string, obj model.Object) error {
	return model.MapSecrets(obj, func(path, v string) (string, error) {
		if !seal.IsSealed(v) {
			return v, nil
		}
		if k.keys == nil {
			return "", fmt.Errorf("consul kv %s: %s is sealed with a routedeck master key, and none is at hand to open it (%s)", key, path, seal.EnvMasterKey)
		}
		p, err := k.keys.Unseal(v)
		if errors.Is(err, seal.ErrUnknownKey) {
			return "", fmt.Errorf("consul kv %s: %s was sealed by a routedeck with another master key", key, path)
		} else if err != nil {
			return "", fmt.Errorf("consul kv %s: %s: %w", key, path, err)
		}
		return string(p), nil
	})
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
