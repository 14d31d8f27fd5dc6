package store

import (
	"encoding/json"
	"maps"
	"runtime"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// versionEncoder encodes the objects of a published version (a sealed
// model.Workspace) for the version store (versionstore.go), reusing, per
// gateway, the encoding and hash of every object unchanged since the
// gateway's previous version: after a one-route edit of a 10,000-route
// gateway only that route is encoded (and its secrets sealed) again, and
// reused encodings keep their hashes, so the version store finds them
// stored already. Durability is the version store's: what is written goes
// in the publish's transaction.
//
// An object is known unchanged by its identity, as the no-op publish
// check knows it (workspaceDigest): every write moves its version and
// time. Objects that never came from the store (version 0) are always
// encoded.
type versionEncoder struct {
	mu sync.Mutex
	// keyID is the sealing key the cached encodings were sealed with;
	// after a key rotation they are dropped.
	keyID string
	calls uint64
	byGW  map[string]map[objectKey]encodedObject
}

// objectKey names an object; encodedObject is its encoding and the
// identity it was encoded at. Keyed by name alone, a lookup hashes a short
// string, and a publish updates the map in place instead of building one
// of ten thousand entries again.
type objectKey struct{ kind, name string }

type encodedObject struct {
	version int64
	updated time.Time
	blob    blob
	seen    uint64 // the encode call that last met the object
}

func newVersionEncoder() *versionEncoder {
	return &versionEncoder{byGW: map[string]map[objectKey]encodedObject{}}
}

// forget drops every kept encoding: the stored versions were sealed again
// (rekey.go), so kept encodings may name objects no longer stored.
func (e *versionEncoder) forget() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.byGW)
}

// encode returns ws's objects, each sealed and encoded as json.Marshal
// would, by section in model.Workspace's field order. A nil e encodes
// everything.
func (e *versionEncoder) encode(keys *seal.Keyring, gateway string, ws model.Workspace) (sections, error) {
	if e == nil {
		e = newVersionEncoder()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id := keys.CurrentID(); id != e.keyID {
		e.keyID = id
		clear(e.byGW)
	}
	total := len(ws.Secrets) + len(ws.Gateways) + len(ws.Upstreams) + len(ws.Routes)
	known := e.byGW[gateway]
	if known == nil {
		known = make(map[objectKey]encodedObject, total)
		e.byGW[gateway] = known
	}
	e.calls++
	// First the objects kept encoded are taken and the others listed;
	// those are encoded next, in parallel: a first publish encodes every
	// object of the gateway.
	var out sections
	var todo []encodeJob
	if len(known) == 0 {
		todo = make([]encodeJob, 0, total)
	}
	list := func(sec int, n int, seal bool, obj func(int) model.Object) {
		out[sec] = make([]blob, n)
		for i := range n {
			o := obj(i)
			m := o.ObjectMeta()
			key := objectKey{kind: o.Kind(), name: m.Name}
			enc, ok := known[key]
			if !ok || m.Version == 0 || enc.version != m.Version || !enc.updated.Equal(m.UpdatedAt) {
				todo = append(todo, encodeJob{sec: sec, i: i, obj: o, seal: seal})
				continue
			}
			known[key] = encodedObject{version: m.Version, updated: m.UpdatedAt, blob: enc.blob, seen: e.calls}
			out[sec][i] = enc.blob
		}
	}
	// sealWorkspace seals the secrets and routes.
	list(sectionSecrets, len(ws.Secrets), true, func(i int) model.Object { return &ws.Secrets[i] })
	list(sectionGateways, len(ws.Gateways), false, func(i int) model.Object { return &ws.Gateways[i] })
	list(sectionUpstreams, len(ws.Upstreams), false, func(i int) model.Object { return &ws.Upstreams[i] })
	list(sectionRoutes, len(ws.Routes), true, func(i int) model.Object { return &ws.Routes[i] })
	if err := encodeAll(keys, todo); err != nil {
		// Nothing was kept for the objects listed: a later call encodes
		// them again.
		return out, err
	}
	for _, j := range todo {
		out[j.sec][j.i] = j.blob
		if m := j.obj.ObjectMeta(); m.Version != 0 {
			known[objectKey{kind: j.obj.Kind(), name: m.Name}] = encodedObject{version: m.Version, updated: m.UpdatedAt, blob: j.blob, seen: e.calls}
		}
	}
	// Objects gone from the gateway since the last call go too.
	maps.DeleteFunc(known, func(_ objectKey, o encodedObject) bool { return o.seen != e.calls })
	return out, nil
}

// encodeJob is an object to encode: where its blob goes and, once
// encoded, the blob.
type encodeJob struct {
	sec, i int
	obj    model.Object
	seal   bool
	blob   blob
}

// parallelEncode is the fewest objects worth a second goroutine.
const parallelEncode = 256

// encodeAll encodes the jobs' objects, sealing their secrets where asked,
// on every core when there are many; the error is the first job's that
// failed, as a loop would return it.
func encodeAll(keys *seal.Keyring, jobs []encodeJob) error {
	workers := min(runtime.GOMAXPROCS(0), len(jobs)/parallelEncode+1)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (len(jobs) + workers - 1) / workers
	for w := range workers {
		part := jobs[min(w*chunk, len(jobs)):min((w+1)*chunk, len(jobs))]
		wg.Go(func() {
			for k := range part {
				j := &part[k]
				o := j.obj
				var err error
				if j.seal {
					if o, err = sealSecrets(keys, o); err != nil {
						errs[w] = err
						return
					}
				}
				body, err := json.Marshal(o)
				if err != nil {
					errs[w] = err
					return
				}
				j.blob = newBlob(body)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
