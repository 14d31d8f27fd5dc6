package consul

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
)

// commitFolder holds the commit records of split publishes, one per
// gateway. No kind is named like it, so it never collides with objects.
const commitFolder = "_commit"

// States of a commit record.
const (
	stateInProgress = "in-progress"
	stateDone       = "done"
)

// sessionTTL is how long a split publish's lock outlives a publisher that
// died without releasing it: after that the next publish may repair.
const sessionTTL = "15s"

// How often ReadGateway reads again while a publish is in progress, and
// its first pause: 0.2+0.4+0.8+1.6 s covers a split publish of thousands
// of routes on a healthy cluster without leaving a caller hanging.
const (
	defaultReadAttempts = 5
	defaultReadPause    = 200 * time.Millisecond
)

// commitRecord is what a split publish stores at <prefix>/_commit/<gateway>.
type commitRecord struct {
	State string `json:"state"`
	// Hash is the hash of Keys, naming the publish's content.
	Hash string `json:"hash"`
	// Keys maps every key the gateway owns once the publish is done (its
	// Gateway document and its routes) to the SHA-256 of its value.
	Keys map[string]string `json:"keys"`
	// Batches is how many content transactions the publish takes.
	Batches int `json:"batches"`
}

// commitEntry is a commit record as read, with the session holding its
// lock ("" when none does).
type commitEntry struct {
	commitRecord
	modifyIndex uint64
	session     string
}

// commitKey is where gateway's commit record is stored.
func (k *KV) commitKey(gateway string) string {
	return k.prefix + "/" + commitFolder + "/" + gateway
}

func decodeCommit(p *api.KVPair) (commitEntry, error) {
	var rec commitRecord
	if err := json.Unmarshal(p.Value, &rec); err != nil {
		return commitEntry{}, fmt.Errorf("decode consul kv commit record %s: %w", p.Key, err)
	}
	return commitEntry{commitRecord: rec, modifyIndex: p.ModifyIndex, session: p.Session}, nil
}

func valueHash(value []byte) string {
	sum := sha256.Sum256(value)
	return hex.EncodeToString(sum[:])
}

