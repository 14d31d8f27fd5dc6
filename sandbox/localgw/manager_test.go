package localgw_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/internal/pkitest"
	"github.com/routedeck/routedeck/sandbox/localgw"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// server is a real ADS server on loopback with mutual TLS and the request
// log as its access log sink, as `routedeck serve` runs them.
type server struct {
	ads  *xds.Server
	addr string
	ca   *pki.Authority
	log  *accesslog.Store
}

func startServer(t *testing.T) *server {
	t.Helper()
	discard := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	ca, err := pki.Open(dir, pkitest.Sealer{}, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sandboxCA, err := pki.NewSandboxCA()
	if err != nil {
		t.Fatal(err)
	}
	guard := pki.NewGuard(ca, sandboxCA, pki.ServerNames("127.0.0.1", nil))
	ads := xds.New(xds.Options{Logger: discard, TLS: guard.TLSConfig(), Authorize: guard.Authorize})
	store, err := accesslog.Open(t.Context(), filepath.Join(dir, "accesslog.db"), accesslog.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ads.SetAccessLogSink(store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ads.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-served })
	return &server{ads: ads, addr: lis.Addr().String(), ca: ca, log: store}
}

// credentials gives a local gateway its gateway's identity.
func (s *server) credentials(gateway string) (*tls.Config, error) {
	is, err := s.ca.IssueGateway(gateway, time.Hour)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		return nil, err
	}
	return s.ca.ClientTLS(cert), nil
}

// publish sets the gateway's snapshot at version: a listener, a rule that
// forwards to a real upstream and one that answers itself.
func (s *server) publish(t *testing.T, ctx context.Context, web string, version string) {
	t.Helper()
	host, portText, _ := net.SplitHostPort(web)
	port, _ := strconv.Atoi(portText)
	ws := model.Workspace{
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "public"},
			// The configured port is the production one: the local
			// gateway serves on a free loopback port instead.
			Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: host, Port: port}}}}},
		Routes: []model.Route{
			{Meta: model.Meta{Name: "shop"}, Gateway: "public", Priority: 10,
				When: model.Condition{Field: "path", Op: "prefix", Value: "/shop"},
				Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}},
			{Meta: model.Meta{Name: "healthz"}, Gateway: "public", Priority: 20,
				When: model.Condition{Field: "path", Op: "exact", Value: "/healthz"},
				Then: model.Action{Respond: &model.Respond{Status: 200, Body: "ok"}}},
		},
	}
	if err := ws.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := translate.Gateway(ws, "public", translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ads.SetGateway(ctx, "public", res, version); err != nil {
		t.Fatal(err)
	}
}

// waitAcked waits until the ADS server records the local gateway's ACK of
// the gateway's current snapshot. The server announces ACKs to no one, so
// its record is read until it holds.
func (s *server) waitAcked(t *testing.T, ctx context.Context) xds.ProxyStatus {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range s.ads.Proxies("public") {
			if p.Node == localgw.NodeID && p.Connected && s.ads.InSync("public", p.Acked) {
				return p
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no ACK of the local gateway: %+v", s.ads.Proxies("public"))
		case <-tick.C:
		}
	}
}

