package replicasuite

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/app/cli"
	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/model"
	consulpub "github.com/routedeck/routedeck/backend/publish/consul"
	"github.com/routedeck/routedeck/backend/replica"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/backend/xds/xdsload"
	"github.com/routedeck/routedeck/internal/testservers"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// childEnv makes this test binary act as a child process of the suite:
// "routedeck" runs the command line given as its arguments, "publisher"
// runs a split publish that stops for good before its second batch.
const childEnv = "ROUTEDECK_REPLICASUITE_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "routedeck":
		os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	case "publisher":
		os.Exit(runPausedPublisher(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// gatewayYAML is gateway "public" with n routes /r/rNNN and a catch-all,
// each answering "<tag> <route>" directly: what a proxy answers shows the
// version it runs.
func gatewayYAML(tag string, n int) string {
	var b strings.Builder
	b.WriteString("kind: Gateway\nname: public\nlisteners: [{name: http, port: 8080, protocol: HTTP}]\n")
	for _, r := range routes(tag, n) {
		fmt.Fprintf(&b, "---\nkind: Route\nname: %s\ngateway: public\npriority: %d\nwhen: path.prefix(%q)\nthen:\n  respond: {status: 200, body: %q}\n",
			r.Name, r.Priority, r.When.Value, r.Then.Respond.Body)
	}
	return b.String()
}

func routes(tag string, n int) []model.Route {
	var out []model.Route
	for i := range n {
		name := fmt.Sprintf("r%03d", i)
		out = append(out, model.Route{Meta: model.Meta{Name: name}, Gateway: "public", Priority: 10,
			When: model.Condition{Field: "path", Op: "prefix", Value: "/r/" + name},
			Then: model.Action{Respond: &model.Respond{Status: 200, Body: tag + " " + name}}})
	}
	return append(out, model.Route{Meta: model.Meta{Name: "all"}, Gateway: "public",
		When: model.Condition{Field: "path", Op: "prefix", Value: "/"},
		Then: model.Action{Respond: &model.Respond{Status: 200, Body: tag + " all"}}})
}

// runPausedPublisher publishes version args[1] of gateway public with
// args[2] routes to the Consul at args[0], as the writer does, and stops
// before the second batch: it says "paused" and waits to be killed.
func runPausedPublisher(args []string) int {
	version, _ := strconv.ParseInt(args[1], 10, 64)
	n, _ := strconv.Atoi(args[2])
	client, err := consulapi.NewClient(&consulapi.Config{Address: args[0]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ws := model.Workspace{Gateways: []model.Gateway{{Meta: model.Meta{Name: "public"},
		Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}, Routes: routes(fmt.Sprintf("v%d", version), n)}
	kv := consulpub.New(client, consulpub.BeforeBatch(func(batch int) error {
		if batch == 1 {
			fmt.Println("paused")
			select {}
		}
		return nil
	}))
	err = kv.PublishVersion(context.Background(), "public", version, ws)
	fmt.Fprintln(os.Stderr, "publish ended without pausing:", err)
	return 1
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// suite is the running set-up.
type suite struct {
	t       *testing.T
	ctx     context.Context
	consul  *testservers.ConsulCluster
	dataDir string
	env     []string
	token   string
	// writer is `routedeck serve` at writerURL, publishing to Consul
	// through server 2, serving no ADS.
	writer    *testservers.Process
	writerURL string
	replicas  []*replicaProc
	gwCerts   string // gateway public's tls.crt, tls.key, ca.crt
}

type replicaProc struct {
	id, ads, status string
	consul          *testservers.ConsulServer
	proc            *testservers.Process
}

// cli runs a routedeck command line in this process.
func (s *suite) cli(args ...string) string {
	s.t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Run(s.ctx, args, strings.NewReader(""), &out, &errOut); code != 0 {
		s.t.Fatalf("routedeck %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

// api calls the writer's API with the admin token.
func (s *suite) api(method, path string, body, out any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(s.ctx, method, s.writerURL+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// publish applies the gateway with n routes tagged tag and publishes it,
// returning the version.
func (s *suite) publish(tag string, n int) int64 {
	s.t.Helper()
	file := filepath.Join(s.t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(file, []byte(gatewayYAML(tag, n)), 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.cli("apply", "-f", file, "--server", s.writerURL, "--token", s.token)
	var rep struct {
		Version int64 `json:"version"`
	}
	s.api("POST", "/gateways/public/publish", map[string]any{}, &rep)
	return rep.Version
}

// eventually waits until cond holds, looking every 20 ms, up to the
// test's deadline.
func (s *suite) eventually(what string, cond func() (bool, string)) {
	s.t.Helper()
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("waiting for %s: %v; last: %s", what, s.ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func getJSON(ctx context.Context, url string, out any) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// status reads a replica's status ("" state when it does not answer).
func (r *replicaProc) statusOf(ctx context.Context) (replica.Status, error) {
	var st replica.Status
	err := getJSON(ctx, "http://"+r.status+"/api/v1/status", &st)
	return st, err
}

func gatewayOf(st replica.Status) replica.GatewayStatus {
	for _, g := range st.Gateways {
		if g.Name == "public" {
			return g
		}
	}
	return replica.GatewayStatus{}
}

// waitReplica waits until r's status satisfies cond.
func (s *suite) waitReplica(r *replicaProc, what string, cond func(replica.Status) bool) replica.Status {
	s.t.Helper()
	var st replica.Status
	s.eventually(r.id+": "+what, func() (bool, string) {
		var err error
		st, err = r.statusOf(s.ctx)
		if err != nil {
			return false, err.Error()
		}
		b, _ := json.Marshal(st)
		return cond(st), string(b)
	})
	return st
}

func serving(version int64) func(replica.Status) bool {
	return func(st replica.Status) bool { return gatewayOf(st).Version == version }
}

func (s *suite) startReplica(id string, consul *testservers.ConsulServer) *replicaProc {
	s.t.Helper()
	ports := testservers.FreePorts(s.t, 2)
	r := &replicaProc{id: id, ads: fmt.Sprintf("127.0.0.1:%d", ports[0]), status: fmt.Sprintf("127.0.0.1:%d", ports[1]), consul: consul}
	r.proc = testservers.StartProcess(s.t, "replica "+id, os.Args[0], []string{
		"serve", "--role", "xds", "--replica-id", id, "--listen", r.status, "--ads-listen", r.ads,
		"--ads-cert-dir", filepath.Join(s.dataDir, "xds-tls"), "--consul-addr", consul.HTTPAddr,
		"--master-key-file", filepath.Join(s.dataDir, "master.key"),
	}, s.env)
	s.replicas = append(s.replicas, r)
	return r
}

func (s *suite) startWriter() {
	s.t.Helper()
	port := testservers.FreePorts(s.t, 1)[0]
	s.writerURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.writer = testservers.StartProcess(s.t, "writer", os.Args[0], []string{
		"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--serve-ads=false", "--no-demo", "--data-dir", s.dataDir,
	}, append(slices.Clone(s.env), "CONSUL_HTTP_ADDR="+s.consul.Servers[2].HTTPAddr))
	s.waitWriter()
}

func (s *suite) waitWriter() {
	s.t.Helper()
	s.eventually("the writer to answer", func() (bool, string) {
		if dead, err := s.writer.Exited(); dead {
			s.t.Fatalf("the writer exited: %v", err)
		}
		var h struct{ Status string }
		err := getJSON(s.ctx, s.writerURL+"/api/v1/health", &h)
		return err == nil && h.Status == "ok", fmt.Sprint(err)
	})
}

// proxy is a simulated Envoy started from a bootstrap listing ADS
// addresses, with a request loop that counts what fails.
type proxy struct {
	node     string
	dp       *sim.DataPlane
	ok, fail atomic.Int64
	mu       sync.Mutex
	lastBody string
	failures []string
	stop     chan struct{}
	done     chan struct{} // closed when the request loop ended; nil without one
}

func (s *suite) startProxy(node string, ads ...string) *proxy {
	s.t.Helper()
	dir := s.t.TempDir()
	args := []string{"bootstrap", "--gateway", "public", "--node", node, "--cert-dir", s.gwCerts, "--out", dir}
	if dead, _ := s.writer.Exited(); dead {
		args = append(args, "--data-dir", s.dataDir) // the writer's database, offline
	} else {
		args = append(args, "--server", s.writerURL, "--token", s.token)
	}
	for _, a := range ads {
		args = append(args, "--ads", a)
	}
	s.cli(args...)
	data, err := os.ReadFile(filepath.Join(dir, "envoy.yaml"))
	if err != nil {
		s.t.Fatal(err)
	}
	b, err := xds.ParseBootstrapYAML(data)
	if err != nil {
		s.t.Fatal(err)
	}
	opts, err := sim.FromBootstrap(b)
	if err != nil {
		s.t.Fatal(err)
	}
	opts.Logger = quiet
	p := &proxy{node: node, stop: make(chan struct{})}
	if p.dp, err = sim.Start(opts); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { p.halt(); p.dp.Close() })
	return p
}

// waitVersion waits until the proxy runs version and answers with its tag.
func (s *suite) waitVersion(p *proxy, version int64) {
	s.t.Helper()
	want := strconv.FormatInt(version, 10)
	if _, err := p.dp.WaitFor(s.ctx, func(st sim.Status) bool { return st.Versions[sim.TypeRoute] == want && st.Ready["http"] }); err != nil {
		s.t.Fatalf("%s runs %v, want version %s: %v", p.node, p.dp.Status().Versions, want, err)
	}
}

// load sends requests through the proxy until halt, one every 10 ms.
func (p *proxy) load() {
	addr := p.dp.Status().Listeners["http"]
	client := &http.Client{Timeout: 5 * time.Second}
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			resp, err := client.Get("http://" + addr + "/r/r001")
			if err != nil {
				p.failed(err.Error())
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				p.failed(fmt.Sprintf("%d %s", resp.StatusCode, body))
				continue
			}
			p.ok.Add(1)
			p.mu.Lock()
			p.lastBody = string(body)
			p.mu.Unlock()
		}
	}()
}

func (p *proxy) failed(what string) {
	p.fail.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.failures) < 10 {
		p.failures = append(p.failures, what)
	}
}

func (p *proxy) halt() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	if p.done != nil {
		<-p.done
	}
}

// answers waits for the next successful request and returns its body.
func (s *suite) answers(p *proxy) string {
	s.t.Helper()
	before := p.ok.Load()
	s.eventually(p.node+" to answer a request", func() (bool, string) { return p.ok.Load() > before+1, "" })
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastBody
}

// fleet is gRPC ADS clients of gateway public on one replica.
func (s *suite) fleet(r *replicaProc, n int) *xdsload.Fleet {
	s.t.Helper()
	kp, err := tls.LoadX509KeyPair(filepath.Join(s.gwCerts, xds.CertFile), filepath.Join(s.gwCerts, xds.KeyFile))
	if err != nil {
		s.t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(s.gwCerts, xds.CAFile))
	if err != nil {
		s.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	f, err := xdsload.StartTLS(s.ctx, r.ads, "public", "grpc-"+r.id, n,
		&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp}, RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(f.Stop)
	return f
}

// writerProxies is what the console lists for gateway public.
func (s *suite) writerProxies() []api.Proxy {
	s.t.Helper()
	var rep struct{ Items []api.Proxy }
	s.api("GET", "/gateways/public/proxies", nil, &rep)
	return rep.Items
}

func setUp(t *testing.T) *suite {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	for _, k := range []string{cli.EnvServer, cli.EnvToken, cli.EnvDataDir, "CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "ROUTEDECK_MASTER_KEY"} {
		t.Setenv(k, "")
	}
	s := &suite{t: t, ctx: ctx, dataDir: t.TempDir(), consul: testservers.StartConsulCluster(t, 3)}
	s.env = append(os.Environ(), childEnv+"=routedeck")
	s.token = strings.TrimSpace(s.cli("token", "create", "--name", "suite", "--role", "admin", "--data-dir", s.dataDir))
	s.cli("certs", "issue", "--ads-server", "--san", "127.0.0.1", "--out", filepath.Join(s.dataDir, "xds-tls"), "--data-dir", s.dataDir)
	s.gwCerts = filepath.Join(s.dataDir, "public-tls")
	s.cli("certs", "issue", "--gateway", "public", "--out", s.gwCerts, "--data-dir", s.dataDir)
	s.startWriter()
	s.api("PUT", "/targets", map[string]any{"kubernetes": map[string]any{},
		"consul": map[string]any{"address": s.consul.Servers[2].HTTPAddr, "kvPublish": true}}, nil)
	return s
}

// TestReplicasSurviveFailures runs one writer, two replicas and their
// proxies through the failures the README promises to survive.
func TestReplicasSurviveFailures(t *testing.T) {
	s := setUp(t)
	v1 := s.publish("v1", 3)
	r1 := s.startReplica("r1", s.consul.Servers[0])
	r2 := s.startReplica("r2", s.consul.Servers[1])
	for _, r := range []*replicaProc{r1, r2} {
		s.waitReplica(r, "serving the first version", serving(v1))
	}
	// a and c prefer r1, b prefers r2; each lists both.
	a := s.startProxy("sim-a", r1.ads, r2.ads)
	b := s.startProxy("sim-b", r2.ads, r1.ads)
	for _, p := range []*proxy{a, b} {
		s.waitVersion(p, v1)
		p.load()
	}
	fleet1, fleet2 := s.fleet(r1, 5), s.fleet(r2, 5)
	for _, f := range []*xdsload.Fleet{fleet1, fleet2} {
		if err := f.Wait(s.ctx, resource.RouteType, fmt.Sprint(v1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.answers(a); got != "v1 r001" {
		t.Fatalf("sim-a answers %q", got)
	}

	t.Run("the console lists every proxy with its replica", func(t *testing.T) {
		s.eventually("the writer to list the replicas' proxies", func() (bool, string) {
			items := s.writerProxies()
			where := map[string]string{}
			for _, p := range items {
				if p.Connected && p.InSync && p.Nack == nil {
					where[p.Node] = p.Replica
				}
			}
			ok := where["sim-a"] == "r1" && where["sim-b"] == "r2" && where["grpc-r1-4"] == "r1" && where["grpc-r2-0"] == "r2" && len(where) == 12
			return ok, fmt.Sprint(where)
		})
	})

	t.Run("the writer stops: the replicas keep serving", func(t *testing.T) {
		s.writer.Kill()
		for _, r := range []*replicaProc{r1, r2} {
			if st, err := r.statusOf(s.ctx); err != nil || gatewayOf(st).Version != v1 || st.Consul.Stale {
				t.Fatalf("%s without the writer: %+v, %v", r.id, st, err)
			}
		}
		if got := s.answers(b); got != "v1 r001" {
			t.Fatalf("sim-b answers %q without the writer", got)
		}
		// A proxy connects while the writer is away.
		c := s.startProxy("sim-c", r1.ads, r2.ads)
		s.waitVersion(c, v1)
		c.halt()
		if err := s.writer.Start(); err != nil {
			t.Fatal(err)
		}
		s.waitWriter()
	})

	v2 := s.publish("v2", 3)
	t.Run("a publish reaches every proxy through both replicas", func(t *testing.T) {
		for _, p := range []*proxy{a, b} {
			s.waitVersion(p, v2)
		}
		for _, f := range []*xdsload.Fleet{fleet1, fleet2} {
			if err := f.Wait(s.ctx, resource.RouteType, fmt.Sprint(v2)); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.answers(a); got != "v2 r001" {
			t.Fatalf("sim-a answers %q", got)
		}
	})

	t.Run("a replica is killed: its proxies move to the other one", func(t *testing.T) {
		r1.proc.Kill()
		fleet1.Stop() // plain ADS clients do not reconnect
		s.eventually("sim-a on r2", func() (bool, string) {
			st, err := r2.statusOf(s.ctx)
			if err != nil {
				return false, err.Error()
			}
			var ps struct{ Items []replica.Proxy }
			if err := getJSON(s.ctx, "http://"+r2.status+"/api/v1/gateways/public/proxies", &ps); err != nil {
				return false, err.Error()
			}
			for _, p := range ps.Items {
				if p.Node == "sim-a" && p.Connected && p.InSync {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%+v %+v", st, ps.Items)
		})
		if v := a.dp.Status().Versions[sim.TypeRoute]; v != fmt.Sprint(v2) {
			t.Fatalf("sim-a runs %s after moving", v)
		}
		if got := s.answers(a); got != "v2 r001" {
			t.Fatalf("sim-a answers %q after moving", got)
		}
		s.eventually("the console to show sim-a on r2", func() (bool, string) {
			for _, p := range s.writerProxies() {
				if p.Node == "sim-a" {
					return p.Replica == "r2" && p.Connected, fmt.Sprintf("%+v", p)
				}
			}
			return false, "not listed"
		})
		if err := r1.proc.Start(); err != nil {
			t.Fatal(err)
		}
		s.waitReplica(r1, "serving again after its restart", serving(v2))
	})

	// c stays on r1 for what follows.
	c := s.startProxy("sim-c", r1.ads, r2.ads)
	s.waitVersion(c, v2)
	c.load()

	var v3 int64
	t.Run("consul loses its leader: the replica of that server is stale, keeps serving, and catches up", func(t *testing.T) {
		s.consul.MakeLeader(t, r1.consul, time.Minute)
		r1.consul.Stop()
		s.waitReplica(r1, "stale", func(st replica.Status) bool { return st.Consul.Stale && st.Consul.Error != "" })
		s.consul.WaitLeader(t, time.Minute)
		v3 = s.publish("v3", 3)
		s.waitReplica(r2, "serving the publish made while server-0 was down", serving(v3))
		s.waitVersion(b, v3)
		st, err := r1.statusOf(s.ctx)
		if err != nil || !st.Consul.Stale || gatewayOf(st).Version != v2 {
			t.Fatalf("r1 while its consul server is down: %+v, %v", st, err)
		}
		if got := s.answers(c); got != "v2 r001" {
			t.Fatalf("sim-c answers %q while r1 is stale", got)
		}
		r1.consul.Start()
		s.waitReplica(r1, "caught up", func(st replica.Status) bool { return !st.Consul.Stale && gatewayOf(st).Version == v3 })
		s.waitVersion(c, v3)
	})

	t.Run("a publish stops between batches: no replica serves any of it", func(t *testing.T) {
		child := exec.CommandContext(s.ctx, os.Args[0], s.consul.Servers[2].HTTPAddr, fmt.Sprint(v3+1), "80")
		child.Env = append(slices.Clone(os.Environ()), childEnv+"=publisher")
		child.Stderr = os.Stderr
		child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "paused" {
			t.Fatalf("the publisher said %q: %v", line, err)
		}
		_ = child.Process.Kill()
		_ = child.Wait()
		for _, r := range []*replicaProc{r1, r2} {
			st := s.waitReplica(r, "seeing the publish", func(st replica.Status) bool { return gatewayOf(st).Problem != "" })
			if g := gatewayOf(st); g.Version != v3 || !strings.Contains(g.Problem, "is being published") {
				t.Fatalf("%s after the interrupted publish: %+v", r.id, g)
			}
		}
		for _, p := range []*proxy{a, b, c} {
			if got := s.answers(p); got != "v3 r001" {
				t.Fatalf("%s answers %q after the interrupted publish", p.node, got)
			}
			if v := p.dp.Status().Versions[sim.TypeRoute]; v != fmt.Sprint(v3) {
				t.Fatalf("%s runs %s after the interrupted publish", p.node, v)
			}
		}
	})

	for _, p := range []*proxy{a, b, c} {
		p.halt()
		if n := p.fail.Load(); n > 0 {
			t.Errorf("%s: %d of %d requests failed: %v", p.node, n, n+p.ok.Load(), p.failures)
		}
		if nacks := p.dp.Status().Nacks; len(nacks) > 0 {
			t.Errorf("%s rejected configuration: %+v", p.node, nacks)
		}
		t.Logf("%s: %d requests, none failed", p.node, p.ok.Load())
	}
}
