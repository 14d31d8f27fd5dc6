package gwconformance

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	gwhttp "sigs.k8s.io/gateway-api/conformance/utils/http"
	"sigs.k8s.io/gateway-api/conformance/utils/roundtripper"
	"sigs.k8s.io/gateway-api/conformance/utils/weight"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/convert"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/sim"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// claimed are the Gateway API features routedeck's import supports: every
// request of every HTTPRoute and GRPCRoute conformance test whose features
// are all claimed must behave as the test expects. The README lists them, and
// the features not claimed with the reason.
var claimed = []string{
	"SupportGateway",
	"SupportGatewayPort8080",
	"SupportHTTPRoute",
	"SupportHTTPRouteQueryParamMatching",
	"SupportHTTPRouteMethodMatching",
	"SupportHTTPRouteResponseHeaderModification",
	"SupportHTTPRouteHostRewrite",
	"SupportHTTPRoutePathRewrite",
	"SupportHTTPRoutePathRedirect",
	"SupportHTTPRoutePortRedirect",
	"SupportHTTPRouteSchemeRedirect",
	"SupportHTTPRouteRequestTimeout",
	"SupportHTTPRouteNamedRouteRule",
	"SupportHTTPRouteBackendTimeout",
	"SupportHTTPRouteCORS",
	"SupportHTTPRouteRequestMirror",
	"SupportHTTPRouteRequestPercentageMirror",
	"SupportGRPCRoute",
	"SupportGRPCRouteNamedRouteRule",
	"SupportHTTPRouteBackendRequestHeaderModification",
	"SupportHTTPRouteParentRefPort",
}

// notRun are tests whose expectations are about Kubernetes status
// conditions or need a Kubernetes API (ReferenceGrants, Service types),
// not requests: nothing of them reaches a gateway.
var notRun = map[string]string{
	"HTTPRouteServiceTypes": "its backends are Services of every type with EndpointSlices written by hand: endpoints come from a Kubernetes API, not from the manifests",
}

// transcribed are checks tests make in their own Go code, beyond the
// expected responses the reader binds: written again here, by test name.
// The reader reports such code as unread; only what is listed here may be.
var transcribed = map[string]struct {
	unread []string
	check  func(t *testing.T, l *loaded, c confCase) error
}{
	// After its expected response, each of 100 requests must reach the
	// backend whose name the backend's own filter set in the Backend header.
	"HTTPRouteRequestHeaderModifierBackendWeights": {[]string{"roundTripper.CaptureRoundTrip"}, backendHeaderPerRequest},
}

const infraNS = "gateway-conformance-infra"

// TestConformance imports the manifests of each HTTPRoute and GRPCRoute
// conformance test of sigs.k8s.io/gateway-api for the Gateways its
// requests go to, publishes the result over ADS to the simulated Envoy
// with mock upstreams for the Services (gRPC echo servers for GRPCRoute
// backends), sends every expected request and checks the answer: HTTP
// with the module's own comparison, gRPC with the same checks as its.
func TestConformance(t *testing.T) {
	dir := moduleDir(t)
	base, err := os.ReadFile(filepath.Join(dir, "conformance", "base", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "conformance", "tests", "httproute-*.go"))
	grpcFiles, _ := filepath.Glob(filepath.Join(dir, "conformance", "tests", "grpcroute-*.go"))
	files = append(files, grpcFiles...)
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance tests in %s: %v", dir, err)
	}
	h := startHarness(t)
	var tally tally
	for _, file := range files {
		cts, err := readTests(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range cts {
			h.run(t, ct, base, dir, &tally)
		}
	}
	t.Logf("claimed features: %d of %d requests as expected; tests of other features: %d of %d", tally.passed, tally.passed+tally.failed, tally.otherPassed, tally.other)
	t.Logf("tests of features not claimed (requests as expected):\n  %s", strings.Join(tally.unclaimed, "\n  "))
	if tally.passed == 0 {
		t.Error("no request of a claimed feature was checked")
	}
}

type tally struct {
	passed, failed, other, otherPassed int
	notSent                            int      // tests' calls that send requests, not made (notSent)
	unclaimed                          []string // "test: passed/requests (features)"
}

