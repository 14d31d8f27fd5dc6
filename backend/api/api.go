// Package api is routedeck's HTTP API under /api/v1: JSON in and out,
// problem documents for errors, Bearer tokens or a session cookie for
// authentication, a minimal role declared next to every route. The browser
// dashboard, the desktop window and the CLI all use it.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/lint"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/publishgate"
	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/ruleset"
	"github.com/routedeck/routedeck/backend/store"
)

// Publisher publishes gateway drafts to their proxies. The ADS server
// provides it; without one the publish endpoints answer 501.
type Publisher interface {
	// Publish translates, validates and records the gateway's draft as a
	// new published version and pushes it; a draft equal to the live
	// version records nothing (PublishResult.Unchanged). o says what an
	// admin overrides: failing route tests, the publish gate.
	Publish(ctx context.Context, actor, gateway string, o PublishOptions) (PublishResult, error)
	// CheckGate replays the gateway's recent requests against its live
	// version and its draft and gives the publish gate's verdict, as a
	// publish now would meet it.
	CheckGate(ctx context.Context, gateway string) (publishgate.Check, error)
	// Rollback republishes an older version as a new one.
	Rollback(ctx context.Context, actor, gateway string, version int64) (newVersion int64, err error)
	// Proxies reports the proxies of a gateway and what they acknowledged.
	Proxies(ctx context.Context, gateway string) ([]Proxy, error)
}

// Proxy is one Envoy connected (or last seen) for a gateway.
type Proxy struct {
	Node      string            `json:"node"`
	Connected bool              `json:"connected"`
	Acked     map[string]string `json:"acked"` // type URL -> version
	// InSync is true when the proxy runs the gateway's current
	// configuration: it acknowledged the version each type is served at.
	InSync bool  `json:"inSync"`
	Nack   *Nack `json:"nack"`
	// Replica is the xDS replica that holds the proxy's stream, as it
	// reports to Consul; empty when this server does.
	Replica string `json:"replica,omitempty"`
}

// Nack is the last configuration a proxy refused.
type Nack struct {
	TypeURL string `json:"typeUrl"`
	Error   string `json:"error"`
	Rule    string `json:"rule,omitempty"`
}

// Sandbox sends test requests through a gateway's draft in the local
// sandbox. The request and reply are the JSON documents of the API contract
// (POST /sandbox/requests); the sandbox owns their types.
type Sandbox interface {
	Send(ctx context.Context, body json.RawMessage) (any, error)
}

// Deps are what the API is built from. Store is required; the rest are
// optional and their endpoints answer 501 when absent.
type Deps struct {
	Store     *store.Store
	Logger    *slog.Logger
	Publisher Publisher
	Sandbox   Sandbox
	// Simulator runs traffic simulations in the sandbox.
	Simulator Simulator
	// SandboxSettings reports and checks the sandbox's engine choice.
	SandboxSettings SandboxSettings
	// TestPlane runs route tests through the sandbox's data plane as well
	// as the reference evaluator; nil runs them through the evaluator only.
	TestPlane routetest.DataPlane
	// UI serves the dashboard for every path outside /api; nil mounts
	// nothing there.
	UI http.Handler
	// Metrics serves Prometheus metrics at /metrics (viewer role, so a
	// scraper uses a token like any client); nil mounts nothing.
	Metrics http.Handler
	// Endpoints reports discovered upstream endpoints; without it only
	// static and DNS upstreams are answered.
	Endpoints Endpoints
	// Translator translates gateways for the Envoy export with the
	// discovered endpoints; nil translates with static and DNS ones only.
	Translator EnvoyTranslator
	// Targets keeps the Kubernetes and Consul settings.
	Targets Targets
	// Push deploys and exports gateways to Kubernetes and Consul.
	Push Push
	// Certs issues gateways' ADS certificates and rotates the CA; nil
	// answers /certs with 404.
	Certs Certs
	// AccessLog is the request log the gateways' proxies report to.
	AccessLog AccessLog
	// Backup streams backups of the data directory; nil answers
	// GET /backup with 501.
	Backup Backup
	// Replayer replays requests against two versions of a gateway.
	Replayer Replayer
	// Alerts evaluates the alert rules and sends test notifications.
	Alerts Alerts
	// LocalGateways runs gateways in the server's process for trying
	// them out; nil answers /gateways/{name}/local with 501.
	LocalGateways LocalGateways
	// Info tells clients how proxies reach the server's ADS; nil answers
	// GET /server with 501.
	Info ServerInfoSource
	// MaxBodyBytes limits request bodies; 0 means 4 MiB.
	MaxBodyBytes int64
	// SecureCookies marks the session cookie Secure (serve behind TLS).
	SecureCookies bool
	// LoginGuard throttles password guessing; nil uses
	// auth.NewLoginGuard's limits.
	LoginGuard *auth.LoginGuard
	// Timeouts are the body deadline and the long endpoints' write
	// deadline; zero fields take DefaultTimeouts. Serve with NewServer and
	// the same value so the server's own timeouts match.
	Timeouts Timeouts
	// Fingerprinter names secret values (TLS private keys, API keys,
	// basic-auth passwords) in every answer, to every role; required. An
	// update that sends a fingerprint back keeps the value it names.
	Fingerprinter model.Fingerprinter
}