// waitEntries waits until the request log holds n entries of the gateway.
func (s *server) waitEntries(t *testing.T, ctx context.Context, n int) []accesslog.Entry {
	t.Helper()
	for {
		changed := s.log.Changed()
		got, _, err := s.log.Entries(ctx, accesslog.Query{Gateway: "public", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%d entries in the request log, want %d: %+v", len(got), n, got)
		}
	}
}

// TestLocalGateway runs a local gateway against a real ADS server: it
// waits for a publish, takes the configuration with the gateway's
// certificate and ACKs it, serves real HTTP requests on a loopback port
// of its own, reports them to the request log with rule and version, and
// frees its ports when stopped.
func TestLocalGateway(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv := startServer(t)
	web, err := upstream.Start("web", upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	m := localgw.NewManager(localgw.Options{ADS: srv.addr, Credentials: srv.credentials, Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()

	// Nothing published yet: it runs, and waits.
	st, started, err := m.Start("public")
	if err != nil || !started {
		t.Fatal(started, err)
	}
	if st.Live || len(st.Listeners) != 0 || st.Node != localgw.NodeID || st.Admin == "" {
		t.Fatalf("before a publish: %+v", st)
	}
	again, started, err := m.Start("public")
	if err != nil || started || again.Admin != st.Admin || !again.Since.Equal(st.Since) {
		t.Fatalf("a second start: %+v, %v, %v; want the running one %+v", again, started, err, st)
	}
	if _, err := m.Send(ctx, "public", []localgw.Request{{Target: "/healthz"}}); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("sending before it serves a listener: %v, want a conflict", err)
	}

	srv.publish(t, ctx, web.Addr(), "7")
	if st, err = m.WaitLive(ctx, "public"); err != nil {
		t.Fatal(err)
	}
	srv.waitAcked(t, ctx)
	if len(st.Listeners) != 1 || st.Listeners[0].Name != "http" || !st.Listeners[0].Ready || st.Listeners[0].TLS ||
		!strings.HasPrefix(st.Listeners[0].Address, "127.0.0.1:") || strings.HasSuffix(st.Listeners[0].Address, ":8080") {
		t.Fatalf("listeners = %+v, want http on a free loopback port", st.Listeners)
	}
	listener := st.Listeners[0].Address

	// A request of any client, and the ones Send makes.
	resp, err := http.Get(st.Listeners[0].URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("GET /healthz: %d %q", resp.StatusCode, body)
	}
	sent, err := m.Send(ctx, "public", []localgw.Request{
		{Method: "GET", Scheme: "http", Host: "shop.example.com", Target: "/shop/cart?x=1", Headers: map[string]string{"x-demo": "1"}},
		{Method: "GET", Host: "shop.example.com", Target: "/nowhere"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[0].Status != 200 || sent[1].Status != 404 || sent[0].Listener != "http" {
		t.Fatalf("sent = %+v", sent)
	}

	byPath := map[string]accesslog.Entry{}
	for _, e := range srv.waitEntries(t, ctx, 3) {
		byPath[e.Path] = e
	}
	shop, health, miss := byPath["/shop/cart?x=1"], byPath["/healthz"], byPath["/nowhere"]
	if shop.Rule != "shop" || shop.Version != "7" || shop.Node != localgw.NodeID || shop.Status != 200 ||
		shop.Host != "shop.example.com" || shop.UserAgent != localgw.UserAgent || shop.UpstreamHost != web.Addr() {
		t.Errorf("forwarded request's entry = %+v", shop)
	}
	if health.Rule != "healthz" || health.Status != 200 || health.Version != "7" {
		t.Errorf("direct request's entry = %+v", health)
	}
	if miss.Rule != "" || miss.Status != 404 || miss.Version != "7" {
		t.Errorf("unmatched request's entry = %+v", miss)
	}

	// Stopped: both ports are free again at once, and it is gone.
	if stopped, err := m.Stop("public"); !stopped || err != nil {
		t.Fatalf("stop: %v, %v", stopped, err)
	}
	for _, addr := range []string{listener, st.Admin} {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("after stop, %s is still taken: %v", addr, err)
		}
		lis.Close()
	}
	if _, ok := m.Status("public"); ok {
		t.Error("a stopped local gateway still reports a status")
	}
	if stopped, err := m.Stop("public"); stopped || err != nil {
		t.Errorf("stopping it again: %v, %v", stopped, err)
	}
	if got := m.Gateways(); len(got) != 0 {
		t.Errorf("running after stop: %v", got)
	}
}

// TestLocalGatewayIdentity: a local gateway presents the certificate of
// its own gateway; with another gateway's, the server refuses it and it
// never serves.
func TestLocalGatewayIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	srv := startServer(t)
	srv.publish(t, ctx, "127.0.0.1:1", "1")
	m := localgw.NewManager(localgw.Options{ADS: srv.addr, Logger: slog.New(slog.DiscardHandler),
		Credentials: func(string) (*tls.Config, error) { return srv.credentials("other") }})
	defer m.Close()
	if _, _, err := m.Start("public"); err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 2*time.Second)
	defer stop()
	if st, err := m.WaitLive(short, "public"); err == nil || st.Live {
		t.Fatalf("a local gateway with another gateway's certificate went live: %+v", st)
	}
}

// TestManagerClose: closing stops every local gateway, and no new one
// starts after.
func TestManagerClose(t *testing.T) {
	srv := startServer(t)
	m := localgw.NewManager(localgw.Options{ADS: srv.addr, Credentials: srv.credentials, Logger: slog.New(slog.DiscardHandler)})
	a, _, err := m.Start("public")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", a.Admin)
	if err != nil {
		t.Fatalf("admin port still taken after close: %v", err)
	}
	lis.Close()
	if _, _, err := m.Start("public"); err == nil {
		t.Error("started a local gateway after close")
	}
}

// TestSendEndsWithItsContext: requests to an upstream that never answers
// end when the context does, and the ones not sent yet say so, so sample
// traffic is bounded however the gateway's upstreams behave.
func TestSendEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	srv := startServer(t)
	// Accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	srv.publish(t, ctx, silent.Addr().String(), "1")
	m := localgw.NewManager(localgw.Options{ADS: srv.addr, Credentials: srv.credentials, Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	if _, _, err := m.Start("public"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WaitLive(ctx, "public"); err != nil {
		t.Fatal(err)
	}
	reqs := make([]localgw.Request, 20)
	for i := range reqs {
		reqs[i] = localgw.Request{Host: "shop.example.com", Target: "/shop/" + strconv.Itoa(i)}
	}
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	start := time.Now()
	sent, err := m.Send(short, "public", reqs)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %s after its context ended", d)
	}
	notSent := 0
	for i, s := range sent {
		if s.Status != 0 || s.Error == "" {
			t.Errorf("request %d: %+v, want an error", i, s)
		}
		if strings.HasPrefix(s.Error, "not sent: ") {
			notSent++
		}
	}
	if notSent == 0 || notSent == len(reqs) {
		t.Errorf("%d of %d not sent; want the in-flight ones failed and the rest not sent", notSent, len(reqs))
	}
}