// run runs one conformance test.
func (h *harness) run(t *testing.T, ct *confTest, base []byte, dir string, n *tally) {
	if why, ok := notRun[ct.Name]; ok {
		t.Logf("%s not run: %s", ct.Name, why)
		return
	}
	isClaimed := !slices.ContainsFunc(ct.Features, func(f string) bool { return !slices.Contains(claimed, f) })
	if len(ct.Cases) == 0 && len(ct.Unread) == 0 {
		return // a test of status conditions only
	}
	t.Run(ct.Name, func(t *testing.T) {
		var unread []string
		for _, u := range ct.Unread {
			if !slices.Contains(transcribed[ct.Name].unread, u) {
				unread = append(unread, u)
			}
		}
		if isClaimed && len(unread) > 0 {
			t.Errorf("expectations not read: %q", unread)
		}
		manifests := slices.Clone(base)
		for _, m := range ct.Manifests {
			b, err := os.ReadFile(filepath.Join(dir, "conformance", m))
			if err != nil {
				t.Fatal(err)
			}
			manifests = append(append(manifests, "\n---\n"...), b...)
		}
		byGateway := map[string][]confCase{}
		var order []string
		for _, c := range ct.Cases {
			if _, ok := byGateway[c.Gateway]; !ok {
				order = append(order, c.Gateway)
			}
			byGateway[c.Gateway] = append(byGateway[c.Gateway], c)
		}
		if !isClaimed {
			before, beforePassed := n.other, n.otherPassed
			defer func() {
				n.unclaimed = append(n.unclaimed, fmt.Sprintf("%s: %d of %d %v", ct.Name, n.otherPassed-beforePassed, n.other-before, ct.Features))
			}()
		}
		for _, gw := range order {
			cfg, err := h.load(t, manifests, gw)
			if err != nil {
				if isClaimed {
					t.Errorf("gateway %s: %v", gw, err)
				}
				n.other += len(byGateway[gw])
				continue
			}
			if tr, ok := transcribed[ct.Name]; ok && len(byGateway[gw]) > 0 {
				byGateway[gw] = append(byGateway[gw], confCase{Gateway: gw, transcribed: tr.check, Expected: byGateway[gw][0].Expected, Namespace: byGateway[gw][0].Namespace})
			}
			for i, c := range byGateway[gw] {
				err := h.check(t, cfg, c)
				switch {
				case isClaimed && err != nil:
					n.failed++
					t.Errorf("%s %s: %v", gw, c.name(i), err)
				case isClaimed:
					n.passed++
				case err == nil:
					n.other++
					n.otherPassed++
				default:
					n.other++
					t.Logf("%s %s (features not claimed: %v): %v", gw, c.name(i), ct.Features, err)
				}
			}
		}
	})
}

