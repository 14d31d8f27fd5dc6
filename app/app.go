// Package app wires routedeck's backend into a running service: the store
// in the data directory, the demo workspace and first admin on a fresh
// database, the HTTP API with the embedded dashboard. The `serve` command
// and the desktop window (from its OnStartup hook) build the same Service.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/routedeck/routedeck/assets"
	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/backup"
	"github.com/routedeck/routedeck/backend/certfile"
	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/release"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/ruleset"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/targets"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/replay"
	"github.com/routedeck/routedeck/sandbox/session"
	"github.com/routedeck/routedeck/sandbox/traffic"
)

// Config says where the service keeps its data and what it listens on.
type Config struct {
	DataDir string // created if missing
	// Listen is the HTTP address (host:port). Empty serves nothing: the
	// desktop build hands Handler to its window instead.
	Listen string
	// ADSListen is the address Envoys connect to for configuration.
	ADSListen string
	// TLSCert and TLSKey are PEM files of the certificate chain and key
	// the dashboard and API are served with. Both set serves HTTPS (and
	// marks the session cookie Secure); replacing the files rotates the
	// certificate without a restart.
	TLSCert, TLSKey string
	// ADSInsecurePlaintext serves ADS without TLS: any client gets any
	// gateway's configuration. Loopback development only; refused on
	// another address unless ADSInsecureAllowRemote.
	ADSInsecurePlaintext   bool
	ADSInsecureAllowRemote bool
	// ADSNames are host names and addresses, beyond the listen address
	// and loopback, that proxies use to reach ADS (the SANs of its
	// certificate).
	ADSNames []string
	// ADSVHDS serves delta ADS streams route configurations whose
	// virtual hosts come by VHDS (xds.Options.VHDS), and makes the
	// bootstraps it renders use delta ADS.
	ADSVHDS bool
	Logger  *slog.Logger
	// Notices receives what an operator must see once, such as the first
	// admin password. Defaults to stderr.
	Notices io.Writer
	// NoDemo skips loading the demo workspace into an empty database.
	NoDemo bool
	// NoFirstAdmin skips creating (and announcing) an admin account on an
	// empty database: the desktop app serves its window as a local admin
	// and has no use for a password. "routedeck user add" makes one when
	// the data directory is served later.
	NoFirstAdmin bool
	// Getenv supplies the environment the Kubernetes and Consul targets
	// default from (KUBECONFIG, CONSUL_HTTP_ADDR, ...) and the master key
	// (ROUTEDECK_MASTER_KEY); nil means os.Getenv.
	Getenv func(string) string
	// AccessLog bounds the request log (zero fields take accesslog's
	// defaults: 24 hours or 1,000,000 entries per gateway, rollups for
	// 30 days).
	AccessLog accesslog.Options
	// Alerts tunes the alert evaluator (interval, clock, delivery
	// attempts, the dashboard's URL for links); the rest is wired here.
	Alerts alert.Options
}

// DBFile is the database file name inside the data directory.
const DBFile = backup.DBFile

// OpenStore opens the database in dataDir, creating the directory (private
// to the user: it holds password and token hashes, and the master key that
// seals the secrets). The master key comes from ROUTEDECK_MASTER_KEY or
// the key file in dataDir, created on first start.
func OpenStore(ctx context.Context, dataDir string) (*store.Store, error) {
	return OpenStoreEnv(ctx, dataDir, os.Getenv)
}

// OpenStoreEnv is OpenStore reading the master key variable through getenv
// (nil means os.Getenv).
func OpenStoreEnv(ctx context.Context, dataDir string, getenv func(string) string) (*store.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	keys, err := seal.Open(dataDir, getenv)
	if err != nil {
		return nil, fmt.Errorf("open master key: %w", err)
	}
	st, err := store.Open(ctx, filepath.Join(dataDir, DBFile), keys)
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dataDir, err)
	}
	return st, nil
}

// Service is a running routedeck backend.
type Service struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	handler http.Handler
	httpSrv *http.Server
	addr    net.Addr
	ads     *xds.Server
	adsAddr net.Addr
	ca      *pki.Authority
	stopADS context.CancelFunc
	sandbox *session.Service
	// stopSandbox ends the runner that stops deleted gateways' sandboxes.
	stopSandbox func()
	targets     *targets.Service
	feed        *endpointFeed
	release     *release.Service
	// stopRunners ends the release service's event runners.
	stopRunners  func()
	events       *events.Metrics
	translations *release.Metrics
	accessLog    *accesslog.Store
	alerts       *alert.Evaluator
	// local runs gateways in this process for the dashboard's "run a
	// local gateway"; they stop with the service.
	local *localGateways
	wg    sync.WaitGroup
	errc  chan error

	// replayer replays requests against two versions of a gateway.
	replayer *replay.Engine
}

