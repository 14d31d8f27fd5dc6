package store

import (
	"encoding/json"
	"maps"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// versionEncoder writes the JSON of a published version (a sealed
// model.Workspace) reusing, per gateway, the encoding of every object
// unchanged since the gateway's previous version: after a one-route edit
// of a 10,000-route gateway only that route is encoded (and its secrets
// sealed) again. The whole version is still written in the publish's
// transaction, so durability is that of any other commit.
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
	json    []byte
	seen    uint64 // the encode call that last met the object
}

func newVersionEncoder() *versionEncoder {
	return &versionEncoder{byGW: map[string]map[objectKey]encodedObject{}}
}

// encode returns what json.Marshal(sealWorkspace(keys, ws)) would, the
// sealed values' random nonces aside. A nil e encodes everything.
func (e *versionEncoder) encode(keys *seal.Keyring, gateway string, ws model.Workspace) ([]byte, error) {
	if e == nil {
		e = newVersionEncoder()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id := keys.CurrentID(); id != e.keyID {
		e.keyID = id
		clear(e.byGW)
	}
	known := e.byGW[gateway]
	if known == nil {
		known = map[objectKey]encodedObject{}
		e.byGW[gateway] = known
	}
	e.calls++
	size := 0
	for _, o := range known {
		size += len(o.json) + 1
	}
	buf := make([]byte, 0, size+256)
	buf = append(buf, '{')
	first := true
	list := func(field string, n int, seal bool, obj func(int) model.Object) error {
		if n == 0 {
			return nil // omitempty
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, '"')
		buf = append(buf, field...)
		buf = append(buf, `":[`...)
		for i := range n {
			if i > 0 {
				buf = append(buf, ',')
			}
			o := obj(i)
			m := o.ObjectMeta()
			key := objectKey{kind: o.Kind(), name: m.Name}
			enc, ok := known[key]
			b := enc.json
			if !ok || m.Version == 0 || enc.version != m.Version || !enc.updated.Equal(m.UpdatedAt) {
				var err error
				if seal {
					if o, err = sealSecrets(keys, o); err != nil {
						return err
					}
				}
				if b, err = json.Marshal(o); err != nil {
					return err
				}
			}
			if m.Version != 0 {
				known[key] = encodedObject{version: m.Version, updated: m.UpdatedAt, json: b, seen: e.calls}
			}
			buf = append(buf, b...)
		}
		buf = append(buf, ']')
		return nil
	}
	// The fields of model.Workspace, in its order; sealWorkspace seals
	// the secrets and routes.
	if err := list("secrets", len(ws.Secrets), true, func(i int) model.Object { return &ws.Secrets[i] }); err != nil {
		return nil, err
	}
	if err := list("gateways", len(ws.Gateways), false, func(i int) model.Object { return &ws.Gateways[i] }); err != nil {
		return nil, err
	}
	if err := list("upstreams", len(ws.Upstreams), false, func(i int) model.Object { return &ws.Upstreams[i] }); err != nil {
		return nil, err
	}
	if err := list("routes", len(ws.Routes), true, func(i int) model.Object { return &ws.Routes[i] }); err != nil {
		return nil, err
	}
	// Objects gone from the gateway since the last call go too.
	maps.DeleteFunc(known, func(_ objectKey, o encodedObject) bool { return o.seen != e.calls })
	return append(buf, '}'), nil
}
