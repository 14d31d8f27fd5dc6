package accesslog_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/internal/pkitest"
	"github.com/routedeck/routedeck/sandbox/sim"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// TestSimulatedEnvoyLogsToTheStore runs the whole path: a published
// gateway translated with its access log, ADS with mutual TLS, the
// simulated Envoy with a gateway certificate serving real HTTP requests,
// its access log stream back to the ADS port, and the store. Every entry
// names the rule and the version that served it.
func TestSimulatedEnvoyLogsToTheStore(t *testing.T) {
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
	defer store.Close()
	ads.SetAccessLogSink(store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ads.Serve(ctx, lis) }()
	defer func() { cancel(); <-served }()

	web, err := upstream.Start("web", upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	host, portText, _ := net.SplitHostPort(web.Addr())
	port, _ := strconv.Atoi(portText)
	ws := model.Workspace{
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "public"},
			Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}},
			AccessLog: &model.AccessLog{RequestHeaders: []string{"X-Trace"}},
		}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: host, Port: port}}}}},
		Routes: []model.Route{{Meta: model.Meta{Name: "shop"}, Gateway: "public",
			When: model.Condition{Field: "path", Op: "prefix", Value: "/shop"},
			Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}}},
	}
	if err := ws.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := translate.Gateway(ws, "public", translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ads.SetGateway(ctx, "public", res, "3"); err != nil {
		t.Fatal(err)
	}

	issued, err := ca.IssueGateway("public", 0)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(issued.CertPEM, issued.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	dp, err := sim.Start(sim.DataPlaneOptions{ADS: lis.Addr().String(), NodeID: "edge-1", Cluster: "public", TLS: ca.ClientTLS(cert), Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	st, err := dp.WaitFor(wctx, func(st sim.Status) bool {
		return st.Ready["http"] && st.Versions[sim.TypeCluster] == "3" && st.Versions[sim.TypeEndpoint] == "3"
	})
	if err != nil {
		t.Fatal(err)
	}

	get := func(path string) int {
		req, _ := http.NewRequest("GET", "http://"+st.Listeners["http"]+path, nil)
		req.Host = "Shop.Example.com"
		req.Header.Set("X-Trace", "abc")
		req.Header.Set("Authorization", "Bearer secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/shop/cart?x=1"); code != 200 {
		t.Fatalf("GET /shop/cart: %d", code)
	}
	if code := get("/elsewhere"); code != 404 {
		t.Fatalf("GET /elsewhere: %d", code)
	}

	var got []accesslog.Entry
	for len(got) < 2 {
		changed := store.Changed()
		if got, _, err = store.Entries(wctx, accesslog.Query{Gateway: "public", Limit: 10}); err != nil {
			t.Fatal(err)
		}
		if len(got) >= 2 {
			break
		}
		select {
		case <-changed:
		case <-wctx.Done():
			t.Fatalf("entries in the store: %+v", got)
		}
	}
	byPath := map[string]accesslog.Entry{}
	for _, e := range got {
		byPath[e.Path] = e
	}
	shop, miss := byPath["/shop/cart?x=1"], byPath["/elsewhere"]
	if shop.Route != "rule/shop/0" || shop.Rule != "shop" || shop.Version != "3" || shop.Node != "edge-1" || shop.Status != 200 ||
		shop.Method != "GET" || shop.Host != "shop.example.com" || shop.UpstreamCluster != "web" || shop.UpstreamHost != web.Addr() ||
		shop.Headers["x-trace"] != "abc" || len(shop.Headers) != 1 || shop.BytesSent == 0 || shop.RequestID == "" ||
		shop.ResponseDetails != "via_upstream" || shop.Client == "" {
		t.Errorf("served entry = %+v", shop)
	}
	if miss.Rule != "" || miss.Status != 404 || miss.ResponseFlags != "NR" || miss.Version != "3" || miss.UpstreamCluster != "" {
		t.Errorf("unmatched entry = %+v", miss)
	}
	tr, err := store.Traffic(wctx, "public", time.Now().Add(-time.Hour))
	if err != nil || len(tr) != 2 {
		t.Fatalf("traffic = %+v, %v", tr, err)
	}
}
