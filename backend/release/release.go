// Package release turns a gateway's draft into the configuration its
// proxies run: a publish translates the draft, runs the gateway's route
// tests on it, records it as the next version and serves that very
// translation over ADS; a rollback does the same with an older version.
//
// Each gateway has one runner owning one incremental translator, so a
// publish after a one-rule edit translates one rule, and an endpoint
// change from discovery rebuilds only the load assignments it affects
// (EDS only, no route is translated). The runners follow the store's
// events: a version recorded by any path is served, and endpoint changes
// are applied as they are announced.
package release

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
)

// Endpoints is where discovered endpoints come from: the endpoints of
// every discovered upstream now, by upstream name.
type Endpoints interface {
	RoutableAll() map[string][]model.Endpoint
}

// Options are what a Service is built from. Store and ADS are required.
type Options struct {
	Store *store.Store
	ADS   *xds.Server
	// Endpoints supplies discovered endpoints; nil translates with the
	// upstreams' static and DNS sources only.
	Endpoints Endpoints
	// Tests is the data plane route tests run through as well as the
	// reference evaluator before a publish; nil uses the evaluator only.
	Tests routetest.DataPlane
	// Replayer replays recent requests for the publish gate; nil refuses
	// the publishes a gate applies to, unless overridden.
	Replayer Replayer
	// Published is called after a version is live on ADS (the Consul KV
	// copy, say). Its failures are its own to report: the version is
	// live.
	Published func(ctx context.Context, actor string, pub store.Published)
	Logger    *slog.Logger
	// Metrics count translations; nil counts nothing.
	Metrics *Metrics
	// Events, when set, has runners report there (panics, handled).
	Events *events.Metrics
}

// Result is what a publish did.
type Result struct {
	// Version is the version now live: the new one, or with Unchanged
	// the one the draft already equals.
	Version int64
	// Unchanged says the draft equals the live version: nothing was
	// recorded and nothing new was pushed.
	Unchanged bool
}

// Service publishes gateways and keeps their ADS snapshots current.
type Service struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	runners map[string]*runner
	queues  map[string]*queue
}

// runner is one gateway's xDS state: its translator and what is served.
// mu orders everything that writes the gateway's snapshot, so the last
// write always carries the newest endpoints and the newest version.
type runner struct {
	mu     sync.Mutex
	tr     *translate.Translator
	stats  translate.Stats // of tr, as last reported to the metrics
	served *store.Published
}

// New returns a Service; Start runs its event handlers.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Service{opts: opts, log: opts.Logger, runners: map[string]*runner{}, queues: map[string]*queue{}}
}

// SetTests sets the data plane route tests run through (it is built after
// the service it depends on).
func (s *Service) SetTests(tests routetest.DataPlane) { s.opts.Tests = tests }

func (s *Service) runner(gateway string) *runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runners[gateway]
	if r == nil {
		r = &runner{tr: translate.NewTranslator()}
		s.runners[gateway] = r
	}
	return r
}

// translate translates ws's gateway with r's translator and the endpoints
// discovered now, and records the work in the metrics (the histogram
// routedeck_xds_translation_duration_seconds counts failed translations
// too: a rule set that takes long to refuse is worth seeing). Callers hold
// r.mu. Every workspace translated here is a draft or a published version
// as the store wrote it, so its objects are identified by their versions.
func (s *Service) translate(r *runner, ws model.Workspace, gateway string) (*translate.Resources, error) {
	start := time.Now()
	res, err := r.tr.Translate(ws, gateway, translate.Options{Endpoints: s.endpoints(), Identified: true})
	s.opts.ADS.Metrics().ObserveTranslation(time.Since(start))
	s.report(r)
	return res, err
}

func (s *Service) endpoints() map[string][]model.Endpoint {
	if s.opts.Endpoints == nil {
		return nil
	}
	return s.opts.Endpoints.RoutableAll()
}

