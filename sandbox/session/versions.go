package session

import (
	"context"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
)

// Versions gives a gateway's published versions; the store provides it.
type Versions interface {
	// PublishedWorkspace returns the number and the workspace of
	// version (0: the latest) of gateway; ENOTFOUND when there is none.
	PublishedWorkspace(ctx context.Context, gateway string, version int64) (int64, model.Workspace, error)
}

// ParseTarget reads the target of a test request, in the words of a
// replay's versions (replay.ParseRef): "" or "draft" is the draft,
// "live" the latest published version, "vN" (or "N") version N.
func ParseTarget(target string) (replay.Ref, error) {
	if target == "" {
		return replay.Ref{Draft: true}, nil
	}
	return replay.ParseRef(target)
}

// resolve finds the sandbox a request for target of gateway runs in, and
// for a version the workspace it runs. "live" is resolved to its number
// here, so a publish meanwhile starts another sandbox rather than
// changing this one.
func (s *Service) resolve(ctx context.Context, gateway, target string) (instance, *model.Workspace, error) {
	ref, err := ParseTarget(target)
	if err != nil {
		return instance{}, nil, model.Errorf(model.EINVALID, "target: %v", err)
	}
	if ref.Draft {
		return instance{gateway: gateway}, nil, nil
	}
	if s.opts.Versions == nil {
		return instance{}, nil, model.Errorf(model.EINVALID, "target: this sandbox runs drafts only")
	}
	n, ws, err := s.opts.Versions.PublishedWorkspace(ctx, gateway, ref.Version)
	if err != nil {
		return instance{}, nil, err
	}
	return instance{gateway: gateway, version: n}, &ws, nil
}

// versionUse is how a version's sandbox is used: by how many requests
// now, and when last.
type versionUse struct {
	in   instance
	busy int
	last time.Time
}

// useVersion records a request for the sandbox of in, a version, until
// the release it returns; the release stops the least recently used
// idle versions' sandboxes past Options.MaxVersions. One in use is never
// stopped: past the bound there are at most as many as requests in
// flight.
func (s *Service) useVersion(in instance) (release func()) {
	key := in.key()
	s.mu.Lock()
	u := s.versions[key]
	if u == nil {
		u = &versionUse{in: in}
		s.versions[key] = u
	}
	u.busy++
	u.last = time.Now()
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		u.busy--
		u.last = time.Now()
		s.mu.Unlock()
		s.evictVersions()
	}
}

// evictVersions stops idle versions' sandboxes, least recently used
// first, until at most Options.MaxVersions are kept.
func (s *Service) evictVersions() {
	for {
		s.mu.Lock()
		if len(s.versions) <= s.opts.MaxVersions {
			s.mu.Unlock()
			return
		}
		var victim *versionUse
		for _, u := range s.versions {
			if u.busy == 0 && (victim == nil || u.last.Before(victim.last)) {
				victim = u
			}
		}
		if victim == nil {
			s.mu.Unlock()
			return
		}
		key := victim.in.key()
		delete(s.versions, key)
		s.mu.Unlock()
		if err := s.stopUnused(victim.in); err != nil {
			s.log.Warn("sandbox: stop a version's sandbox", "gateway", victim.in.gateway, "version", victim.in.version, "err", err)
		}
	}
}

// stopUnused stops the sandbox of in unless a request took it up again
// since it was chosen: such a request recorded a new use before it could
// reach the sandbox, and one recorded later waits for the lock held here
// and then starts it again.
func (s *Service) stopUnused(in instance) error {
	defer s.lockGateway(in.key())()
	s.mu.Lock()
	_, inUse := s.versions[in.key()]
	s.mu.Unlock()
	if inUse {
		return nil
	}
	return s.stopLocked(in)
}

// forgetVersions drops the uses of gateway's versions (it is stopped).
func (s *Service) forgetVersions(gateway string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, u := range s.versions {
		if u.in.gateway == gateway {
			delete(s.versions, key)
		}
	}
}
