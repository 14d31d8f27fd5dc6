package xds

import (
	"sync"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
)

// Warm validates and marshals, ahead of time, the resources of res that
// key's snapshot does not hold (and only those), so that a SetGateway of res that follows
// only assembles them. A publish warms the snapshot of its translation
// while the store records the version, which it must before the version
// is served: for a first publish of 10,000 routes that work is then done
// on the core the store's write leaves idle. Nothing is served or
// pushed. A type with a resource that fails validation is not kept:
// SetGateway reports the problems as without Warm. What Warm made is kept
// until the next SetGateway or DeleteGateway of key takes it, or the next
// Warm of key replaces it: one per key at most.
func (s *Server) Warm(key string, res *translate.Resources) {
	if res == nil {
		return
	}
	prev := s.cache.get(key)
	made := map[string]*typeResources{}
	for typeURL, items := range ByType(res) {
		if !supportedTypes[typeURL] {
			continue
		}
		var old *typeResources
		if prev != nil {
			old = prev.types[typeURL]
		}
		// Only what old does not hold: after a one-rule edit, the route
		// configuration alone, whose other virtual hosts old holds.
		var fresh []types.Resource
		for _, item := range items {
			if holder(cache.GetResourceName(item), item, old, nil) == nil {
				fresh = append(fresh, item)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		var p model.Problems
		validateAll(&p, typeURL, fresh, old, nil)
		if p.Err() != nil {
			continue
		}
		t, err := encodeTypeResources(typeURL, fresh, old, nil)
		if err != nil {
			continue
		}
		made[typeURL] = t
	}
	s.warm.put(key, made)
}

// warmCache holds, by key, what Warm made for the next SetGateway.
type warmCache struct {
	mu    sync.Mutex
	byKey map[string]map[string]*typeResources
}

func (c *warmCache) put(key string, byType map[string]*typeResources) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]map[string]*typeResources{}
	}
	c.byKey[key] = byType
}

// take removes and returns what Warm made for key (nil when nothing).
func (c *warmCache) take(key string) map[string]*typeResources {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.byKey[key]
	delete(c.byKey, key)
	return w
}