// report adds r's translator work since the last report to the metrics.
// Callers hold r.mu.
func (s *Service) report(r *runner) {
	now := r.tr.Stats()
	s.opts.Metrics.add(now, r.stats)
	r.stats = now
}

// publishNow translates the gateway's draft first, so a draft Envoy cannot
// take never becomes a published version, then runs the gateway's route
// tests on it: any failure refuses the publish (ECONFLICT, one field error
// per failed expectation) unless o.Tests is set. Then the publish gate, if
// the live version or the draft has one, replays the requests the gateway
// served lately against the live version and this draft: a limit passed
// refuses the publish (ECONFLICT, a field error per limit) unless o.Gate
// is set. An override is recorded in the audit log (publish.force,
// publish.gate-override) with what it overrode, before anything is
// published, so it cannot happen unrecorded. What was translated, tested
// and replayed is what is recorded and served, even if the draft moves
// meanwhile. A draft equal to the live version records nothing. note is
// the version's note, "forced" with an override.
func (s *Service) publishNow(ctx context.Context, actor, gateway, note string, o Overrides) (Result, error) {
	ws, err := s.opts.Store.GatewayDraft(ctx, gateway)
	if err != nil {
		return Result{}, err
	}
	r := s.runner(gateway)
	r.mu.Lock()
	res, err := s.translate(r, ws, gateway)
	r.mu.Unlock()
	if err != nil {
		return Result{}, err
	}
	// The tests run without the runner's lock: they may start a data
	// plane, and endpoint updates of the live version go on meanwhile.
	if err := s.runTests(ctx, actor, gateway, ws, o.Tests); err != nil {
		return Result{}, err
	}
	if err := s.gate(ctx, actor, gateway, ws, o.Gate); err != nil {
		return Result{}, err
	}
	if o.Tests || o.Gate {
		note = "forced"
	}
	pub, unchanged, err := s.record(ctx, r, actor, gateway, note, ws, res)
	if err != nil {
		return Result{}, err
	}
	if unchanged {
		s.log.Info("publish: the draft equals the live version, nothing published", "gateway", gateway, "version", pub.Version)
	} else if s.opts.Published != nil {
		s.opts.Published(ctx, actor, pub)
	}
	return Result{Version: pub.Version, Unchanged: unchanged}, nil
}

// record records ws as the gateway's next version and serves res, its
// translation. r.mu is held from recording to serving, so the runner's
// own handling of the published event finds the version served already.
// An unchanged draft is served only if its version is not (a failed
// serve before). The snapshot of res is validated and encoded while the
// store writes (xds.Server.Warm); it is served only once the version is
// recorded.
func (s *Service) record(ctx context.Context, r *runner, actor, gateway, note string, ws model.Workspace,
	res *translate.Resources) (store.Published, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	warmed := make(chan struct{})
	go func() {
		defer close(warmed)
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("publish: preparing the snapshot panicked", "gateway", gateway, "panic", p)
			}
		}()
		s.opts.ADS.Warm(gateway, res)
	}()
	pub, unchanged, err := s.opts.Store.PublishWorkspace(ctx, actor, gateway, note, ws)
	<-warmed
	if err != nil {
		return pub, false, err
	}
	if unchanged && r.served != nil && r.served.Version == pub.Version {
		return pub, true, nil
	}
	return pub, unchanged, s.serveLocked(ctx, r, pub, res)
}

// runTests runs the gateway's route tests on ws; see Publish.
func (s *Service) runTests(ctx context.Context, actor, gateway string, ws model.Workspace, force bool) error {
	tests, err := routetest.Load(ctx, s.opts.Store, gateway)
	if err != nil {
		return fmt.Errorf("load route tests of %q: %w", gateway, err)
	}
	rep := routetest.Run(ctx, ws, tests, s.opts.Tests)
	if !force {
		return rep.Err(model.ECONFLICT)
	}
	detail := fmt.Sprintf("%d route tests passed, %d failed", rep.Passed, rep.Failed)
	if err := rep.Err(model.ECONFLICT); err != nil {
		detail = err.Error()
	}
	return s.opts.Store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "publish.force", Target: gateway, Detail: detail})
}

