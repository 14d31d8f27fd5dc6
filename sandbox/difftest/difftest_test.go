package difftest

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/sim"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

var (
	flagN    = flag.Int("difftest.n", 100_000, "random requests compared in the differential test")
	flagSets = flag.Int("difftest.sets", 1_000, "random rule sets in the differential test")
	flagSeed = flag.Uint64("difftest.seed", 1, "seed of the differential test")
	flagADS  = flag.Int("difftest.ads-every", 20, "every Nth rule set goes to the simulated Envoy over a real ADS stream")
	flagHTTP = flag.Int("difftest.http", 8, "real HTTP requests through the proxy per rule set delivered over ADS")
)

// adsPath is the production path: the ADS server, a data plane connected
// to it over gRPC, mock upstreams behind it.
type adsPath struct {
	ads       *xds.Server
	dp        *sim.DataPlane
	endpoints map[string][]model.Endpoint
}

func startADSPath(t *testing.T) *adsPath {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &adsPath{ads: xds.New(xds.Options{Logger: quiet}), endpoints: map[string][]model.Endpoint{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.ads.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	pool := upstream.NewPool(quiet)
	t.Cleanup(pool.Close)
	for _, name := range []string{"up", "up2"} {
		servers, err := pool.Ensure(name, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		p.endpoints[name] = []model.Endpoint{{Address: "127.0.0.1", Port: servers[0].Port()}}
	}
	p.dp, err = sim.Start(sim.DataPlaneOptions{ADS: lis.Addr().String(), NodeID: "difftest", Cluster: "sandbox/gw", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.dp.Close() })
	return p
}

// deliver serves res over ADS and waits until the data plane runs it.
func (p *adsPath) deliver(t *testing.T, res *translate.Resources) *sim.Router {
	t.Helper()
	if err := p.ads.SetGateway(t.Context(), "sandbox/gw", res, ""); err != nil {
		t.Fatalf("set snapshot: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := p.dp.WaitFor(ctx, func(st sim.Status) bool {
		a := p.dp.Accepted()
		return len(res.Routes) == 1 && proto.Equal(a.Routes[res.Routes[0].GetName()], res.Routes[0]) && st.Ready["http"]
	}); err != nil {
		t.Fatalf("%v: status %+v", err, p.dp.Status())
	}
	if n := p.dp.Status().Nacks; len(n) > 0 {
		t.Fatalf("the data plane refused a translation: %+v", n)
	}
	return p.dp.Router("http")
}

// TestDifferential compares the reference evaluator with the simulated
// Envoy on random rule sets and requests: same rule, upstream, rewritten
// path and host, redirect URL and status.
func TestDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(*flagSeed, 2))
	path := startADSPath(t)
	perSet := max(1, (*flagN+*flagSets-1) / *flagSets)
	sets, translated, compared, viaADS, viaHTTP, failures := 0, 0, 0, 0, 0, 0
	// Sets keep coming until both the set and the request counts are
	// reached, since some random sets do not translate.
	for set := 0; (set < *flagSets || compared < *flagN) && failures < 3; set++ {
		sets++
		ws := workspace(r)
		res, err := translate.Gateway(ws, "gw", translate.Options{Endpoints: path.endpoints})
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("set %d: %v", set, err)
			}
			continue
		}
		translated++
		var router *sim.Router
		overADS := *flagADS > 0 && set%*flagADS == 0
		if overADS {
			router = path.deliver(t, res)
			viaADS++
		} else if router, err = sim.New(res.Routes[0], sim.Options{}); err != nil {
			t.Fatalf("set %d: the simulated Envoy refuses the translation: %v%s", set, err, describeRules(ws.Routes))
		}
		prog := rules.Compile(ws.Routes, "gw")
		for i := 0; i < perSet && failures < 3; i++ {
			q := randomRequest(r)
			random := r.Uint64N(100)
			want := evaluatorOutcome(prog.Evaluate(q.evaluatorRequest(random)))
			got := simOutcome(router.RouteWith(q.simRequest(), random, sim.RouteOptions{NoTrace: true}))
			compared++
			if got != want {
				failures++
				report(t, set, ws, q, random, want, got)
			}
			if overADS && i < *flagHTTP {
				viaHTTP++
				if msg := throughProxy(t, path.dp, prog, q); msg != "" {
					failures++
					t.Errorf("set %d, real HTTP %s: %s\n  rules:%s", set, q, msg, describeRules(ws.Routes))
				}
			}
		}
	}
	if translated < sets/2 {
		t.Errorf("only %d of %d random rule sets translated", translated, sets)
	}
	t.Logf("%d of %d rule sets translated (%d over ADS), %d requests compared, %d through the proxy over HTTP", translated, sets, viaADS, compared, viaHTTP)
}

func report(t *testing.T, set int, ws model.Workspace, q request, random uint64, want, got outcome) {
	t.Helper()
	sws, sq := ws, q
	if disagrees(ws, q, random) {
		sws, sq = shrink(ws, q, random, disagrees)
		want, got, _ = judge(sws, sq, random)
	}
	t.Errorf("set %d: the evaluator and the simulated Envoy disagree\n  minimal request: %s (random %d)\n  minimal rules:%s\n  evaluator: %+v\n  envoy:     %+v",
		set, sq, random, describeRules(sws.Routes), want, got)
}

// throughProxy sends q through the data plane's listener as a real HTTP
// request and checks the rule it applied against the evaluator, and for a
// single-backend forward, the upstream, path and host the mock received.
func throughProxy(t *testing.T, dp *sim.DataPlane, prog *rules.Program, q request) string {
	t.Helper()
	// The listener is plain HTTP: the proxy sets x-forwarded-proto itself.
	// A HEAD answer has no body to read the echo from.
	q.Scheme = "http"
	if q.Method == http.MethodHead {
		q.Method = http.MethodGet
	}
	id, wait := dp.Capture()
	req, err := http.NewRequestWithContext(t.Context(), q.Method, "http://"+dp.Status().Listeners["http"]+q.Path, nil)
	if err != nil {
		return err.Error()
	}
	req.Host = q.Host
	for k, v := range q.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set(sim.HeaderCapture, id)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return err.Error()
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ex, err := wait(ctx)
	if err != nil {
		return "no capture: " + err.Error()
	}
	ref := prog.Evaluate(q.evaluatorRequest(0))
	if got := ruleOf(ex.Decision.Route); got != ref.Rule {
		return "rule " + strconv.Quote(got) + ", evaluator " + strconv.Quote(ref.Rule)
	}
	if ref.Action == nil || len(ref.Action.Forward) != 1 {
		return ""
	}
	var echo upstream.Echo
	if err := json.Unmarshal(body, &echo); err != nil {
		return "status " + strconv.Itoa(resp.StatusCode) + ", not an upstream echo: " + strconv.Quote(string(body))
	}
	host := ""
	if hs := echo.Received.Headers["host"]; len(hs) > 0 {
		host = hs[0]
	}
	if echo.Upstream != ref.Upstream || echo.Received.Path != ref.Path || !strings.EqualFold(host, ref.Host) && !ref.AutoHost {
		return "upstream received " + echo.Upstream + " " + echo.Received.Path + " host " + host + ", evaluator " + ref.Upstream + " " + ref.Path + " host " + ref.Host
	}
	return ""
}