// moduleDir is where the go command keeps the Gateway API module this
// module requires.
func moduleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("go list the Gateway API module: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// harness is the production path of the sandbox: the ADS server, the
// simulated Envoy connected to it over gRPC, mock upstreams behind it.
type harness struct {
	ads  *xds.Server
	dp   *sim.DataPlane
	pool *upstream.Pool
	grpc map[string]*grpcEcho // gRPC upstreams by name
	// root is the test the harness lives as long as.
	root *testing.T
	// certPEM and keyPEM are the certificate every Secret an HTTPS
	// listener names holds: self-signed for "*" and "*.org", as the
	// suite makes the one its tests use.
	certPEM, keyPEM []byte
}

func startHarness(t *testing.T) *harness {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &harness{ads: xds.New(xds.Options{Logger: quiet}), pool: upstream.NewPool(quiet), grpc: map[string]*grpcEcho{}, root: t}
	h.certPEM, h.keyPEM = selfSigned(t, "*", "*.org")
	t.Cleanup(h.pool.Close)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.ads.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	h.dp, err = sim.Start(sim.DataPlaneOptions{ADS: lis.Addr().String(), NodeID: "conformance", Cluster: "sandbox/gw", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.dp.Close() })
	return h
}

// loaded is a gateway imported and running in the data plane.
type loaded struct {
	gateway model.Gateway
	// services maps upstream names to the Service (namespace, name) they
	// stand for; mocks, Services ("namespace/name") to their mock.
	services map[string][2]string
	mocks    map[string]*upstream.Server
	// listeners maps a port to the data plane's address for it.
	listeners map[int]string
	// ports are the ports of the Gateway API Gateway's listeners by name,
	// in their order (routedeck merges those that share a port).
	ports map[string]int
	first int
	// certPEM is the certificate the HTTPS listeners serve.
	certPEM []byte
}

// load imports the manifests for the Gateway gw and delivers the
// translation to the data plane.
func (h *harness) load(t *testing.T, manifests []byte, gw string) (*loaded, error) {
	res, err := convert.GatewayAPI(manifests, gw)
	if err != nil {
		return nil, err
	}
	ws := res.Workspace
	if len(ws.Gateways) != 1 {
		return nil, fmt.Errorf("no gateway imported; report: %v", res.Report)
	}
	l := &loaded{gateway: ws.Gateways[0], services: map[string][2]string{}, listeners: map[int]string{}, ports: map[string]int{}, mocks: map[string]*upstream.Server{}, certPEM: h.certPEM}
	if err := l.readPorts(manifests, gw); err != nil {
		return nil, err
	}
	endpoints := map[string][]model.Endpoint{}
	for _, u := range ws.Upstreams {
		if u.Protocol == model.UpstreamGRPC && u.Kubernetes != nil {
			e, ok := h.grpc[u.Name]
			if !ok {
				e = startGRPCEcho(h.root, u.Kubernetes.Namespace, u.Kubernetes.Service)
				h.grpc[u.Name] = e
			}
			_, p, _ := net.SplitHostPort(e.addr)
			port, _ := strconv.Atoi(p)
			endpoints[u.Name] = []model.Endpoint{{Address: "127.0.0.1", Port: port}}
			continue
		}
		servers, err := h.pool.EnsureMode(u.Name, 1, upstream.Mode{})
		if err != nil {
			return nil, err
		}
		endpoints[u.Name] = []model.Endpoint{{Address: "127.0.0.1", Port: servers[0].Port()}}
		if k := u.Kubernetes; k != nil {
			l.services[u.Name] = [2]string{k.Namespace, k.Service}
			l.mocks[k.Namespace+"/"+k.Service] = servers[0]
		}
	}
	// The import reads no Secret: the suite's certificate stands in for
	// every one its HTTPS listeners name.
	have := map[string]bool{}
	for _, sec := range ws.Secrets {
		have[sec.Name] = true
	}
	for _, lis := range l.gateway.Listeners {
		if lis.TLS == nil {
			continue
		}
		for _, c := range lis.TLS.Certificates {
			if !have[c.Secret] {
				have[c.Secret] = true
				ws.Secrets = append(ws.Secrets, model.Secret{Meta: model.Meta{Name: c.Secret}, TLS: &model.SecretTLS{Certificate: string(h.certPEM), PrivateKey: string(h.keyPEM)}})
			}
		}
	}
	if err := ws.Validate(); err != nil {
		return nil, fmt.Errorf("imported workspace: %w", err)
	}
	tr, err := translate.Gateway(ws, gw, translate.Options{Endpoints: endpoints})
	if err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	if err := h.ads.SetGateway(t.Context(), "sandbox/gw", tr, ""); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := h.dp.WaitFor(ctx, func(st sim.Status) bool {
		for _, lis := range l.gateway.Listeners {
			if !st.Ready[lis.Name] {
				return false
			}
		}
		return accepted(h.dp.Accepted(), tr)
	}); err != nil {
		return nil, fmt.Errorf("%v: status %+v", err, h.dp.Status())
	}
	st := h.dp.Status()
	for _, lis := range l.gateway.Listeners {
		l.listeners[lis.Port] = st.Listeners[lis.Name]
	}
	return l, nil
}

func (c confCase) name(i int) string {
	if c.GRPC != nil {
		return c.GRPC.GetTestCaseName(i)
	}
	return c.Expected.GetTestCaseName(i)
}

// readPorts reads the listener ports of the Gateway gw in manifests.
func (l *loaded) readPorts(manifests []byte, gw string) error {
	for _, doc := range bytes.Split(manifests, []byte("\n---")) {
		var d struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Listeners []struct {
					Name string `json:"name"`
					Port int    `json:"port"`
				} `json:"listeners"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(doc, &d); err != nil || d.Kind != "Gateway" || d.Metadata.Name != gw || len(d.Spec.Listeners) == 0 {
			continue
		}
		l.first = d.Spec.Listeners[0].Port
		for _, li := range d.Spec.Listeners {
			l.ports[li.Name] = li.Port
		}
		return nil
	}
	return fmt.Errorf("no Gateway %s in the manifests", gw)
}

// accepted reports whether the data plane runs exactly the resources of
// tr: every one of them, and nothing left of an earlier gateway.
func accepted(a sim.Accepted, tr *translate.Resources) bool {
	type named = interface{ GetName() string }
	type cla = interface{ GetClusterName() string }
	return same(a.Listeners, tr.Listeners, func(m named) string { return m.GetName() }) &&
		same(a.Routes, tr.Routes, func(m named) string { return m.GetName() }) &&
		same(a.Clusters, tr.Clusters, func(m named) string { return m.GetName() }) &&
		same(a.Endpoints, tr.Endpoints, func(m cla) string { return m.GetClusterName() })
}

func same[M proto.Message, K any](got map[string]M, want []M, name func(K) string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if g, ok := got[name(any(w).(K))]; !ok || !proto.Equal(g, w) {
			return false
		}
	}
	return true
}

// check sends one expected request and compares the answer.
func (h *harness) check(t *testing.T, l *loaded, c confCase) error {
	port := l.first
	switch {
	case c.ByHostPort:
		port = 80
		if _, p, err := net.SplitHostPort(c.Expected.Request.Host); err == nil {
			port, _ = strconv.Atoi(p)
		}
	case c.Listener != "":
		var ok bool
		if port, ok = l.ports[c.Listener]; !ok {
			return fmt.Errorf("gateway %s has no listener %s", c.Gateway, c.Listener)
		}
	}
	if c.Weights != nil {
		return distribution(t, l, c, port)
	}
	if c.transcribed != nil {
		return c.transcribed(t, l, c)
	}
	if c.GRPC != nil {
		return checkGRPC(t, l, c, port)
	}
	exp := c.Expected
	if slices.ContainsFunc(exp.MirroredTo, func(m gwhttp.MirroredBackend) bool { return m.Percent != nil }) {
		return h.mirrorShares(t, l, c, port)
	}
	// An address of the documentation range, as a load balancer's would be.
	gwAddr := net.JoinHostPort("192.0.2.10", strconv.Itoa(port))
	req := gwhttp.MakeRequest(t, &exp, gwAddr, "HTTP", "http")
	if c.Server != "" {
		req = gwhttp.MakeRequest(t, &exp, gwAddr, "HTTPS", "https")
		req.Server, req.CertPem = c.Server, l.certPEM
	}
	mirrors := map[*upstream.Server]uint64{}
	for _, m := range exp.MirroredTo {
		ns := cmp.Or(m.Namespace, c.Namespace)
		s, ok := l.mocks[ns+"/"+m.Name]
		if !ok {
			return fmt.Errorf("mirror backend %s/%s not imported", ns, m.Name)
		}
		mirrors[s] = s.Stats().Requests
	}
	cReq, cRes, err := l.roundTrip(req)
	if err != nil {
		return err
	}
	if err := gwhttp.CompareRoundTrip(t, &req, cReq, cRes, exp); err != nil {
		return err
	}
	// Beyond the suite's checks: the specification has the Host header
	// reach the backend as the client sent it, port included, unless a
	// filter rewrites it.
	if cReq.Pod != "" && exp.Request.Host != "" && (exp.ExpectedRequest == nil || exp.ExpectedRequest.Host == "") && cReq.Host != exp.Request.Host {
		return fmt.Errorf("the backend got Host %q, the client sent %q", cReq.Host, exp.Request.Host)
	}
	return h.mirrored(t, mirrors)
}

// distribution sends the case's request many times and checks the share
// of it each backend gets, with the module's own check and its number of
// tries. The tests' entropy (a random header, and random pauses of up to
// a second) is left out: it keeps a real load balancer from answering in
// step with the sender, which the simulated Envoy's random choice cannot,
// and its pauses would make each test take 17 seconds.
func distribution(t *testing.T, l *loaded, c confCase, port int) error {
	send := func() (string, error) {
		if c.GRPC != nil {
			resp, err := sendGRPC(t, l, *c.GRPC, port)
			if err != nil {
				return "", err
			}
			if resp.Code != codes.OK {
				return "", fmt.Errorf("status %s, want OK", resp.Code)
			}
			return resp.Response.GetAssertions().GetContext().GetPod(), nil
		}
		exp := c.Expected
		req := gwhttp.MakeRequest(t, &exp, net.JoinHostPort("192.0.2.10", strconv.Itoa(port)), "HTTP", "http")
		cReq, cRes, err := l.roundTrip(req)
		if err != nil {
			return "", err
		}
		if err := gwhttp.CompareRoundTrip(t, &req, cReq, cRes, c.Expected); err != nil {
			return "", err
		}
		return cReq.Pod, nil
	}
	var err error
	for range weight.MaxTestRetries {
		if err = weight.TestWeightedDistribution(weight.NewFunctionBasedSender(send), c.Weights); err == nil {
			return nil
		}
	}
	return fmt.Errorf("traffic distribution: %w", err)
}

// backendHeaderPerRequest sends the case's request 100 times: each must
// reach a backend whose name starts with the Backend header it received.
func backendHeaderPerRequest(t *testing.T, l *loaded, c confCase) error {
	exp := c.Expected
	req := gwhttp.MakeRequest(t, &exp, net.JoinHostPort("192.0.2.10", strconv.Itoa(l.first)), "HTTP", "http")
	seen := map[string]int{}
	for range 100 {
		cReq, _, err := l.roundTrip(req)
		if err != nil {
			return err
		}
		b := cReq.Headers["Backend"]
		if len(b) != 1 {
			return fmt.Errorf("%d Backend headers reached %s, want 1", len(b), cReq.Pod)
		}
		if !strings.HasPrefix(cReq.Pod, b[0]) {
			return fmt.Errorf("the request with Backend %s reached %s", b[0], cReq.Pod)
		}
		seen[b[0]]++
	}
	if len(seen) < 2 {
		return fmt.Errorf("100 requests all reached %v: the weights were not exercised", seen)
	}
	return nil
}

// mirrorShares checks mirrors that take a percentage of the requests: it
// sends the case's request 500 times, ten at a time, each answered as
// expected, and each mirror must get its percentage of them within 15% of
// it, with the test's own numbers and five tries.
func (h *harness) mirrorShares(t *testing.T, l *loaded, c confCase, port int) error {
	const total, parallel, tolerance, tries = 500, 10, 0.15, 5
	exp := c.Expected
	mocks := map[string]*upstream.Server{}
	for _, m := range exp.MirroredTo {
		s, ok := l.mocks[cmp.Or(m.Namespace, c.Namespace)+"/"+m.Name]
		if !ok {
			return fmt.Errorf("mirror backend %s not imported", m.Name)
		}
		mocks[m.Name] = s
	}
	gwAddr := net.JoinHostPort("192.0.2.10", strconv.Itoa(port))
	var err error
	for range tries {
		before := map[string]uint64{}
		for name, s := range mocks {
			before[name] = s.Stats().Requests
		}
		errs := make(chan error, total)
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for range total {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				e := exp
				req := gwhttp.MakeRequest(t, &e, gwAddr, "HTTP", "http")
				cReq, cRes, err := l.roundTrip(req)
				if err == nil {
					err = gwhttp.CompareRoundTrip(t, &req, cReq, cRes, e)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			if e != nil {
				return e
			}
		}
		if err := h.mirrorsEnded(t); err != nil {
			return err
		}
		err = nil
		for _, m := range exp.MirroredTo {
			got := float64(mocks[m.Name].Stats().Requests - before[m.Name])
			want := total * float64(*m.Percent) / 100
			if got < want*(1-tolerance) || got > want*(1+tolerance) {
				err = errors.Join(err, fmt.Errorf("mirror %s got %.0f of %d requests, want %.0f%% (%.0f to %.0f)", m.Name, got, total, float64(*m.Percent), want*(1-tolerance), want*(1+tolerance)))
			}
		}
		if err == nil {
			return nil
		}
	}
	return err
}

// mirrorsEnded waits until every mirror the data plane has sent so far has
// ended: a mirror goes beside its request and may reach its backend after
// the response, so the data plane's completion event, not the response,
// says when the backends' counts are final. Each mirror ends within its
// own 10 s deadline.
func (h *harness) mirrorsEnded(t *testing.T) error {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := h.dp.WaitMirrors(ctx, h.dp.Mirrors().Sent); err != nil {
		return fmt.Errorf("mirrors still running: %w", err)
	}
	return nil
}

// mirrored checks that every mock of mirrors has answered one more request
// than it had, once the request's mirrors have ended.
func (h *harness) mirrored(t *testing.T, before map[*upstream.Server]uint64) error {
	if err := h.mirrorsEnded(t); err != nil {
		return err
	}
	for s, n := range before {
		if s.Stats().Requests <= n {
			return fmt.Errorf("the mirror %s received nothing", s.Name())
		}
	}
	return nil
}

// roundTrip sends req to the data plane's listener for the port of its
// URL, and reads the mock upstream's echo into what the conformance
// echo server would have answered.
func (l *loaded) roundTrip(r roundtripper.Request) (*roundtripper.CapturedRequest, *roundtripper.CapturedResponse, error) {
	port, _ := strconv.Atoi(r.URL.Port())
	if port == 0 {
		port = 80
		if r.URL.Scheme == "https" {
			port = 443
		}
	}
	addr, ok := l.listeners[port]
	if !ok {
		return nil, nil, fmt.Errorf("no listener on port %d", port)
	}
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	ctx, cancel := context.WithTimeout(r.T.Context(), 10*time.Second)
	defer cancel()
	u := r.URL
	u.Host = addr
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return nil, nil, err
	}
	req.Host = r.URL.Host
	if r.Host != "" {
		req.Host = r.Host
	}
	for name, vals := range r.Headers {
		if strings.EqualFold(name, "X-Echo-Set-Header") {
			// The conformance echo server's way of choosing response
			// headers, in the mock upstream's terms.
			for _, kv := range strings.Split(vals[0], ",") {
				if strings.TrimSpace(kv) != "" {
					req.Header.Add(upstream.HeaderRespondHeader, kv)
				}
			}
			continue
		}
		req.Header.Set(name, vals[0])
	}
	if d := r.URL.Query().Get("delay"); d != "" {
		// The conformance echo server's ?delay=, likewise.
		req.Header.Set(upstream.HeaderRespondDelay, d)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r.URL.Scheme == "https" {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(r.CertPem) {
			return nil, nil, fmt.Errorf("no certificate to trust for %s", r.Server)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: r.Server, MinVersion: tls.VersionTLS12}}
		defer client.CloseIdleConnections()
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	cRes := &roundtripper.CapturedResponse{StatusCode: resp.StatusCode, ContentLength: resp.ContentLength, Protocol: resp.Proto, Headers: resp.Header}
	if roundtripper.IsRedirect(resp.StatusCode) {
		loc, err := resp.Location()
		if err != nil {
			return nil, nil, err
		}
		cRes.RedirectRequest = &roundtripper.RedirectRequest{Scheme: loc.Scheme, Host: loc.Hostname(), Port: loc.Port(), Path: loc.Path}
	}
	cReq := &roundtripper.CapturedRequest{Method: r.Method}
	var echo upstream.Echo
	if resp.Header.Get(upstream.HeaderUpstream) != "" && json.Unmarshal(raw, &echo) == nil {
		svc := l.services[echo.Upstream]
		headers := map[string][]string{}
		for k, v := range echo.Received.Headers {
			headers[http.CanonicalHeaderKey(k)] = v
		}
		cReq = &roundtripper.CapturedRequest{
			Path: echo.Received.Path, Host: first(echo.Received.Headers["host"]), Method: echo.Received.Method, Protocol: "HTTP/1.1",
			Headers: headers, Namespace: svc[0], Pod: podName(svc[1], echo.Endpoint),
		}
	}
	return cReq, cRes, nil
}

// podName names the mock of a Service's endpoint as Kubernetes names a
// Deployment's pod, SERVICE-HASH-HASH: the conformance checks read the
// Service back by dropping the last two parts.
func podName(service, endpoint string) string {
	return service + "-mock-" + strings.ReplaceAll(endpoint, "-", "")
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// selfSigned makes a self-signed server certificate for hosts, PEM.
func selfSigned(t *testing.T, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gateway-conformance"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     hosts,
		// Self-signed: it is its own issuer, trusted as a root.
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}