// New returns a service for cfg; nothing is opened until Start.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Notices == nil {
		cfg.Notices = os.Stderr
	}
	return &Service{cfg: cfg, log: cfg.Logger, errc: make(chan error, 1)}
}

// Start opens the store, prepares a fresh database (demo workspace, first
// admin) and starts listening. It returns once the service accepts
// connections; serving errors arrive on Done.
func (s *Service) Start(ctx context.Context) error {
	// A bad certificate is found before anything is opened.
	tlsConf, err := s.serverTLS()
	if err != nil {
		return err
	}
	st, err := OpenStoreEnv(ctx, s.cfg.DataDir, s.cfg.Getenv)
	if err != nil {
		return err
	}
	s.store = st
	if err := s.firstStart(ctx); err != nil {
		st.Close()
		return err
	}
	// The sandbox's simulated Envoy takes its configuration over ADS like
	// any proxy; without an ADS address to serve, ADS still runs on a
	// loopback port for it alone.
	adsListen := s.cfg.ADSListen
	if adsListen == "" {
		adsListen = "127.0.0.1:0"
	}
	adsOpts, sandboxCreds, err := s.adsSecurity(st.Keys(), adsListen)
	if err != nil {
		st.Close()
		return err
	}
	s.ads = xds.New(adsOpts)
	s.targets = targets.New(st, s.cfg.Getenv)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(s.ads.Metrics().Collectors()...)
	s.events = events.NewMetrics()
	reg.MustRegister(s.events.Collectors()...)
	s.translations = release.NewMetrics()
	reg.MustRegister(s.translations.Collectors()...)
	s.feed = newEndpointFeed(st, s.targets, s.log)
	s.feed.start(s.events)
	reg.MustRegister(s.feed)
	consul := consulKV{targets: s.targets, store: st, log: s.log}
	s.release = release.New(release.Options{Store: st, ADS: s.ads, Endpoints: s.feed, Published: consul.published,
		Logger: s.log, Metrics: s.translations, Events: s.events})
	// Restored versions are served before the runners follow the
	// store's events; the discovered upstreams of those versions get a
	// few seconds to report first.
	pubs := release.LatestPublished(ctx, st, s.log)
	s.feed.prime(ctx, pubs, restoreWait)
	s.release.Restore(ctx, pubs)
	runCtx, stopRunners := context.WithCancel(context.Background())
	waitRelease := s.release.Start(runCtx, st.Events())
	s.stopRunners = func() { stopRunners(); waitRelease() }
	if err := s.startADS(adsListen); err != nil {
		s.stopRunners()
		s.feed.close()
		st.Close()
		return err
	}
	if err := s.startAccessLog(ctx, reg); err != nil {
		s.Stop()
		return err
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	s.startAlerts(reg, scheme)
	// The data plane is the sim unless the "sandbox" setting asks for a
	// real Envoy; Kubernetes and Consul upstreams get a mock per endpoint
	// discovery reports.
	s.sandbox = session.New(session.Options{Store: st, Versions: publishedVersions{st}, ADS: s.ads, ADSAddr: s.adsAddr.String(),
		ADSCredentials: sandboxCreds, Logger: s.log, Settings: st, Discovered: s.feed.Routable})
	s.startLocalGateways()
	s.startSandboxRunner()
	// Route tests run through the simulated Envoy as well as the
	// evaluator, before a publish too.
	tests := sandboxTests{s.sandbox}
	s.release.SetTests(tests)
	s.replayer = &replay.Engine{Versions: ruleset.NewLoader(ruleset.FromStore(st), ruleset.DefaultCacheSize), Log: s.accessLog, Tests: st}
	s.release.SetReplayer(gateReplayer{s.replayer})
	s.handler = api.NewHandler(api.Deps{
		Store:     st,
		Logger:    s.log,
		UI:        UIHandler(),
		Publisher: publisher{Service: s.release, store: st, ads: s.ads, targets: s.targets, log: s.log},
		Sandbox:   s.sandbox,
		TestPlane: tests,
		Simulator: traffic.NewSimulator(s.sandbox),
		// The settings are saved in st, which the sandbox reads them from.
		SandboxSettings: s.sandbox,
		Metrics:         promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Endpoints:       s.feed,
		Translator:      s.feed,
		Targets:         s.targets,
		Push:            &pusher{store: st, targets: s.targets, log: s.log, ca: s.ca, adsPlaintext: s.cfg.ADSInsecurePlaintext},
		SecureCookies:   tlsConf != nil,
		// The master keyring's fingerprints: the ones revision diffs
		// show, the same across restarts and on every server that shares
		// the key.
		Fingerprinter: st.Keys(),
		Certs:         &Certs{CA: s.ca, Store: st},
		AccessLog:     s.accessLog,
		Backup:        backupSource{dataDir: s.cfg.DataDir, store: st},
		Alerts:        s.alerts,
		LocalGateways: s.local,
		Replayer:      s.replayer,
		Info:          s,
	})
	if s.cfg.Listen == "" {
		return nil
	}
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.Stop()
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	s.addr = lis.Addr()
	s.httpSrv = api.NewServer(s.handler, api.Timeouts{}, s.log)
	if tlsConf != nil {
		s.httpSrv.TLSConfig = tlsConf
		lis = tls.NewListener(lis, tlsConf)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	s.log.Info("serving", "url", scheme+"://"+s.addr.String(), "data_dir", s.cfg.DataDir)
	return nil
}

// serverTLS is the TLS configuration of the dashboard and API, or nil
// when they are served over plain HTTP.
func (s *Service) serverTLS() (*tls.Config, error) {
	if s.cfg.TLSCert == "" && s.cfg.TLSKey == "" {
		return nil, nil
	}
	if s.cfg.TLSCert == "" || s.cfg.TLSKey == "" {
		return nil, fmt.Errorf("serving over TLS needs both a certificate file and a key file")
	}
	pair, err := certfile.Load(s.cfg.TLSCert, s.cfg.TLSKey, s.log)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: pair.GetCertificate,
		// HTTP/2 first, as http.Server.ServeTLS would offer.
		NextProtos: []string{"h2", "http/1.1"},
	}, nil
}

// adsSecurity opens the data directory's CA, its key sealed with the
// store's master keyring, and returns the ADS server's
// options: mutual TLS with the identity check, and the sandbox's own
// credentials from a CA that exists only in this process; or, when asked
// for, plaintext on loopback.
func (s *Service) adsSecurity(keys pki.Sealer, listen string) (xds.Options, *pki.SandboxCredentials, error) {
	opts := xds.Options{Logger: s.log, VHDS: s.cfg.ADSVHDS}
	ca, err := pki.Open(s.cfg.DataDir, keys, pki.Options{})
	if err != nil {
		return opts, nil, fmt.Errorf("open CA in %s: %w", s.cfg.DataDir, err)
	}
	s.ca = ca
	if s.cfg.ADSInsecurePlaintext {
		if err := CheckPlaintextADS(listen, s.cfg.ADSInsecureAllowRemote); err != nil {
			return opts, nil, err
		}
		s.log.Warn("ADS serves in plaintext: any client that connects reads any gateway's configuration", "addr", listen)
		return opts, nil, nil
	}
	sandboxCA, err := pki.NewSandboxCA()
	if err != nil {
		return opts, nil, err
	}
	host, _, _ := net.SplitHostPort(listen)
	guard := pki.NewGuard(ca, sandboxCA, pki.ServerNames(host, s.cfg.ADSNames))
	if err := guard.Check(); err != nil {
		return opts, nil, err
	}
	opts.TLS, opts.Authorize = guard.TLSConfig(), guard.Authorize
	return opts, &pki.SandboxCredentials{CA: sandboxCA, Authority: ca}, nil
}

func (s *Service) startADS(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for ADS on %s: %w", addr, err)
	}
	s.adsAddr = lis.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	s.stopADS = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.ads.Serve(ctx, lis); err != nil {
			s.fail(err)
		}
	}()
	return nil
}

