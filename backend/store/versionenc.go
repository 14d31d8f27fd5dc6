package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	list := func(sec int, n int, seal bool, obj func(int) model.Object) error {
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
			if j < len(prev) && prev[j].name == m.Name && prev[j].priority == priority && m.Version != 0 &&
				prev[j].version == m.Version && prev[j].updated.Equal(m.UpdatedAt) {
				enc = prev[j]
				j++
			} else {
				var err error
				if seal {
					if o, err = sealSecrets(keys, o); err != nil {
						return err
					}
				}
				body, err := json.Marshal(o)
				if err != nil {
					return err
				}
				enc = encodedObject{name: m.Name, priority: priority, version: m.Version, updated: m.UpdatedAt, blob: newBlob(body),
					line: digestLine(nil, o.Kind(), m)}
			}
			digest = append(digest, enc.line...)
			if m.Version != 0 {
				next[sec] = append(next[sec], enc)
			}
			out[sec] = append(out[sec], enc.blob)
		}
		// What the spare held past this version's objects goes.
		clear(next[sec][len(next[sec]):cap(next[sec])])
		return nil
	}
	// sealWorkspace seals the secrets and routes.
	if err := list(sectionSecrets, len(ws.Secrets), true, func(i int) model.Object { return &ws.Secrets[i] }); err != nil {
		return out, "", err
	}
	if err := list(sectionGateways, len(ws.Gateways), false, func(i int) model.Object { return &ws.Gateways[i] }); err != nil {
		return out, "", err
	}
	if err := list(sectionUpstreams, len(ws.Upstreams), false, func(i int) model.Object { return &ws.Upstreams[i] }); err != nil {
		return out, "", err
	}
	if err := list(sectionRoutes, len(ws.Routes), true, func(i int) model.Object { return &ws.Routes[i] }); err != nil {
		return out, "", err
	}
	e.byGW[gateway], e.spare[gateway] = next, last
	e.digest = digest
	sum := sha256.Sum256(digest)
	return out, hex.EncodeToString(sum[:]), nil
}
