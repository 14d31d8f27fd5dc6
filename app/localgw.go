package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/localgw"
)

const (
	// localCertLifetime is the life of a local gateway's certificate. It
	// never leaves the process; a new one is issued for a connection once
	// half of it is gone.
	localCertLifetime = 24 * time.Hour
	// localStartWait bounds how long starting waits for the local gateway
	// to serve the published version before answering with its state.
	localStartWait = 10 * time.Second
	// localShownSamples is how many sample requests the status offers.
	localShownSamples = 3
	// localTrafficBudget bounds the sample traffic of one call: requests
	// to an upstream that does not answer wait for the route's timeout.
	localTrafficBudget = time.Minute
)

// localGateways is the API's LocalGateways: the manager of the in-process
// proxies, the ADS server's view of what they acknowledged, and the
// published versions they serve.
type localGateways struct {
	m     *localgw.Manager
	store *store.Store
	ads   *xds.Server
	log   *slog.Logger

	mu sync.Mutex
	// samples caches, by gateway, the sample requests of its latest
	// published version.
	samples map[string]publishedSamples
}

type publishedSamples struct {
	version int64
	list    []rules.Sample
}

var _ api.LocalGateways = (*localGateways)(nil)

// startLocalGateways builds the local gateways' manager: its proxies dial
// the ADS server where this host reaches it, with certificates of the
// data directory's CA for their gateway (plaintext when ADS is).
func (s *Service) startLocalGateways() {
	opts := localgw.Options{ADS: api.DialAddress(s.adsAddr, nil), Logger: s.log}
	if !s.cfg.ADSInsecurePlaintext {
		opts.Credentials = func(gateway string) (*tls.Config, error) { return localCredentials(s.ca, gateway) }
	}
	s.local = &localGateways{m: localgw.NewManager(opts), store: s.store, ads: s.ads, log: s.log,
		samples: map[string]publishedSamples{}}
}

// localCredentials is the client TLS of gateway's local gateway: the
// gateway's identity, as `routedeck certs issue` would give a proxy, and
// the server's trust.
func localCredentials(ca *pki.Authority, gateway string) (*tls.Config, error) {
	issue := func() (*tls.Certificate, error) {
		is, err := ca.IssueGateway(gateway, localCertLifetime)
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
		if err != nil {
			return nil, err
		}
		return &cert, nil
	}
	cur, err := issue()
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	cfg := ca.ClientTLS(tls.Certificate{})
	cfg.Certificates = nil
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if time.Until(cur.Leaf.NotAfter) < localCertLifetime/2 {
			next, err := issue()
			if err != nil {
				return nil, err
			}
			cur = next
		}
		return cur, nil
	}
	return cfg, nil
}

// Status implements api.LocalGateways.
func (l *localGateways) Status(ctx context.Context, gateway string) (api.LocalGateway, error) {
	if _, err := l.store.Get(ctx, model.KindGateway, gateway); err != nil {
		return api.LocalGateway{}, err
	}
	return l.view(ctx, gateway), nil
}

// Start implements api.LocalGateways.
func (l *localGateways) Start(ctx context.Context, actor, gateway string) (api.LocalGateway, error) {
	if _, err := l.store.Get(ctx, model.KindGateway, gateway); err != nil {
		return api.LocalGateway{}, err
	}
	_, started, err := l.m.Start(gateway)
	if err != nil {
		return api.LocalGateway{}, err
	}
	if started {
		if err := l.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "local-gateway.start", Target: "gateway/" + gateway,
			Detail: "simulated Envoy in the server's process, on loopback ports"}); err != nil {
			l.log.Warn("local gateway: audit start", "gateway", gateway, "err", err)
		}
	}
	if l.ads.Version(gateway) != "" {
		wctx, cancel := context.WithTimeout(ctx, localStartWait)
		defer cancel()
		// The answer says how far it got: a slow start is a state, not
		// an error.
		_, _ = l.m.WaitLive(wctx, gateway)
		l.waitAcked(wctx, gateway)
	}
	return l.view(ctx, gateway), nil
}

