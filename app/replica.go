package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/routedeck/routedeck/backend/discovery"
	consuldisc "github.com/routedeck/routedeck/backend/discovery/consul"
	kubedisc "github.com/routedeck/routedeck/backend/discovery/kubernetes"
	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/release"
	"github.com/routedeck/routedeck/backend/replica"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/targets"
	"github.com/routedeck/routedeck/backend/xds"
	k8s "k8s.io/client-go/kubernetes"
)

// ReplicaConfig is what `serve --role xds` runs from.
type ReplicaConfig struct {
	// ID names the replica in its reports (default: the host name).
	ID string
	// Listen is the address of the replica's status API.
	Listen string
	// StatusTokenFile holds the bearer token that reads the status API
	// beyond health and readiness; without it only loopback clients can.
	StatusTokenFile string
	// ADSListen is the address proxies connect to.
	ADSListen string
	// ADSCertDir holds tls.crt, tls.key (the replica's ADS server
	// certificate, `certs issue --ads-server`) and ca.crt (the CAs whose
	// gateway certificates are accepted).
	ADSCertDir string
	// ADSInsecurePlaintext serves without TLS (loopback development only,
	// as for the writer).
	ADSInsecurePlaintext   bool
	ADSInsecureAllowRemote bool
	// ConsulAddr overrides CONSUL_HTTP_ADDR.
	ConsulAddr string
	// Gateways limits the replica to these gateways.
	Gateways []string
	// MasterKeyFile is a master key file (as the writer's data directory
	// holds it) to open sealed credentials with, when
	// ROUTEDECK_MASTER_KEY is not set.
	MasterKeyFile string
	Logger        *slog.Logger
	// Getenv supplies CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, KUBECONFIG and
	// ROUTEDECK_MASTER_KEY; nil means os.Getenv.
	Getenv func(string) string
	// ConsulRetryMax bounds the pause between failed reads of Consul
	// (default 5 s).
	ConsulRetryMax time.Duration
}

// ReplicaService is a running xDS replica.
type ReplicaService struct {
	cfg     ReplicaConfig
	log     *slog.Logger
	rep     *replica.Replica
	ads     *xds.Server
	adsAddr net.Addr
	addr    net.Addr
	httpSrv *http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errc    chan error
}

// NewReplica returns a replica for cfg; nothing runs until Start.
func NewReplica(cfg ReplicaConfig) *ReplicaService {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	return &ReplicaService{cfg: cfg, log: cfg.Logger, errc: make(chan error, 1)}
}

