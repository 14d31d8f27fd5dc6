package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/parallel"
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
	// byGW holds each gateway's last encoded version, by section, in the
	// workspace's order, and spare the lists before it, whose arrays
	// the next encoding of the gateway fills: a publish of ten thousand
	// routes allocates no list of them.
	byGW  map[string]*[numSections][]encodedObject
	spare map[string]*[numSections][]encodedObject
	// digest is the buffer digests are made in.
	digest []byte
}

// objectKey names an object.
type objectKey struct{ kind, name string }

// encodedObject is an object's encoding, the identity it was encoded at
// and its place in workspace order (name, and a route's priority).
type encodedObject struct {
	name     string
	priority int
	version  int64
	updated  time.Time
	blob     blob
	// line is the object's line of the version's digest
	// (workspaceDigest).
	line []byte
}

func newVersionEncoder() *versionEncoder {
	return &versionEncoder{byGW: map[string]*[numSections][]encodedObject{}, spare: map[string]*[numSections][]encodedObject{}}
}

// forget drops every kept encoding: the stored versions were sealed again
// (rekey.go), so kept encodings may name objects no longer stored.
func (e *versionEncoder) forget() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.byGW)
	clear(e.spare)
}

// encode returns ws's objects, each sealed and encoded as json.Marshal
// would, by section in model.Workspace's field order, and ws's digest
// (workspaceDigest), made in the same walk. A nil e encodes everything.
//
// Each section is walked beside the gateway's last encoded one, both in
// workspace order (routes by priority and name, the rest by name), as a
// merge: an object met at the same place with the same identity reuses
// its encoding, which takes no lookup per object; one that is not (new,
// changed, or out of order in a workspace not built from the store) is
// encoded.
func (e *versionEncoder) encode(keys *seal.Keyring, gateway string, ws model.Workspace) (sections, string, error) {
	if e == nil {
		e = newVersionEncoder()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id := keys.CurrentID(); id != e.keyID {
		e.keyID = id
		clear(e.byGW)
		clear(e.spare)
	}
	last := e.byGW[gateway]
	if last == nil {
		last = &[numSections][]encodedObject{}
	}
	next := e.spare[gateway]
	if next == nil {
		next = &[numSections][]encodedObject{}
	}
	var out sections
	digest := e.digest[:0]
	// Objects not kept encoded are listed as the walk meets them and
	// encoded after it, in parallel: a first publish encodes every object
	// of the gateway.
	var todo []encodeJob
	if len(last[sectionRoutes]) == 0 {
		todo = make([]encodeJob, 0, len(ws.Secrets)+len(ws.Gateways)+len(ws.Upstreams)+len(ws.Routes))
	}
	list := func(sec int, n int, seal bool, obj func(int) model.Object) {
		out[sec] = make([]blob, 0, n)
		if cap(next[sec]) < n || cap(next[sec]) > 2*n+64 {
			next[sec] = make([]encodedObject, 0, n)
		}
		next[sec] = next[sec][:0]
		prev, j := last[sec], 0
		for i := range n {
			o := obj(i)
			m := o.ObjectMeta()
			priority := 0
			if r, ok := o.(*model.Route); ok {
				priority = r.Priority
			}
			// Skip what the previous version had before this object. The
			// names are tested first: mostly they are the same string,
			// which compares without reading it.
			for j < len(prev) && prev[j].name != m.Name && model.ComparePrecedence(prev[j].priority, prev[j].name, priority, m.Name) < 0 {
				j++
			}
			var enc encodedObject
			kept := j < len(prev) && prev[j].name == m.Name && prev[j].priority == priority && m.Version != 0 &&
				prev[j].version == m.Version && prev[j].updated.Equal(m.UpdatedAt)
			if kept {
				enc = prev[j]
				j++
			} else {
				enc = encodedObject{name: m.Name, priority: priority, version: m.Version, updated: m.UpdatedAt,
					line: digestLine(nil, o.Kind(), m)}
			}
			digest = append(digest, enc.line...)
			at := -1
			if m.Version != 0 {
				at = len(next[sec])
				next[sec] = append(next[sec], enc)
			}
			if !kept {
				todo = append(todo, encodeJob{sec: sec, i: len(out[sec]), next: at, obj: o, seal: seal})
			}
			out[sec] = append(out[sec], enc.blob)
		}
		// What the spare held past this version's objects goes.
		clear(next[sec][len(next[sec]):cap(next[sec])])
	}
	// sealWorkspace seals the secrets and routes.
	list(sectionSecrets, len(ws.Secrets), true, func(i int) model.Object { return &ws.Secrets[i] })
	list(sectionGateways, len(ws.Gateways), false, func(i int) model.Object { return &ws.Gateways[i] })
	list(sectionUpstreams, len(ws.Upstreams), false, func(i int) model.Object { return &ws.Upstreams[i] })
	list(sectionRoutes, len(ws.Routes), true, func(i int) model.Object { return &ws.Routes[i] })
	if err := encodeAll(keys, todo); err != nil {
		// The lists stay the spare ones: a later call encodes them again.
		return out, "", err
	}
	for _, t := range todo {
		out[t.sec][t.i] = t.blob
		if t.next >= 0 {
			next[t.sec][t.next].blob = t.blob
		}
	}
	e.byGW[gateway], e.spare[gateway] = next, last
	e.digest = digest
	sum := sha256.Sum256(digest)
	return out, hex.EncodeToString(sum[:]), nil
}

// encodeJob is an object to encode: where its blob goes (its place in the
// section and in the kept list, -1 if not kept) and, once encoded, the
// blob.
type encodeJob struct {
	sec, i, next int
	obj          model.Object
	seal         bool
	blob         blob
}

// parallelEncode is the fewest objects worth a second goroutine.
const parallelEncode = 256

// encodeAll encodes the jobs' objects, sealing their secrets where asked,
// on every core when there are many; the error is the first job's that
// failed, as a loop would return it.
func encodeAll(keys *seal.Keyring, jobs []encodeJob) error {
	errs := make([]error, len(jobs))
	parallel.For(len(jobs), parallelEncode, func(k int) {
		j := &jobs[k]
		o := j.obj
		var err error
		if j.seal {
			if o, err = sealSecrets(keys, o); err != nil {
				errs[k] = err
				return
			}
		}
		body, err := json.Marshal(o)
		if err != nil {
			errs[k] = err
			return
		}
		j.blob = newBlob(body)
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