// waitAcked waits until the ADS server has the local gateway's ACK (or
// NACK) of the current snapshot, which trails the data plane applying it
// by the time the ACK takes to arrive.
func (l *localGateways) waitAcked(ctx context.Context, gateway string) {
	// Watching before the first look: a change between the two is not
	// missed.
	changed := l.ads.WatchProxies(ctx)
	for {
		if p := l.proxy(gateway); p != nil && (l.ads.InSync(gateway, p.Acked) || p.Nack != nil) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// Stop implements api.LocalGateways.
func (l *localGateways) Stop(ctx context.Context, actor, gateway string) (api.LocalGateway, error) {
	if _, err := l.store.Get(ctx, model.KindGateway, gateway); err != nil && model.ErrorCode(err) != model.ENOTFOUND {
		return api.LocalGateway{}, err
	}
	stopped, err := l.m.Stop(gateway)
	if err != nil {
		l.log.Warn("local gateway: stop", "gateway", gateway, "err", err)
	}
	if stopped {
		if err := l.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "local-gateway.stop", Target: "gateway/" + gateway}); err != nil {
			l.log.Warn("local gateway: audit stop", "gateway", gateway, "err", err)
		}
	}
	return api.LocalGateway{Gateway: gateway, State: api.LocalStopped}, nil
}

// SendTraffic implements api.LocalGateways.
func (l *localGateways) SendTraffic(ctx context.Context, actor, gateway string, n int) (api.LocalTraffic, error) {
	if _, err := l.store.Get(ctx, model.KindGateway, gateway); err != nil {
		return api.LocalTraffic{}, err
	}
	samples, err := l.samplesOf(ctx, gateway)
	if err != nil {
		return api.LocalTraffic{}, err
	}
	if len(samples) == 0 {
		return api.LocalTraffic{}, model.Errorf(model.ECONFLICT, "gateway %q has no published rule to send requests to", gateway)
	}
	reqs := make([]localgw.Request, n)
	for i := range reqs {
		reqs[i] = sampleRequest(samples[i%len(samples)])
	}
	sctx, cancel := context.WithTimeout(ctx, localTrafficBudget)
	defer cancel()
	sent, err := l.m.Send(sctx, gateway, reqs)
	if err != nil {
		return api.LocalTraffic{}, err
	}
	out := api.LocalTraffic{Sent: n}
	for i, sm := range samples[:min(len(samples), n)] {
		res := api.LocalTrafficResult{Rule: sm.Rule, Method: sm.Method, URL: sm.URL, Headers: sm.Headers, Statuses: map[string]int{}}
		for j := i; j < n; j += len(samples) {
			res.Sent++
			if s := sent[j]; s.Status != 0 {
				res.Statuses[strconv.Itoa(s.Status)]++
			} else {
				res.Errors++
				res.Error = s.Error
			}
		}
		out.Results = append(out.Results, res)
	}
	l.log.Info("local gateway: sent sample requests", "gateway", gateway, "requests", n, "actor", actor)
	return out, nil
}

// proxy is the ADS server's record of gateway's local gateway, nil when
// it never connected.
func (l *localGateways) proxy(gateway string) *xds.ProxyStatus {
	for _, p := range l.ads.Proxies(gateway) {
		if p.Node == localgw.NodeID {
			return &p
		}
	}
	return nil
}