// Start checks the configuration, starts following Consul and listens.
func (s *ReplicaService) Start(ctx context.Context) error {
	cfg := s.cfg
	if cfg.ID == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("replica id: %w (set --replica-id)", err)
		}
		cfg.ID = strings.ToLower(h)
	}
	if err := replica.CheckID(cfg.ID); err != nil {
		return err
	}
	var errs []error
	for _, g := range cfg.Gateways {
		if err := pki.CheckGatewayName(g); err != nil {
			errs = append(errs, fmt.Errorf("--gateway: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	adsOpts := xds.Options{Logger: s.log}
	switch {
	case cfg.ADSInsecurePlaintext && cfg.ADSCertDir != "":
		return fmt.Errorf("--ads-insecure-plaintext and --ads-cert-dir: choose one")
	case cfg.ADSInsecurePlaintext:
		if err := CheckPlaintextADS(cfg.ADSListen, cfg.ADSInsecureAllowRemote); err != nil {
			return err
		}
		s.log.Warn("ADS serves in plaintext: any client that connects reads any gateway's configuration", "addr", cfg.ADSListen)
	case cfg.ADSCertDir == "":
		return fmt.Errorf("an xDS replica serves ADS over mutual TLS: --ads-cert-dir DIR with tls.crt, tls.key and ca.crt " +
			"(routedeck certs issue --ads-server --san NAME --out DIR on the writer's data directory)")
	default:
		guard, err := pki.NewFileGuard(filepath.Join(cfg.ADSCertDir, xds.CertFile), filepath.Join(cfg.ADSCertDir, xds.KeyFile),
			filepath.Join(cfg.ADSCertDir, xds.CAFile), s.log)
		if err != nil {
			return err
		}
		adsOpts.TLS, adsOpts.Authorize = guard.TLSConfig(), guard.Authorize
	}
	statusToken, err := readStatusToken(cfg.StatusTokenFile)
	if err != nil {
		return err
	}
	keys, err := s.masterKeys()
	if err != nil {
		return err
	}
	tg := targets.New(noSettings{}, cfg.Getenv)
	consulCfg, _, err := tg.ConsulConfig(ctx)
	if err != nil {
		return err
	}
	if cfg.ConsulAddr != "" {
		consulCfg.Address = cfg.ConsulAddr
	}
	client, err := consulapi.NewClient(consulCfg)
	if err != nil {
		return fmt.Errorf("consul client for %s: %w", consulCfg.Address, err)
	}

	s.ads = xds.New(adsOpts)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(s.ads.Metrics().Collectors()...)
	evm := events.NewMetrics()
	reg.MustRegister(evm.Collectors()...)
	translations := release.NewMetrics()
	reg.MustRegister(translations.Collectors()...)

	adsLis, err := net.Listen("tcp", cfg.ADSListen)
	if err != nil {
		return fmt.Errorf("listen for ADS on %s: %w", cfg.ADSListen, err)
	}
	s.adsAddr = adsLis.Addr()
	consulSrc := consuldisc.New(client, s.log)
	consulSrc.WaitTime, consulSrc.RetryMax = 30*time.Second, 2*time.Second
	s.rep, err = replica.New(replica.Options{
		ID: cfg.ID, Consul: client, ConsulAddress: consulCfg.Address, Keys: keys,
		ADS: s.ads, ADSAddress: s.adsAddr.String(), Gateways: cfg.Gateways,
		Discovery: map[string]discovery.Source{
			discovery.SourceConsul: consulSrc,
			discovery.SourceKubernetes: kubedisc.New(func(kubeContext string) (k8s.Interface, error) {
				return tg.Kubernetes(context.Background(), kubeContext)
			}, s.log),
		},
		RetryMax: cfg.ConsulRetryMax, Logger: s.log, Metrics: translations, Events: evm,
	})
	if err != nil {
		adsLis.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.rep.Run(runCtx) }()
	go func() { defer s.wg.Done(); s.rep.Report(runCtx) }()
	go func() {
		defer s.wg.Done()
		if err := s.ads.Serve(runCtx, adsLis); err != nil {
			s.fail(err)
		}
	}()
	if cfg.Listen == "" {
		return nil
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.Stop()
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	s.addr = lis.Addr()
	s.httpSrv = &http.Server{Handler: s.rep.Handler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), statusToken),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	access := "bearer token"
	if statusToken == "" {
		access = "loopback clients only (--status-token-file opens it)"
	}
	s.log.Info("xds replica serving", "replica", cfg.ID, "ads", s.adsAddr.String(), "status", "http://"+s.addr.String(),
		"status_access", access, "consul", consulCfg.Address)
	return nil
}

// readStatusToken reads the status API's bearer token from path ("" when
// there is none): one line, at least replica.MinStatusToken bytes, no
// spaces. The file's content is never repeated in an error.
func readStatusToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--status-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < replica.MinStatusToken || len(token) > 4096 || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("--status-token-file %s: want one token of %d to 4096 printable characters without spaces", path, replica.MinStatusToken)
	}
	return token, nil
}

// masterKeys opens the writer's master key, from ROUTEDECK_MASTER_KEY or
// MasterKeyFile; none is no keys (gateways with credentials then cannot
// be served, and say so).
func (s *ReplicaService) masterKeys() (*seal.Keyring, error) {
	if strings.TrimSpace(s.cfg.Getenv(seal.EnvMasterKey)) == "" && s.cfg.MasterKeyFile == "" {
		s.log.Warn("no master key (" + seal.EnvMasterKey + " or --master-key-file): gateways with credentials cannot be served")
		return nil, nil
	}
	dir := ""
	if s.cfg.MasterKeyFile != "" {
		if filepath.Base(s.cfg.MasterKeyFile) != seal.KeyFileName {
			return nil, fmt.Errorf("--master-key-file %s: the file is named %s, as in the writer's data directory", s.cfg.MasterKeyFile, seal.KeyFileName)
		}
		if _, err := os.Stat(s.cfg.MasterKeyFile); err != nil {
			return nil, fmt.Errorf("--master-key-file: %w", err)
		}
		dir = filepath.Dir(s.cfg.MasterKeyFile)
	}
	keys, err := seal.Open(dir, s.cfg.Getenv)
	if err != nil {
		return nil, fmt.Errorf("open master key: %w", err)
	}
	return keys, nil
}

// noSettings is the settings store of a process without a database: the
// targets come from the environment alone.
type noSettings struct{}

func (noSettings) GetSetting(context.Context, string, any) error {
	return model.Errorf(model.ENOTFOUND, "no settings")
}

func (noSettings) PutSetting(context.Context, string, string, any) error {
	return model.Errorf(model.EINVALID, "an xDS replica saves no settings")
}

func (s *ReplicaService) fail(err error) {
	select {
	case s.errc <- err:
	default:
		s.log.Error("serving failed", "err", err)
	}
}

// Done reports a serving failure after Start.
func (s *ReplicaService) Done() <-chan error { return s.errc }

// Replica is the running replica.
func (s *ReplicaService) Replica() *replica.Replica { return s.rep }

// ADS is the replica's ADS server.
func (s *ReplicaService) ADS() *xds.Server { return s.ads }

// ADSAddr is where ADS listens.
func (s *ReplicaService) ADSAddr() net.Addr { return s.adsAddr }

// Addr is where the status API listens (nil without Listen).
func (s *ReplicaService) Addr() net.Addr { return s.addr }

// Stop ends serving; the replica's reports leave Consul with its session.
func (s *ReplicaService) Stop() error {
	var err error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.httpSrv.Shutdown(ctx)
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return err
}
