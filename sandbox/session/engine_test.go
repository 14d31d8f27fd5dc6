package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// CI has no Envoy: the real-Envoy engine is exercised with a stand-in. The
// test binary, run with envStandIn set, behaves like Envoy as far as the
// sandbox can tell: it takes Envoy's command line, reads the bootstrap,
// serves the admin interface (/ready) at an address it writes to
// --admin-address-path, connects to the ADS server named in the bootstrap
// as the bootstrap's node, and serves the listeners it receives on their
// configured addresses — through the simulated Envoy. It records how it
// was started in standInRecord, in its working directory.
const (
	envStandIn    = "ROUTEDECK_TEST_STAND_IN_ENVOY"
	standInRecord = "stand-in.json"
)

// standInStart is what the stand-in records.
type standInStart struct {
	Exe         string   `json:"exe"` // the path it was started as
	Args        []string `json:"args"`
	NodeCluster string   `json:"nodeCluster"`
	NodeID      string   `json:"nodeId"`
	ADS         string   `json:"ads"`
	TLS         bool     `json:"tls"`
}

func TestMain(m *testing.M) {
	if os.Getenv(envStandIn) != "" {
		os.Exit(standInEnvoy(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func standInEnvoy(args []string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "[critical]", err); return 1 }
	opts := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		opts[args[i]] = args[i+1]
	}
	data, err := os.ReadFile(opts["-c"])
	if err != nil {
		return fail(err)
	}
	boot, err := xds.ParseBootstrapYAML(data)
	if err != nil {
		return fail(err)
	}
	// The node, the ADS address and the TLS credentials (through the SDS
	// files the bootstrap names) as Envoy would read them.
	dpOpts, err := sim.FromBootstrap(boot)
	if err != nil {
		return fail(err)
	}
	rec, _ := json.Marshal(standInStart{Exe: os.Args[0], Args: args, NodeCluster: dpOpts.Cluster, NodeID: dpOpts.NodeID, ADS: dpOpts.ADS, TLS: dpOpts.TLS != nil})
	if err := os.WriteFile(standInRecord, rec, 0o600); err != nil {
		return fail(err)
	}
	dpOpts.BindConfiguredAddress = true
	dpOpts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dp, err := sim.Start(dpOpts)
	if err != nil {
		return fail(err)
	}
	defer dp.Close()
	admin := boot.GetAdmin().GetAddress().GetSocketAddress()
	lis, err := net.Listen("tcp", net.JoinHostPort(admin.GetAddress(), strconv.Itoa(int(admin.GetPortValue()))))
	if err != nil {
		return fail(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "LIVE") })
	go http.Serve(lis, mux) //nolint:errcheck // ends with the process
	if err := os.WriteFile(opts["--admin-address-path"], []byte(lis.Addr().String()), 0o600); err != nil {
		return fail(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	return 0
}

// memSettings holds the sandbox settings, changeable by the test.
type memSettings struct {
	mu  sync.Mutex
	set *Settings
}

func (m *memSettings) GetSetting(_ context.Context, key string, v any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if key != SettingsKey || m.set == nil {
		return model.Errorf(model.ENOTFOUND, "setting %q not found", key)
	}
	*v.(*Settings) = *m.set
	return nil
}

func (m *memSettings) PutSetting(_ context.Context, _, key string, v any) error {
	if key != SettingsKey {
		return fmt.Errorf("unexpected setting %q", key)
	}
	m.put(v.(Settings))
	return nil
}

func (m *memSettings) put(s Settings) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set = &s
}

func TestSelectEngine(t *testing.T) {
	found := func(configured string) (string, error) {
		if configured == "" {
			configured = "envoy"
		}
		return "/usr/local/bin/" + configured, nil
	}
	missing := func(string) (string, error) {
		return "", model.Errorf(model.ENOTFOUND, "no envoy binary: not on PATH and ROUTEDECK_ENVOY is not set")
	}
	tests := map[string]struct {
		set        Settings
		find       func(string) (string, error)
		engine     string
		binary     string
		errCode    string
		errMention string
	}{
		"default is sim, even with envoy installed": {set: Settings{}, find: found, engine: EngineSim},
		"sim":                          {set: Settings{Engine: "sim"}, find: found, engine: EngineSim},
		"envoy found":                  {set: Settings{Engine: "envoy"}, find: found, engine: EngineEnvoy, binary: "/usr/local/bin/envoy"},
		"envoy with a configured path": {set: Settings{Engine: "envoy", EnvoyBinary: "envoy-1.31"}, find: found, engine: EngineEnvoy, binary: "/usr/local/bin/envoy-1.31"},
		"envoy missing is an error":    {set: Settings{Engine: "envoy"}, find: missing, errCode: model.EINVALID, errMention: "ROUTEDECK_ENVOY"},
		"auto with envoy":              {set: Settings{Engine: "auto"}, find: found, engine: EngineEnvoy, binary: "/usr/local/bin/envoy"},
		"auto without envoy is sim":    {set: Settings{Engine: "auto"}, find: missing, engine: EngineSim},
		"unknown engine":               {set: Settings{Engine: "docker"}, find: found, errCode: model.EINVALID, errMention: "engine"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			engine, binary, err := SelectEngine(tc.set, tc.find)
			if tc.errCode != "" {
				b, _ := json.Marshal(err)
				if model.ErrorCode(err) != tc.errCode || !strings.Contains(err.Error()+string(b), tc.errMention) {
					t.Fatalf("error %v (%s), want %s mentioning %q", err, b, tc.errCode, tc.errMention)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if engine != tc.engine || binary != tc.binary {
				t.Errorf("got %s %q, want %s %q", engine, binary, tc.engine, tc.binary)
			}
		})
	}
}

// TestRemapListeners moves every listener to a loopback port of the
// sandbox's own, keeps the port of a listener across rebuilds, and leaves
// the translator's resources alone.
func TestRemapListeners(t *testing.T) {
	ws := demo(t)
	ws.update(func(w *model.Workspace) {
		w.Gateways[0].Listeners = append(w.Gateways[0].Listeners, model.Listener{Name: "admin", Port: 9090, Protocol: "HTTP"})
	})
	res, err := translate.Gateway(ws.ws, "public", translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	next := 40000
	pp := &portPicker{ports: map[string]int{}, free: func() (int, error) { next++; return next, nil }}
	got, addrs, err := pp.remapListeners(res)
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]string{}
	for _, l := range got.Listeners {
		sa := l.GetAddress().GetSocketAddress()
		ports[l.GetName()] = net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
	}
	if diff := cmp.Diff(addrs, ports); diff != "" {
		t.Errorf("reported addresses differ from the listeners' (-reported +listeners):\n%s", diff)
	}
	if len(addrs) != 2 {
		t.Fatalf("addresses %v, want two listeners", addrs)
	}
	for name, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		if host != "127.0.0.1" || port == "8000" || port == "9090" {
			t.Errorf("listener %s on %s, want a sandbox loopback port", name, a)
		}
	}
	for _, l := range res.Listeners {
		if p := l.GetAddress().GetSocketAddress().GetPortValue(); p != 8000 && p != 9090 {
			t.Errorf("the translator's listener %s was changed to port %d", l.GetName(), p)
		}
	}
	if len(got.Routes) != len(res.Routes) || len(got.Clusters) != len(res.Clusters) {
		t.Errorf("remapping changed more than listeners")
	}
	// A rebuild keeps ports; a removed listener gives its port up.
	again, addrs2, err := pp.remapListeners(res)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(addrs, addrs2); diff != "" || len(again.Listeners) != 2 {
		t.Errorf("ports moved across a rebuild (-first +second):\n%s", diff)
	}
	onlyHTTP := *res
	onlyHTTP.Listeners = res.Listeners[1:]
	if onlyHTTP.Listeners[0].GetName() == "admin" {
		onlyHTTP.Listeners = res.Listeners[:1]
	}
	if _, _, err := pp.remapListeners(&onlyHTTP); err != nil {
		t.Fatal(err)
	}
	if len(pp.ports) != 1 {
		t.Errorf("ports kept for %v, want only the remaining listener", pp.ports)
	}
}

// TestSimServesRemappedListeners runs the remapped configuration end to
// end: the sim accepts listeners on sandbox ports, binds exactly those,
// and test requests reach them.
func TestSimServesRemappedListeners(t *testing.T) {
	ads, addr, creds := startADS(t)
	s := New(Options{Store: demo(t), ADS: ads, ADSAddr: addr, ADSCredentials: creds, Logger: quiet(), Timeout: 20 * time.Second})
	t.Cleanup(func() { _ = s.Close() })
	res, err := s.Do(t.Context(), TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://shop.example.com/cart", Headers: http.Header{"X-Canary": {"1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != EngineSim || res.Envoy == nil || res.Upstream == nil || *res.Upstream != "web-v2" {
		t.Fatalf("engine %q, upstream %v, envoy trace %v", res.Engine, res.Upstream, res.Envoy != nil)
	}
	s.mu.Lock()
	gs := s.gateways["public"]
	s.mu.Unlock()
	dp := gs.plane.(simPlane).dp
	accepted := dp.Accepted()
	served := dp.Status().Listeners
	for name, want := range gs.addrs {
		sa := accepted.Listeners[name].GetAddress().GetSocketAddress()
		got := net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
		if got != want || served[name] != want {
			t.Errorf("listener %s: accepted %s, served on %s, want %s", name, got, served[name], want)
		}
		if sa.GetPortValue() == 8000 {
			t.Errorf("listener %s kept the gateway's port", name)
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestEnvoyEngineWithStandIn runs the real-Envoy engine against the
// stand-in: Envoy's command line and bootstrap, the wait for its ACK on
// the ADS server, requests to its listener, the reply marked envoy, and a
// switch back to the sim that stops the process.
func TestEnvoyEngineWithStandIn(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ads, addr, creds := startADS(t)
	settings := &memSettings{}
	settings.put(Settings{Engine: EngineEnvoy, EnvoyBinary: self})
	work := t.TempDir()
	s := New(Options{Store: demo(t), ADS: ads, ADSAddr: addr, ADSCredentials: creds, Logger: quiet(), Timeout: 20 * time.Second,
		Settings: settings, WorkDir: work, EnvoyEnv: []string{envStandIn + "=1"}})
	t.Cleanup(func() { _ = s.Close() })
	if got := s.Engine(t.Context()); got != EngineEnvoy {
		t.Fatalf("Engine() = %q, want envoy", got)
	}
	req := TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://shop.example.com/cart?x=1", Headers: http.Header{"X-Canary": {"1"}}}}
	res, err := s.Do(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != EngineEnvoy || res.Envoy != nil {
		t.Errorf("engine %q, sim trace %v: want envoy and no sim trace", res.Engine, res.Envoy != nil)
	}
	if res.Upstream == nil || *res.Upstream != "web-v2" || res.Received == nil || res.Received.Path != "/v2/cart?x=1" {
		t.Errorf("upstream %v received %+v, want web-v2 with /v2/cart?x=1", res.Upstream, res.Received)
	}
	if res.Rule == nil || *res.Rule != "web-canary" || len(res.Trace) == 0 {
		t.Errorf("rule %v with %d trace entries, want the evaluator's web-canary", res.Rule, len(res.Trace))
	}
	if res.EnvoyHeaders == nil {
		t.Errorf("no envoy headers map with the envoy engine")
	}

	// How the stand-in was started: the generated bootstrap, sandbox node.
	recs, _ := filepath.Glob(filepath.Join(work, "*", standInRecord))
	if len(recs) != 1 {
		t.Fatalf("stand-in records %v, want one", recs)
	}
	var started standInStart
	if b, err := os.ReadFile(recs[0]); err != nil || json.Unmarshal(b, &started) != nil {
		t.Fatalf("read %s: %v", recs[0], err)
	}
	if started.NodeCluster != "sandbox/public" || started.ADS != addr || started.Args[0] != "-c" || filepath.Base(started.Args[1]) != "bootstrap.yaml" || !started.TLS {
		t.Errorf("stand-in started with %+v, want node cluster sandbox/public and ADS %s over TLS", started, addr)
	}
	// Its credentials are the sandbox CA's, beside the bootstrap: never
	// the data directory CA's, which `certs issue` hands out.
	crt, err := os.ReadFile(filepath.Join(filepath.Dir(started.Args[1]), xds.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(crt), "BEGIN CERTIFICATE") {
		t.Errorf("tls.crt is not a certificate: %q", crt)
	}
	var acked bool
	for _, p := range ads.Proxies(Key("public")) {
		acked = acked || (p.Node == started.NodeID && p.Connected)
	}
	if !acked {
		t.Errorf("the ADS server does not list the stand-in %s: %+v", started.NodeID, ads.Proxies(Key("public")))
	}

	// Another Envoy binary (an upgrade, say): the running one is replaced
	// by one started from the new path.
	s.mu.Lock()
	first := s.gateways["public"].plane.(*envoyPlane).proxy
	s.mu.Unlock()
	next := filepath.Join(t.TempDir(), "envoy-next")
	if err := os.Symlink(self, next); err != nil {
		t.Fatal(err)
	}
	settings.put(Settings{Engine: EngineEnvoy, EnvoyBinary: next})
	if res, err = s.Do(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if res.Engine != EngineEnvoy || res.Upstream == nil || *res.Upstream != "web-v2" {
		t.Errorf("after the binary change: engine %q, upstream %v", res.Engine, res.Upstream)
	}
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Errorf("the Envoy started from the old binary still runs")
	}
	recs, _ = filepath.Glob(filepath.Join(work, "*", standInRecord))
	if len(recs) != 1 {
		t.Fatalf("stand-in records %v after the binary change, want one", recs)
	}
	if b, err := os.ReadFile(recs[0]); err != nil || json.Unmarshal(b, &started) != nil {
		t.Fatalf("read %s: %v", recs[0], err)
	}
	if started.Exe != next {
		t.Errorf("the sandbox Envoy was started as %q, want %q", started.Exe, next)
	}

	// Back to the sim: the process ends and the sim answers.
	s.mu.Lock()
	proxy := s.gateways["public"].plane.(*envoyPlane).proxy
	s.mu.Unlock()
	settings.put(Settings{Engine: EngineSim})
	res, err = s.Do(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != EngineSim || res.Envoy == nil || res.Rule == nil || *res.Rule != "web-canary" {
		t.Errorf("after the switch: engine %q, rule %v", res.Engine, res.Rule)
	}
	select {
	case <-proxy.Done():
	case <-time.After(5 * time.Second):
		t.Errorf("the stand-in Envoy still runs after the switch to the sim")
	}
	if _, err := os.Stat(filepath.Dir(recs[0])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("envoy directory left behind: %v", err)
	}
}

// TestEnvoyEngineWithoutEnvoy says why, instead of answering with the sim.
func TestEnvoyEngineWithoutEnvoy(t *testing.T) {
	ads, addr, creds := startADS(t)
	settings := &memSettings{}
	settings.put(Settings{Engine: EngineEnvoy})
	s := New(Options{Store: demo(t), ADS: ads, ADSAddr: addr, ADSCredentials: creds, Logger: quiet(), Settings: settings,
		FindEnvoy: func(string) (string, error) { return "", model.Errorf(model.ENOTFOUND, "no envoy binary") }})
	t.Cleanup(func() { _ = s.Close() })
	_, err := s.Do(t.Context(), TestRequest{Gateway: "public", Request: &rules.Request{URL: "/"}})
	if model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("error %v, want EINVALID", err)
	}
}

// fakeDiscovery is a discovery source the test changes.
type fakeDiscovery struct {
	mu  sync.Mutex
	eps map[string][]model.Endpoint
}

func (f *fakeDiscovery) endpoints(upstream string) ([]model.Endpoint, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	eps, ok := f.eps[upstream]
	return eps, ok
}

func (f *fakeDiscovery) set(upstream string, eps ...model.Endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eps[upstream] = eps
}

// TestDiscoveredEndpointsGetMocks gives a Kubernetes upstream one mock per
// discovered endpoint, each answering as the endpoint it stands for, and
// follows discovery when it changes. Static upstreams keep theirs.
func TestDiscoveredEndpointsGetMocks(t *testing.T) {
	ws := demo(t)
	ws.update(func(w *model.Workspace) {
		for i := range w.Upstreams {
			if w.Upstreams[i].Name == "api" {
				w.Upstreams[i].Static = nil
				w.Upstreams[i].Kubernetes = &model.KubernetesSource{Namespace: "shop", Service: "api", Port: 80}
			}
		}
	})
	disc := &fakeDiscovery{eps: map[string][]model.Endpoint{}}
	disc.set("api", model.Endpoint{Address: "10.1.0.1", Port: 8080}, model.Endpoint{Address: "10.1.0.2", Port: 8080}, model.Endpoint{Address: "10.1.0.3", Port: 8080})
	// Discovery of a static upstream is ignored: its endpoints are its own.
	disc.set("web-v1", model.Endpoint{Address: "10.9.9.9", Port: 1})
	ads, addr, creds := startADS(t)
	s := New(Options{Store: ws, ADS: ads, ADSAddr: addr, ADSCredentials: creds, Logger: quiet(), Timeout: 20 * time.Second, Discovered: disc.endpoints})
	t.Cleanup(func() { _ = s.Close() })

	seen := func(n int) []string {
		t.Helper()
		got := map[string]bool{}
		for range n {
			res, err := s.Do(t.Context(), TestRequest{Gateway: "public", Request: &rules.Request{Method: "GET", URL: "http://shop.example.com/api/orders"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Upstream == nil || *res.Upstream != "api" {
				t.Fatalf("upstream %v, want api", res.Upstream)
			}
			got[res.StandsFor] = true
		}
		out := make([]string, 0, len(got))
		for k := range got {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	mocksOf := func(name string) (n int, standsFor []string) {
		for _, m := range s.Mocks() {
			if m.Name() == name {
				n++
				standsFor = append(standsFor, m.StandsFor())
			}
		}
		sort.Strings(standsFor)
		return n, standsFor
	}
	if diff := cmp.Diff([]string{"10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080"}, seen(12)); diff != "" {
		t.Errorf("endpoints that answered (-want +got):\n%s", diff)
	}
	if n, _ := mocksOf("api"); n != 3 {
		t.Errorf("%d mocks for api, want 3", n)
	}
	if n, sf := mocksOf("web-v1"); n != 2 || sf[0] != "" || sf[1] != "" {
		t.Errorf("web-v1 mocks: %d standing for %q, want its 2 static endpoints standing for none", n, sf)
	}

	// Discovery reports a change: the sandbox follows on the next request.
	disc.set("api", model.Endpoint{Address: "10.1.0.2", Port: 8080}, model.Endpoint{Address: "10.1.0.7", Port: 8080})
	if diff := cmp.Diff([]string{"10.1.0.2:8080", "10.1.0.7:8080"}, seen(8)); diff != "" {
		t.Errorf("after the change (-want +got):\n%s", diff)
	}
	if n, sf := mocksOf("api"); n != 2 || sf[1] != "10.1.0.7:8080" {
		t.Errorf("after the change: %d api mocks standing for %q", n, sf)
	}
	// Nothing discovered: one mock stands for the upstream as a whole.
	disc.set("api")
	if got := seen(1); len(got) != 1 || got[0] != "" {
		t.Errorf("with no endpoints discovered the answer stood for %q", got)
	}
}

// TestDeletedGatewayStopsItsSandbox stops the data plane of a gateway the
// store no longer has, both through Prune and on the next request.
func TestDeletedGatewayStopsItsSandbox(t *testing.T) {
	tests := map[string]func(t *testing.T, s *Service){
		"prune": func(t *testing.T, s *Service) {
			if err := s.Prune(t.Context()); err != nil {
				t.Fatal(err)
			}
		},
		"next request": func(t *testing.T, s *Service) {
			_, err := s.Do(t.Context(), TestRequest{Gateway: "public", Request: &rules.Request{URL: "/"}})
			if model.ErrorCode(err) != model.ENOTFOUND {
				t.Fatalf("error %v, want ENOTFOUND", err)
			}
		},
	}
	for name, stop := range tests {
		t.Run(name, func(t *testing.T) {
			ws := demo(t)
			s := newService(t, ws)
			if _, err := s.Do(t.Context(), TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://shop.example.com/"}}); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			listener := s.gateways["public"].addrs["http"]
			s.mu.Unlock()
			if err := s.Prune(t.Context()); err != nil || len(s.Running()) != 1 {
				t.Fatalf("prune with the gateway present: %v, running %v", err, s.Running())
			}
			ws.update(func(w *model.Workspace) { w.Gateways = nil })
			stop(t, s)
			if r := s.Running(); len(r) != 0 {
				t.Errorf("running after delete: %v", r)
			}
			if c, err := net.DialTimeout("tcp", listener, time.Second); err == nil {
				c.Close()
				t.Errorf("the deleted gateway's listener %s still accepts connections", listener)
			}
			if slices.Contains(s.opts.ADS.Gateways(), Key("public")) {
				t.Errorf("the ADS server still holds the deleted gateway's sandbox snapshot: %v", s.opts.ADS.Gateways())
			}
		})
	}
}

// byGateway holds one workspace per gateway, as the store gives a
// gateway only the upstreams its routes use.
type byGateway map[string]model.Workspace

func (b byGateway) GatewayWorkspace(_ context.Context, gateway string) (model.Workspace, error) {
	if ws, ok := b[gateway]; ok {
		return ws, nil
	}
	return model.Workspace{}, model.Errorf(model.ENOTFOUND, "gateway %q not found", gateway)
}

// TestMocksSharedBetweenGateways: building one gateway's sandbox keeps
// the mocks another gateway's sandbox uses; stopping a sandbox stops only
// the mocks no other sandbox uses.
func TestMocksSharedBetweenGateways(t *testing.T) {
	public := demo(t).ws
	var api model.Upstream
	for _, u := range public.Upstreams {
		if u.Name == "api" {
			api = u
		}
	}
	lab := model.Workspace{
		Gateways:  []model.Gateway{{Meta: model.Meta{Name: "lab"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
		Upstreams: []model.Upstream{api},
		Routes: []model.Route{{Meta: model.Meta{Name: "all"}, Gateway: "lab",
			When: model.Condition{Field: model.FieldPath, Op: model.OpPrefix, Value: "/"},
			Then: model.Action{Forward: []model.Backend{{Upstream: "api"}}}}},
	}
	s := newService(t, byGateway{"public": public, "lab": lab})
	mocks := func() map[string]int {
		out := map[string]int{}
		for _, m := range s.Mocks() {
			out[m.Name()]++
		}
		return out
	}
	send := func(gateway, url, wantUpstream string) {
		t.Helper()
		res, err := s.Do(t.Context(), TestRequest{Gateway: gateway, Request: &rules.Request{URL: url}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Upstream == nil || *res.Upstream != wantUpstream {
			t.Fatalf("%s %s answered by %v, want %s", gateway, url, res.Upstream, wantUpstream)
		}
	}
	send("public", "http://other.example/static/app.js", "web-v1")
	before := mocks()
	send("lab", "http://lab.example/x", "api")
	if diff := cmp.Diff(before, mocks()); diff != "" {
		t.Errorf("lab's sandbox changed public's mocks (-before +after):\n%s", diff)
	}
	if err := s.Stop("public"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"api": before["api"]}, mocks()); diff != "" {
		t.Errorf("after public stopped, mocks (-want +got):\n%s", diff)
	}
	send("lab", "http://lab.example/x", "api")
}

// TestGatewayLockOutlivesStop: Stop waits for a build that holds the
// gateway's lock instead of dropping the lock from under it, so no second
// build of the same gateway can start beside the first; the lock leaves
// the map once nobody holds or waits for it.
func TestGatewayLockOutlivesStop(t *testing.T) {
	s := newService(t, demo(t))
	unlock := s.lockGateway("public")
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop("public") }()
	second := make(chan func(), 1)
	go func() { second <- s.lockGateway("public") }()
	select {
	case <-stopped:
		t.Fatal("Stop ran while a build held the gateway's lock")
	case <-second:
		t.Fatal("a second holder got the gateway's lock")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	// Either may get the lock next; each lets the other in.
	for stopped != nil || second != nil {
		select {
		case err := <-stopped:
			if err != nil {
				t.Error(err)
			}
			stopped = nil
		case release := <-second:
			release()
			second = nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.locks) != 0 {
		t.Errorf("%d locks left in the map", len(s.locks))
	}
}
