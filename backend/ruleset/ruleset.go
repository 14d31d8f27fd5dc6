// Package ruleset loads the rules of any version of a gateway — its draft,
// its live version or any published one — compiled for the reference
// evaluator (backend/rules), so that "what does version X do with this
// request" is asked the same way by the API's explain endpoints, the CLI
// and replay. Compiled versions are kept in a bounded cache: a published
// version never changes, and the draft is kept per generation.
package ruleset

import (
	"container/list"
	"context"
	"strconv"
	"sync"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/store"
)

// Version names a version of a gateway's rules: the draft, the live
// version (the newest published) or published version N.
type Version struct {
	draft bool
	n     int64 // published version; 0 with !draft is live
}

// Draft and Live are the two versions without a number.
var (
	Draft = Version{draft: true}
	Live  = Version{}
)

// Published is published version n (n >= 1).
func Published(n int64) Version { return Version{n: n} }

// ParseVersion reads "live", "draft" or a published version "vN" (or
// "N"), as users write them everywhere a version is named (replay.ParseRef).
func ParseVersion(s string) (Version, error) {
	ref, err := replay.ParseRef(s)
	if err != nil {
		return Version{}, err
	}
	return Version{draft: ref.Draft, n: ref.Version}, nil
}

// String is the version as ParseVersion reads it.
func (v Version) String() string {
	switch {
	case v.draft:
		return "draft"
	case v.n == 0:
		return "live"
	}
	return "v" + strconv.FormatInt(v.n, 10)
}

// IsDraft reports whether v is the draft.
func (v Version) IsDraft() bool { return v.draft }

// Number is a published version's number; 0 for the draft and live.
func (v Version) Number() int64 { return v.n }

// Rules is one version of one gateway's rules, compiled. It is shared by
// every caller that loads the same version and must not be changed.
type Rules struct {
	Gateway string
	// Version is the version loaded: Draft, or the published version
	// (live resolved to its number).
	Version Version
	// Generation is the draft generation the draft was read at; 0 for a
	// published version.
	Generation int64
	// Workspace is what the version is made of: the gateway, its routes,
	// their upstreams and secrets.
	Workspace model.Workspace
	Program   *rules.Program
}

// Stamp identifies the content of r among the versions of its gateway:
// it differs whenever the rules may differ, so a paged answer can tell
// that the rules changed under it.
func (r *Rules) Stamp() int64 {
	if r.Version.draft {
		return r.Generation
	}
	return -r.Version.n
}

// Source is where versions come from; *store.Store with FromStore, or a
// source that shares a cache of the draft workspace with other readers.
type Source interface {
	// Draft returns the gateway's draft workspace and the draft
	// generation it was read at (read before the workspace, so that a
	// write in between makes the pair look older, never newer).
	Draft(ctx context.Context, gateway string) (model.Workspace, int64, error)
	// LatestVersion returns the gateway's newest published version, 0
	// when it was never published.
	LatestVersion(ctx context.Context, gateway string) (int64, error)
	// GetPublished returns published version n of the gateway.
	GetPublished(ctx context.Context, gateway string, n int64) (store.Published, error)
}

// FromStore is a Source reading everything from the store.
func FromStore(s *store.Store) Source { return storeSource{s} }

type storeSource struct{ *store.Store }

func (s storeSource) Draft(ctx context.Context, gateway string) (model.Workspace, int64, error) {
	gen, err := s.DraftGeneration(ctx)
	if err != nil {
		return model.Workspace{}, 0, err
	}
	ws, err := s.GatewayWorkspace(ctx, gateway)
	return ws, gen, err
}

// DefaultCacheSize is how many compiled versions a Loader keeps: the
// draft and live of a few gateways, and the older versions a request log
// or a replay reaches for.
const DefaultCacheSize = 16

// Loader loads and compiles versions, keeping the most recently used.
type Loader struct {
	src Source
	max int

	mu    sync.Mutex
	lru   *list.List // of *slot, most recently used first
	slots map[key]*list.Element
}

type key struct {
	gateway string
	draft   bool
	n       int64 // version, or draft generation
}

// slot is one cached version, loaded once by its first caller while
// later ones wait, rather than all compiling the same rules.
type slot struct {
	key  key
	once sync.Mutex
	done bool
	r    *Rules
}

// NewLoader returns a Loader over src keeping up to size compiled
// versions (DefaultCacheSize when size < 1).
func NewLoader(src Source, size int) *Loader {
	if size < 1 {
		size = DefaultCacheSize
	}
	return &Loader{src: src, max: size, lru: list.New(), slots: map[key]*list.Element{}}
}

// Load returns version v of gateway's rules. A published version that
// does not exist, and live for a gateway never published, are EINVALID
// errors on the field "version"; a gateway that does not exist is
// ENOTFOUND (for the draft; a published version outlives its gateway).
func (l *Loader) Load(ctx context.Context, gateway string, v Version) (*Rules, error) {
	if v.draft {
		ws, gen, err := l.src.Draft(ctx, gateway)
		if err != nil {
			return nil, err
		}
		return l.cached(key{gateway, true, gen}, func() (*Rules, error) {
			// The workspace is shared and never changed, which Compile
			// needs of the routes it keeps.
			return &Rules{Gateway: gateway, Version: Draft, Generation: gen, Workspace: ws,
				Program: rules.Compile(ws.Routes, gateway)}, nil
		})
	}
	latest, err := l.src.LatestVersion(ctx, gateway)
	if err != nil {
		return nil, err
	}
	n := v.n
	switch {
	case latest == 0:
		return nil, versionError("gateway %q has never been published: there is no live version, only the draft", gateway)
	case n == 0:
		n = latest
	case n > latest:
		return nil, versionError("gateway %q has no version %d: its versions are v1 to v%d", gateway, n, latest)
	}
	return l.cached(key{gateway, false, n}, func() (*Rules, error) {
		pub, err := l.src.GetPublished(ctx, gateway, n)
		if err != nil {
			return nil, err
		}
		return &Rules{Gateway: gateway, Version: Published(n), Workspace: pub.Workspace,
			Program: rules.Compile(pub.Workspace.Routes, gateway)}, nil
	})
}

func versionError(format string, args ...any) error {
	var p model.Problems
	p.Add("version", format, args...)
	return p.Err()
}

// cached returns k's rules, building them on first use. A failure is not
// kept: the next caller tries again.
func (l *Loader) cached(k key, build func() (*Rules, error)) (*Rules, error) {
	l.mu.Lock()
	el, ok := l.slots[k]
	if ok {
		l.lru.MoveToFront(el)
	} else {
		if k.draft {
			// An older generation of this draft is never asked for
			// again: make room now rather than when it ages out.
			for other, e := range l.slots {
				if other.draft && other.gateway == k.gateway && other.n < k.n {
					l.remove(e)
				}
			}
		}
		el = l.lru.PushFront(&slot{key: k})
		l.slots[k] = el
		for l.lru.Len() > l.max {
			l.remove(l.lru.Back())
		}
	}
	s := el.Value.(*slot)
	l.mu.Unlock()

	s.once.Lock()
	defer s.once.Unlock()
	if s.done {
		return s.r, nil
	}
	r, err := build()
	if err != nil {
		l.mu.Lock()
		if cur, ok := l.slots[k]; ok && cur == el {
			l.remove(el)
		}
		l.mu.Unlock()
		return nil, err
	}
	s.r, s.done = r, true
	return r, nil
}

func (l *Loader) remove(el *list.Element) {
	l.lru.Remove(el)
	delete(l.slots, el.Value.(*slot).key)
}

// Len is how many versions the cache holds.
func (l *Loader) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