type server struct {
	Deps
	log   *slog.Logger
	authn *auth.Authenticator
	// drafts keeps what is derived from each gateway's draft (compiled
	// rules, lint) until the draft changes.
	drafts draftCache
	// versions keeps the compiled rules of draft and published versions
	// for the explanations.
	versions *ruleset.Loader
	// translators find the draft warnings of writes.
	translators draftTranslators
	// lint keeps each gateway's lint report until a change touches it.
	lint *lint.Cache
}

// NewHandler builds the whole HTTP surface: the API under /api/v1 and,
// when deps.UI is set, the dashboard everywhere else.
func NewHandler(deps Deps) http.Handler {
	if deps.Fingerprinter == nil {
		// Without it every answer would carry credentials in clear.
		panic("api: Deps.Fingerprinter is required")
	}
	s := &server{Deps: deps, log: deps.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 4 << 20
	}
	if s.LoginGuard == nil {
		s.LoginGuard = auth.NewLoginGuard()
	}
	s.Timeouts = s.Timeouts.orDefault()
	s.authn = &auth.Authenticator{Lookup: deps.Store, Fail: s.writeError}
	s.lint = lint.New(deps.Store)
	s.versions = ruleset.NewLoader(draftSource{s}, ruleset.DefaultCacheSize)
	need := s.authn.Require

	r := chi.NewRouter()
	r.Use(securityHeaders, requestID, s.logger, s.bodyDeadline)
	long := s.runsLong

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.limitBody, s.authn.Authenticate, recordActor)
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, errNotFound("no such endpoint: %s", r.URL.Path))
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, errMethod(r))
		})

		r.Get("/health", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})
		r.With(need(auth.RoleViewer)).Get("/openapi.json", serveOpenAPI)
		r.With(need(auth.RoleViewer)).Get("/server", s.serverInfo)

		r.Route("/auth", func(r chi.Router) {
			// Login carries its credentials in the body.
			r.Post("/login", s.login)
			r.With(need(auth.RoleViewer)).Post("/logout", s.logout)
			r.With(need(auth.RoleViewer)).Get("/me", s.me)
		})

		for _, k := range kinds {
			r.Route("/"+k.path, func(r chi.Router) {
				r.With(need(auth.RoleViewer)).Get("/", s.listObjects(k))
				r.With(need(auth.RoleEditor)).Post("/", s.createObject(k))
				r.Route("/{name}", func(r chi.Router) {
					r.With(need(auth.RoleViewer)).Get("/", s.getObject(k))
					r.With(need(auth.RoleEditor)).Put("/", s.updateObject(k))
					r.With(need(auth.RoleEditor)).Delete("/", s.deleteObject(k))
					switch k.kind {
					case kindGateway.kind:
						// Force-publishing skips the route tests: editors
						// may publish, only admins may force (checked in
						// the handler, where the body is read).
						r.With(need(auth.RoleEditor), long).Post("/publish", s.publish)
						// A check publishes nothing: what it replays a
						// viewer may read.
						r.With(need(auth.RoleViewer), long).Post("/publish/check", s.publishCheck)
						r.With(need(auth.RoleEditor), long).Post("/rollback", s.rollback)
						r.With(need(auth.RoleViewer)).Get("/proxies", s.proxies)
						r.With(need(auth.RoleViewer)).Get("/lint", s.lintGateway)
						r.With(need(auth.RoleViewer)).Get("/bootstrap", s.bootstrap)
						r.With(need(auth.RoleViewer)).Get("/published", s.published)
						r.With(need(auth.RoleViewer)).Get("/published/{version}", s.publishedVersion)
						// Deploying and applying exports write to clusters
						// outside routedeck: admins only.
						r.With(need(auth.RoleAdmin), long).Post("/deploy", s.deploy)
						r.With(need(auth.RoleViewer)).Get("/export/gateway-api", s.exportGatewayAPI)
						r.With(need(auth.RoleAdmin), long).Post("/export/gateway-api", s.exportGatewayAPI)
						r.With(need(auth.RoleViewer)).Get("/export/consul", s.exportConsul)
						r.With(need(auth.RoleAdmin), long).Post("/export/consul", s.exportConsul)
						r.With(need(auth.RoleViewer)).Get("/export/envoy", s.exportEnvoy)
						r.With(need(auth.RoleViewer), s.withRequestLog).Get("/logs", s.logs)
						r.With(need(auth.RoleViewer), s.withRequestLog).Get("/logs/{id}/explain", s.explainLogEntry)
						r.With(need(auth.RoleViewer), s.withRequestLog).Get("/traffic", s.traffic)
						// A replay changes nothing; it reads what a viewer
						// may read (the request log and the versions).
						r.With(need(auth.RoleViewer), long).Post("/replay", s.replayRequests)
						// A local gateway runs in the server's process
						// and sends requests upstream: editors start it.
						r.With(need(auth.RoleViewer)).Get("/local", s.localGateway)
						r.With(need(auth.RoleEditor), long).Put("/local", s.localAction(emptyBody, LocalGateways.Start))
						r.With(need(auth.RoleEditor)).Delete("/local", s.localAction(noQuery, LocalGateways.Stop))
						r.With(need(auth.RoleEditor), long).Post("/local/traffic", s.localTraffic)
						r.With(need(auth.RoleViewer), s.withRequestLog).Get("/traffic/series", s.trafficSeries)
						r.With(need(auth.RoleViewer)).Post("/explain", s.explainVersion)
						r.With(need(auth.RoleViewer)).Get("/export/openapi", s.exportOpenAPI)
					case kindUpstream.kind:
						r.With(need(auth.RoleViewer)).Get("/endpoints", s.endpoints)
					}
				})
			})
		}

		// Read-only evaluations are POSTs only because they carry a body.
		r.With(need(auth.RoleViewer)).Post("/evaluate", s.evaluate)
		r.With(need(auth.RoleViewer)).Post("/validate", s.validate)
		r.With(need(auth.RoleViewer), long).Post("/sandbox/requests", s.sandboxRequest)
		r.With(need(auth.RoleViewer), long).Post("/sandbox/simulations", s.simulate)
		// Which data plane runs test requests is a setting of the server
		// (it may start a local Envoy binary): admins only.
		r.With(need(auth.RoleViewer)).Get("/sandbox/settings", s.getSandboxSettings)
		r.With(need(auth.RoleAdmin)).Put("/sandbox/settings", s.putSandboxSettings)
		r.With(need(auth.RoleEditor), long).Post("/apply", s.apply)
		// Converting is harmless, but its answer is a step towards applying.
		r.With(need(auth.RoleEditor), long).Post("/import", s.importFile)

		r.Route("/tests", func(r chi.Router) {
			r.With(need(auth.RoleViewer)).Get("/", s.listTests)
			r.With(need(auth.RoleEditor)).Post("/", s.createTest)
			// Running tests changes nothing: a viewer may.
			r.With(need(auth.RoleViewer), long).Post("/run", s.runTests)
			r.With(need(auth.RoleViewer)).Get("/envoy", s.exportEnvoyTests)
			r.With(need(auth.RoleEditor)).Post("/envoy", s.importEnvoyTests)
			r.Route("/{name}", func(r chi.Router) {
				r.With(need(auth.RoleViewer)).Get("/", s.getTest)
				r.With(need(auth.RoleEditor)).Put("/", s.updateTest)
				r.With(need(auth.RoleEditor)).Delete("/", s.deleteTest)
			})
		})

		r.Route("/targets", func(r chi.Router) {
			r.With(need(auth.RoleViewer)).Get("/", s.getTargets)
			r.With(need(auth.RoleAdmin)).Put("/", s.putTargets)
			r.With(need(auth.RoleViewer)).Get("/kubernetes/services", s.kubeServices)
			r.With(need(auth.RoleViewer)).Get("/consul/services", s.consulServices)
			r.With(need(auth.RoleViewer)).Get("/consul/kv", s.consulKV)
		})

		r.Route("/alerts", func(r chi.Router) { s.alertRoutes(r, need) })

		r.Route("/revisions", func(r chi.Router) {
			r.Use(need(auth.RoleViewer))
			r.Get("/", s.listRevisions)
			r.Get("/{id}", s.getRevision)
			r.Get("/{id}/diff", s.revisionDiff)
		})

		r.Route("/users", func(r chi.Router) {
			r.Use(need(auth.RoleAdmin))
			r.Get("/", s.listUsers)
			r.Post("/", s.createUser)
		})
		r.Route("/tokens", func(r chi.Router) {
			r.Use(need(auth.RoleAdmin))
			r.Get("/", s.listTokens)
			r.Post("/", s.createToken)
			r.Delete("/{id}", s.deleteToken)
		})
		r.With(need(auth.RoleAdmin)).Get("/audit", s.listAudit)
		r.With(need(auth.RoleAdmin)).Get("/backup", s.backup)
		// A certificate lets a proxy read its gateway's configuration,
		// keys included: admins only, and audited.
		r.Route("/certs", func(r chi.Router) {
			r.Use(need(auth.RoleAdmin), s.needCerts)
			r.Get("/cas", s.listCAs)
			r.Post("/rotate-ca", s.rotateCA)
			r.Post("/gateways/{name}", s.issueGatewayCert)
		})
	})

	if deps.Metrics != nil {
		r.With(s.authn.Authenticate, need(auth.RoleViewer)).Handle("/metrics", deps.Metrics)
	}
	if deps.UI != nil {
		r.Handle("/*", deps.UI)
	}
	return r
}

func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.MaxBodyBytes
		if isReplay(r) {
			limit = max(limit, replayBodyBytes)
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// actorSlot lets the outer access log learn who the inner authentication
// middleware identified.
type actorSlot struct{ name string }

type actorSlotKey struct{}

func recordActor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slot, ok := r.Context().Value(actorSlotKey{}).(*actorSlot); ok {
			if p, ok := auth.FromContext(r.Context()); ok {
				slot.name = p.Name
			}
		}
		next.ServeHTTP(w, r)
	})
}

func actorOf(r *http.Request) string {
	if slot, ok := r.Context().Value(actorSlotKey{}).(*actorSlot); ok {
		return slot.name
	}
	return ""
}

func withActorSlot(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), actorSlotKey{}, &actorSlot{}))
}

// requestID tags each request with an id for logs and problem documents:
// the caller's X-Request-Id when it is a sane token (so a proxy's id carries
// through), else a random one. Unlike chi's default it does not reveal the
// host name.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), middleware.RequestIDKey, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
