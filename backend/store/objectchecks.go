package store

import (
	"maps"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// objectChecks keeps what each draft object's own Validate answered, by
// the object's identity (kind, name, version, time of last change: every
// write moves the last two), so the objects a write brings in only to
// check references against (flush, draftrefs.go) are not validated again,
// nor is every object of a draft loaded from the database validated once
// more when the first write checks it whole. Objects not written yet
// (version 0) are always checked.
type objectChecks struct {
	mu    sync.Mutex
	calls uint64
	known map[objectKey]objectCheck
}

type objectCheck struct {
	version int64
	updated time.Time
	err     error
	seen    uint64 // the validation that last met the object
}

func newObjectChecks() *objectChecks { return &objectChecks{known: map[objectKey]objectCheck{}} }

// validate is ws.Validate with the kept answers; what it does not meet
// is forgotten. A nil c checks every object.
func (c *objectChecks) validate(ws model.Workspace) error {
	if c == nil {
		return ws.Validate()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.validateLocked(ws)
	maps.DeleteFunc(c.known, func(_ objectKey, k objectCheck) bool { return k.seen != c.calls })
	return err
}

// validatePart is validate over part of the draft: the answers about
// objects it does not meet are kept (forget drops a deleted object's).
func (c *objectChecks) validatePart(ws model.Workspace) error {
	if c == nil {
		return ws.Validate()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.validateLocked(ws)
}

// forget drops the answer about a deleted object.
func (c *objectChecks) forget(k objKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.known, objectKey(k))
}

func (c *objectChecks) validateLocked(ws model.Workspace) error {
	c.calls++
	return ws.ValidateWith(func(obj model.Object) error {
		m := obj.ObjectMeta()
		if m.Version == 0 {
			return obj.Validate()
		}
		key := objectKey{kind: obj.Kind(), name: m.Name}
		if k, ok := c.known[key]; ok && k.version == m.Version && k.updated.Equal(m.UpdatedAt) {
			k.seen = c.calls
			c.known[key] = k
			return k.err
		}
		err := obj.Validate()
		c.known[key] = objectCheck{version: m.Version, updated: m.UpdatedAt, err: err, seen: c.calls}
		return err
	})
}