// view is the state of gateway's local gateway: what its data plane
// serves, and what it acknowledged as the ADS server saw it.
func (l *localGateways) view(ctx context.Context, gateway string) api.LocalGateway {
	st, running := l.m.Status(gateway)
	v := api.LocalGateway{Gateway: gateway, State: api.LocalStopped}
	if !running {
		return v
	}
	since := st.Since
	v.Node, v.Since, v.Admin = st.Node, &since, "http://"+st.Admin
	for _, li := range st.Listeners {
		v.Listeners = append(v.Listeners, api.LocalListener{Name: li.Name, URL: li.URL(), TLS: li.TLS, Ready: li.Ready})
	}
	p := l.proxy(gateway)
	if p != nil && p.Connected {
		v.Acked, v.InSync = p.Acked, l.ads.InSync(gateway, p.Acked)
		if p.Nack != nil {
			v.Nack = &api.Nack{TypeURL: p.Nack.TypeURL, Error: p.Nack.Error, Rule: p.Nack.Rule}
		}
	}
	served := l.ads.Version(gateway)
	if v.InSync {
		if n, err := strconv.ParseInt(served, 10, 64); err == nil {
			v.Version = &n
		}
	}
	switch {
	case served == "":
		v.State, v.Message = api.LocalWaiting, fmt.Sprintf("Gateway %q has no published version yet: publish it, and the local gateway serves it.", gateway)
	case v.Nack != nil:
		v.State, v.Message = api.LocalRefused, "The local gateway refused the published configuration: "+v.Nack.Error
	case st.Live && v.InSync:
		v.State = api.LocalReady
	default:
		v.State = api.LocalStarting
	}
	if v.State == api.LocalReady {
		samples, err := l.samplesOf(ctx, gateway)
		if err != nil {
			l.log.Warn("local gateway: sample requests", "gateway", gateway, "err", err)
		}
		v.Samples = localSamples(shownSamples(samples), st)
	}
	return v
}

// shownSamples are the first few rules' samples and the one for "no rule".
func shownSamples(all []rules.Sample) []rules.Sample {
	var out []rules.Sample
	for _, s := range all {
		if s.Rule == "" || len(out) < localShownSamples {
			out = append(out, s)
		}
	}
	return out
}

// samplesOf returns the sample requests of gateway's latest published
// version, found once per version.
func (l *localGateways) samplesOf(ctx context.Context, gateway string) ([]rules.Sample, error) {
	pub, err := l.store.GetPublished(ctx, gateway, 0)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.samples[gateway]; ok && c.version == pub.Version {
		return c.list, nil
	}
	list := rules.Samples(pub.Workspace.Routes, gateway)
	l.samples[gateway] = publishedSamples{version: pub.Version, list: list}
	return list, nil
}

// prune stops the local gateways of gateways that no longer exist.
func (l *localGateways) prune(ctx context.Context) {
	for _, g := range l.m.Gateways() {
		_, err := l.store.Get(ctx, model.KindGateway, g)
		if model.ErrorCode(err) != model.ENOTFOUND {
			continue
		}
		if _, err := l.m.Stop(g); err != nil {
			l.log.Warn("local gateway: stop that of a deleted gateway", "gateway", g, "err", err)
		}
		l.mu.Lock()
		delete(l.samples, g)
		l.mu.Unlock()
	}
}

func (l *localGateways) close() error { return l.m.Close() }

// sampleRequest is a sample as a request to the local gateway.
func sampleRequest(s rules.Sample) localgw.Request {
	r := localgw.Request{Method: s.Method, Headers: s.Headers}
	if u, err := url.Parse(s.URL); err == nil {
		r.Scheme, r.Host, r.Target = u.Scheme, u.Host, u.RequestURI()
	}
	return r
}

// localSamples aims the samples at the local gateway's listeners, as
// curl command lines.
func localSamples(samples []rules.Sample, st localgw.Status) []api.LocalSample {
	var out []api.LocalSample
	for _, s := range samples {
		r := sampleRequest(s)
		li, ok := st.For(r.Scheme)
		if !ok {
			return nil
		}
		ls := api.LocalSample{Rule: s.Rule, Method: r.Method, Headers: maps.Clone(r.Headers)}
		words := []string{"curl", "-i"}
		if r.Method != "GET" {
			words = append(words, "-X", r.Method)
		}
		if li.TLS {
			// Resolve the host to the local port, so the request carries
			// the SNI and Host a client of that host sends.
			_, port, _ := net.SplitHostPort(li.Address)
			host := hostOnly(r.Host)
			ls.URL = "https://" + net.JoinHostPort(host, port) + r.Target
			words = append(words, "-k", "--resolve", host+":"+port+":127.0.0.1")
		} else {
			ls.URL = li.URL() + r.Target
			if r.Host != "" {
				words = append(words, "-H", shellQuote("Host: "+r.Host))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
			words = append(words, "-H", shellQuote(k+": "+r.Headers[k]))
		}
		ls.Curl = strings.Join(append(words, shellQuote(ls.URL)), " ")
		out = append(out, ls)
	}
	return out
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