// Rollback checks that the old version still translates, then republishes
// it as a new version.
func (s *Service) Rollback(ctx context.Context, actor, gateway string, version int64) (int64, error) {
	old, err := s.opts.Store.GetPublished(ctx, gateway, version)
	if err != nil {
		return 0, err
	}
	r := s.runner(gateway)
	pub, err := func() (store.Published, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, err := s.translate(r, old.Workspace, gateway); err != nil {
			return store.Published{}, fmt.Errorf("version %d no longer translates: %w", version, err)
		}
		pub, err := s.opts.Store.Rollback(ctx, actor, gateway, version)
		if err != nil {
			return pub, err
		}
		// The restored objects carry new object versions; translating
		// them again reuses every rule the check above translated.
		res, err := s.translate(r, pub.Workspace, gateway)
		if err == nil {
			err = s.serveLocked(ctx, r, pub, res)
		}
		return pub, err
	}()
	if err != nil {
		return 0, err
	}
	if s.opts.Published != nil {
		s.opts.Published(ctx, actor, pub)
	}
	return pub.Version, nil
}

// serveLocked makes res, the translation of pub, the gateway's snapshot.
// The endpoints are brought up to date first: discovery may have moved
// while the publish ran its tests. A version older than the one served
// is not served over it. Callers hold r.mu.
func (s *Service) serveLocked(ctx context.Context, r *runner, pub store.Published, res *translate.Resources) error {
	if r.served != nil && r.served.Version > pub.Version {
		return nil
	}
	clas, err := r.tr.LoadAssignments(pub.Workspace.Upstreams, translate.Options{Endpoints: s.endpoints()})
	s.report(r)
	if err != nil {
		return fmt.Errorf("serve gateway %q version %d: %w", pub.Gateway, pub.Version, err)
	}
	fresh := *res
	fresh.Endpoints = clas
	if err := s.opts.ADS.SetGateway(ctx, pub.Gateway, &fresh, VersionLabel(pub.Version)); err != nil {
		return fmt.Errorf("serve gateway %q version %d: %w", pub.Gateway, pub.Version, err)
	}
	r.served = &pub
	return nil
}

// VersionLabel is the snapshot version of a published version.
func VersionLabel(v int64) string { return strconv.FormatInt(v, 10) }

// Served is the version of gateway this service serves, 0 if none.
func (s *Service) Served(gateway string) int64 {
	r := s.runner(gateway)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.served == nil {
		return 0
	}
	return r.served.Version
}

// Restore serves pubs, the latest version of each gateway, so Envoys get
// their configuration back after a restart without a new publish.
func (s *Service) Restore(ctx context.Context, pubs []store.Published) {
	for _, pub := range pubs {
		r := s.runner(pub.Gateway)
		r.mu.Lock()
		res, err := s.translate(r, pub.Workspace, pub.Gateway)
		if err == nil {
			err = s.serveLocked(ctx, r, pub, res)
		}
		r.mu.Unlock()
		if err != nil {
			s.log.Error("restore published gateway", "gateway", pub.Gateway, "err", err)
			continue
		}
		s.log.Info("serving published gateway", "gateway", pub.Gateway, "version", pub.Version)
	}
}

// LatestPublished is the latest version of every gateway that has one.
func LatestPublished(ctx context.Context, st *store.Store, log *slog.Logger) []store.Published {
	gws, _, err := st.List(ctx, model.KindGateway, store.ListOptions{Limit: 1000})
	if err != nil {
		log.Error("restore published gateways", "err", err)
		return nil
	}
	var pubs []store.Published
	for _, gw := range gws {
		name := gw.ObjectMeta().Name
		pub, err := st.GetPublished(ctx, name, 0)
		if model.ErrorCode(err) == model.ENOTFOUND {
			continue
		}
		if err != nil {
			log.Error("restore published gateway", "gateway", name, "err", err)
			continue
		}
		pubs = append(pubs, pub)
	}
	return pubs
}