// AccessLogFile is the request log's database file inside the data
// directory: a database of its own, so its churn never slows the
// configuration store.
const AccessLogFile = backup.AccessLogFile

// startAccessLog opens the request log and makes it the sink of the
// access log service on the ADS port.
func (s *Service) startAccessLog(ctx context.Context, reg prometheus.Registerer) error {
	opts := s.cfg.AccessLog
	opts.Logger = s.log
	al, err := accesslog.Open(ctx, filepath.Join(s.cfg.DataDir, AccessLogFile), opts)
	if err != nil {
		return err
	}
	s.accessLog = al
	s.ads.SetAccessLogSink(al)
	reg.MustRegister(s.ads.AccessLogCollectors()...)
	reg.MustRegister(al.Metrics().Collectors()...)
	return nil
}

// AccessLog is the request log.
func (s *Service) AccessLog() *accesslog.Store { return s.accessLog }

// ADSAddr is the address Envoys connect to (a loopback port of the
// sandbox's own without ADSListen).
func (s *Service) ADSAddr() net.Addr { return s.adsAddr }

// ServerInfo tells clients where proxies reach ADS and which CA vouches
// for it.
func (s *Service) ServerInfo(context.Context) (api.ServerInfo, error) {
	info := api.ADSInfo{
		Listen:      s.adsAddr.String(),
		Address:     api.DialAddress(s.adsAddr, s.cfg.ADSNames),
		Plaintext:   s.cfg.ADSInsecurePlaintext,
		SandboxOnly: s.cfg.ADSListen == "",
		VHDS:        s.cfg.ADSVHDS,
	}
	if !info.Plaintext {
		host, _, _ := net.SplitHostPort(info.Listen)
		info.ServerNames = pki.ServerNames(host, s.cfg.ADSNames)
		ca, err := s.ca.BundlePEM()
		if err != nil {
			return api.ServerInfo{}, err
		}
		info.CA = string(ca)
	}
	return api.ServerInfo{ADS: info}, nil
}

