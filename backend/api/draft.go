package api

import (
	"context"
	"sync"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// draftCache keeps the gateways' draft workspaces as read from the store
// for the draft generation they were read at. Loading thousands of routes
// costs milliseconds, and /evaluate and the routes list ask far more often
// than the draft changes (the compiled rules are kept by ruleset.Loader). Only the
// newest generation is kept, one entry per gateway that exists.
type draftCache struct {
	mu  sync.Mutex
	gen int64
	by  map[string]*draftEntry
}

// draftEntry is one gateway's derived values at one generation. Each is
// computed once, by the first caller; the others wait for it rather than
// repeat the work.
type draftEntry struct {
	ws derived[model.Workspace]
}

// derived is a value computed on first use. A failure is not kept: the
// next caller tries again.
type derived[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
}

func (d *derived[T]) get(build func() (T, error)) (T, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return d.v, nil
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	d.v, d.done = v, true
	return v, nil
}

// entry returns the gateway's entry for generation gen. A reader that
// started before a newer generation was seen gets an entry of its own,
// used once and not kept.
func (c *draftCache) entry(gen int64, gateway string) *draftEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil || gen > c.gen {
		c.gen, c.by = gen, map[string]*draftEntry{}
	}
	if gen < c.gen {
		return &draftEntry{}
	}
	e := c.by[gateway]
	if e == nil {
		e = &draftEntry{}
		c.by[gateway] = e
	}
	return e
}

// forget drops an entry whose workspace could not be read (no such
// gateway, say), so names that do not exist take no room.
func (c *draftCache) forget(gen int64, gateway string, e *draftEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && c.by[gateway] == e {
		delete(c.by, gateway)
	}
}

// gatewayDraft is the gateway's entry for the current draft generation,
// with its workspace loaded, and that generation.
func (s *server) gatewayDraft(ctx context.Context, gateway string) (*draftEntry, model.Workspace, int64, error) {
	// The generation is read before the workspace: a write in between
	// makes the entry older than its generation says, and the next
	// write's generation replaces it.
	gen, err := s.Store.DraftGeneration(ctx)
	if err != nil {
		return nil, model.Workspace{}, 0, err
	}
	e := s.drafts.entry(gen, gateway)
	ws, err := e.ws.get(func() (model.Workspace, error) { return s.Store.GatewayWorkspace(ctx, gateway) })
	if err != nil {
		s.drafts.forget(gen, gateway, e)
		return nil, model.Workspace{}, 0, err
	}
	return e, ws, gen, nil
}

// draftSource gives the version loader (ruleset.Loader) the draft
// workspaces this cache already holds, so the draft is read once per
// generation whoever asks.
type draftSource struct {
	*server
}

func (d draftSource) Draft(ctx context.Context, gateway string) (model.Workspace, int64, error) {
	_, ws, gen, err := d.gatewayDraft(ctx, gateway)
	return ws, gen, err
}

func (d draftSource) LatestVersion(ctx context.Context, gateway string) (int64, error) {
	return d.Store.LatestVersion(ctx, gateway)
}

func (d draftSource) GetPublished(ctx context.Context, gateway string, n int64) (store.Published, error) {
	return d.Store.GetPublished(ctx, gateway, n)
}