// contentHash names a set of key hashes independently of map order.
func contentHash(keys map[string]string) string {
	h := sha256.New()
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		fmt.Fprintf(h, "%s\x00%s\n", key, keys[key])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ownedHashes hashes the keys gateway owns as snap holds them.
func (k *KV) ownedHashes(gateway string, snap snapshot) map[string]string {
	out := map[string]string{}
	for _, e := range snap.entries {
		owned := false
		switch obj := e.Object.(type) {
		case *model.Gateway:
			owned = obj.Name == gateway
		case *model.Route:
			owned = obj.Gateway == gateway
		}
		if owned {
			key := k.objectKey(e.Object)
			out[key] = valueHash(snap.raw[key])
		}
	}
	return out
}

// readAgain marks a read that may succeed if made again shortly: a publish
// holds the gateway's record.
type readAgain struct{ err *model.Error }

func (r readAgain) Error() string { return r.err.Error() }
func (r readAgain) Unwrap() error { return r.err }

// checkCommit compares what snap holds of gateway with its commit record.
// No record means the gateway was published in one transaction, which
// Consul applies atomically.
func (k *KV) checkCommit(gateway string, snap snapshot) error {
	rec, ok := snap.commits[gateway]
	if !ok {
		return nil
	}
	if rec.State != stateDone {
		if rec.session == "" {
			return model.Errorf(model.ECONFLICT,
				"the publish of gateway %q to consul was interrupted part-way through its %d batches, so consul holds a mix of two versions; "+
					"publishing the gateway again repairs it", gateway, rec.Batches)
		}
		return readAgain{model.Errorf(model.ECONFLICT,
			"gateway %q is being published to consul (%d batches) and cannot be read until that publish finishes; "+
				"if it was interrupted, publishing the gateway again repairs it", gateway, rec.Batches)}
	}
	got := k.ownedHashes(gateway, snap)
	if maps.Equal(got, rec.Keys) {
		return nil
	}
	var diff []string
	for _, key := range slices.Sorted(maps.Keys(rec.Keys)) {
		if got[key] != rec.Keys[key] {
			diff = append(diff, key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(got)) {
		if _, ok := rec.Keys[key]; !ok {
			diff = append(diff, key)
		}
	}
	if len(diff) > 3 {
		diff = append(diff[:3], fmt.Sprintf("and %d more", len(diff)-3))
	}
	return readAgain{model.Errorf(model.ECONFLICT,
		"gateway %q in consul does not match the record of its last publish (%s differ); publishing the gateway again repairs it",
		gateway, strings.Join(diff, ", "))}
}

// publishSplit commits ops in batches behind gateway's commit record (see
// the package doc). rec is the record read at the start, if hasRec.
// verOp, if not nil, writes the version record in the transaction that
// marks the publish done.
func (k *KV) publishSplit(ctx context.Context, gateway string, ops api.KVTxnOps, verOp *api.KVTxnOp, owned map[string]string, rec commitEntry, hasRec bool) error {
	// Each batch keeps one operation for checking the lock.
	batches := slices.Collect(slices.Chunk(ops, maxTxnOps-1))
	record := commitRecord{State: stateInProgress, Hash: contentHash(owned), Keys: owned, Batches: len(batches)}
	key := k.commitKey(gateway)

	session, end, err := k.startSession(ctx, gateway)
	if err != nil {
		return err
	}
	defer end()

	guard := &api.KVTxnOp{Verb: api.KVCheckNotExists, Key: key}
	if hasRec {
		guard = &api.KVTxnOp{Verb: api.KVCheckIndex, Key: key, Index: rec.modifyIndex}
	}
	body, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("encode commit record of gateway %q: %w", gateway, err)
	}
	if k.beforeTxn != nil {
		k.beforeTxn()
	}
	if _, err := k.txn(ctx, api.KVTxnOps{guard, {Verb: api.KVLock, Key: key, Value: body, Session: session}}); err != nil {
		if model.ErrorCode(err) == model.ECONFLICT {
			return model.Errorf(model.ECONFLICT,
				"another publish of gateway %q to consul started since it was read; nothing was written", gateway)
		}
		return fmt.Errorf("start publishing gateway %q to consul: %w", gateway, err)
	}

	holds := &api.KVTxnOp{Verb: api.KVCheckSession, Key: key, Session: session}
	for i, batch := range batches {
		if k.beforeBatch != nil {
			err = k.beforeBatch(i, batch)
		}
		if err == nil {
			_, err = k.txn(ctx, append(slices.Clip(batch), holds))
		}
		if err != nil {
			if i == 0 {
				err = k.abandon(ctx, gateway, session, rec, hasRec, err)
			}
			return splitError(gateway, i, len(batches), err)
		}
	}
	record.State = stateDone
	if body, err = json.Marshal(record); err != nil {
		return fmt.Errorf("encode commit record of gateway %q: %w", gateway, err)
	}
	// One operation marks the publish done and releases the lock, so no
	// reader sees one without the other.
	done := api.KVTxnOps{{Verb: api.KVUnlock, Key: key, Value: body, Session: session}}
	if verOp != nil {
		done = append(done, verOp)
	}
	if _, err := k.txn(ctx, done); err != nil {
		return splitError(gateway, len(batches), len(batches), err)
	}
	return nil
}

// abandon puts gateway's record back as it was read when a split publish
// stops before its first batch committed, so the gateway does not read as
// interrupted when nothing was written. If that fails too, the record
// stays "in-progress" and the next publish repairs it. cause is what
// stopped the publish.
func (k *KV) abandon(ctx context.Context, gateway, session string, rec commitEntry, hasRec bool, cause error) error {
	key := k.commitKey(gateway)
	ops := api.KVTxnOps{{Verb: api.KVCheckSession, Key: key, Session: session}, {Verb: api.KVDelete, Key: key}}
	if hasRec {
		body, err := json.Marshal(rec.commitRecord)
		if err != nil {
			return errors.Join(cause, fmt.Errorf("encode commit record of gateway %q: %w", gateway, err))
		}
		ops = api.KVTxnOps{{Verb: api.KVUnlock, Key: key, Value: body, Session: session}}
	}
	// Also when ctx was cancelled: this is the cleanup of that.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := k.txn(uctx, ops); err != nil {
		return errors.Join(cause, fmt.Errorf("put back the commit record of gateway %q: %w", gateway, err))
	}
	return &untouched{cause}
}

// untouched marks a split publish's error after which consul holds what it
// held before.
type untouched struct{ err error }

func (u *untouched) Error() string { return u.err.Error() }
func (u *untouched) Unwrap() error { return u.err }

// splitError reports a split publish that stopped after committed of total
// batches, keeping a conflict a conflict.
func splitError(gateway string, committed, total int, err error) error {
	what := fmt.Sprintf("publishing gateway %q to consul stopped with %d of %d batches committed, "+
		"and it reads as interrupted until it is published again", gateway, committed, total)
	var u *untouched
	if errors.As(err, &u) {
		what = fmt.Sprintf("publishing gateway %q to consul stopped before its first of %d batches; nothing was written", gateway, total)
		err = u.err
	}
	if model.ErrorCode(err) == model.ECONFLICT {
		return model.Errorf(model.ECONFLICT, "%s: %s", what, model.ErrorMessage(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// startSession creates the Consul session that holds gateway's commit
// record during a split publish and keeps it alive; end destroys it, which
// releases the record whether the publish finished or not.
func (k *KV) startSession(ctx context.Context, gateway string) (id string, end func(), err error) {
	id, _, err = k.client.Session().Create(&api.SessionEntry{
		Name:     "routedeck publish of gateway " + gateway,
		TTL:      sessionTTL,
		Behavior: api.SessionBehaviorRelease,
		// The default 15 s would keep a re-publish from repairing an
		// interrupted one for that long.
		LockDelay: time.Millisecond,
	}, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return "", nil, fmt.Errorf("consul session for publishing gateway %q: %w", gateway, err)
	}
	done := make(chan struct{})
	go func() { _ = k.client.Session().RenewPeriodic(sessionTTL, id, nil, done) }()
	return id, func() {
		close(done)
		// Also when ctx is cancelled: a lock left held would block a
		// repair until the session's TTL runs out.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := k.client.Session().Destroy(id, (&api.WriteOptions{}).WithContext(dctx)); err != nil {
			slog.Warn("destroy consul session of a publish; its TTL will end it", "gateway", gateway, "session", id, "err", err)
		}
	}, nil
}