// ADS is the running ADS server.
func (s *Service) ADS() *xds.Server { return s.ads }

// Handler is the HTTP surface (API and dashboard), for the desktop window.
func (s *Service) Handler() http.Handler { return s.handler }

// Addr is the address the HTTP server listens on (nil without Listen).
func (s *Service) Addr() net.Addr { return s.addr }

// Release is the publish flow and the gateways' xDS runners.
func (s *Service) Release() *release.Service { return s.release }

// Translations is the xDS runners' translation metrics, what
// routedeck_translations_total reports.
func (s *Service) Translations() *release.Metrics { return s.translations }

// Store is the open store.
func (s *Service) Store() *store.Store { return s.store }

// fail reports the first serving failure; later ones only get logged.
func (s *Service) fail(err error) {
	select {
	case s.errc <- err:
	default:
		s.log.Error("serving failed", "err", err)
	}
}

// restoreWait bounds how long a start waits for discovery before serving
// the published gateways.
const restoreWait = 5 * time.Second

// Done reports a serving failure after Start.
func (s *Service) Done() <-chan error { return s.errc }

// Stop shuts the service down, letting requests in flight finish for a few
// seconds, and closes the store.
func (s *Service) Stop() error {
	var errs []error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down http: %w", err))
		}
	}
	if s.stopSandbox != nil {
		s.stopSandbox()
	}
	// Before ADS: the local gateways' streams end as a proxy's would.
	if s.local != nil {
		if err := s.local.close(); err != nil {
			errs = append(errs, fmt.Errorf("stop local gateways: %w", err))
		}
	}
	if s.sandbox != nil {
		if err := s.sandbox.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop sandbox: %w", err))
		}
	}
	if s.alerts != nil {
		s.alerts.Stop()
	}
	if s.stopRunners != nil {
		s.stopRunners()
	}
	if s.feed != nil {
		s.feed.close()
	}
	if s.stopADS != nil {
		s.stopADS()
	}
	s.wg.Wait()
	if s.accessLog != nil {
		if err := s.accessLog.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close access log: %w", err))
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// firstStart loads the demo workspace into a database that was never
// written to, and creates the admin user when there is no user at all.
// An operator who deletes every object does not get the demo back: the
// revision history says the database is not new.
func (s *Service) firstStart(ctx context.Context) error {
	_, revs, err := s.store.ListRevisions(ctx, store.RevisionFilter{Limit: 1})
	if err != nil {
		return fmt.Errorf("check for first start: %w", err)
	}
	if revs == 0 && !s.cfg.NoDemo {
		ws, err := assets.DemoWorkspace()
		if err == nil {
			err = rules.ResolveWorkspace(&ws)
		}
		if err == nil {
			_, err = s.store.Apply(ctx, "routedeck", ws)
		}
		if err != nil {
			return fmt.Errorf("load demo workspace: %w", err)
		}
		s.log.Info("loaded demo workspace", "objects", len(ws.Objects()))
	}
	users, err := s.store.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if users > 0 || s.cfg.NoFirstAdmin {
		return nil
	}
	password, err := auth.RandomPassword()
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	if err := s.store.CreateUser(ctx, "routedeck", &store.User{Name: "admin", Role: auth.RoleAdmin, PasswordHash: hash}); err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	fmt.Fprintf(s.cfg.Notices, "routedeck: created user \"admin\" with password %s\nroutedeck: it is shown only this once; add users and tokens in Settings\n", password)
	return nil
}
