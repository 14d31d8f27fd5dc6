package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
	consulpub "github.com/routedeck/routedeck/backend/publish/consul"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/internal/testservers"
	"github.com/routedeck/routedeck/sandbox/sim"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// workspace is gateway "public" at version tag: routes/r/<i> for each of
// n routes and a catch-all, every one answering "<tag> <route>"; more
// than 62 routes make a split publish.
func workspace(tag string, n int) model.Workspace {
	ws := model.Workspace{Gateways: []model.Gateway{{Meta: model.Meta{Name: "public"},
		Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}}
	for i := range n {
		name := fmt.Sprintf("r%03d", i)
		ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: name}, Gateway: "public", Priority: 10,
			When: model.Condition{Field: "path", Op: "prefix", Value: "/r/" + name},
			Then: model.Action{Respond: &model.Respond{Status: 200, Body: tag + " " + name}}})
	}
	ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: "all"}, Gateway: "public",
		When: model.Condition{Field: "path", Op: "prefix", Value: "/"},
		Then: model.Action{Respond: &model.Respond{Status: 200, Body: tag + " all"}}})
	return ws
}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	agent  *testservers.Consul
	client *consulapi.Client
	rep    *Replica
	ads    *xds.Server
	dp     *sim.DataPlane
}

func start(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	agent := testservers.StartConsul(t)
	f := &fixture{t: t, ctx: ctx, agent: agent, client: agent.Client(t), ads: xds.New(xds.Options{Logger: quiet})}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = f.ads.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	f.rep, err = New(Options{ID: "r1", Consul: f.client, ConsulAddress: agent.HTTPAddr, ADS: f.ads, ADSAddress: lis.Addr().String(),
		Logger: quiet, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { defer close(ran); f.rep.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	f.dp, err = sim.Start(sim.DataPlaneOptions{ADS: lis.Addr().String(), NodeID: "edge-1", Cluster: "public", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.dp.Close() })
	return f
}

func (f *fixture) publish(version int64, ws model.Workspace, opts ...consulpub.Option) error {
	return consulpub.New(f.client, opts...).PublishVersion(f.ctx, "public", version, ws)
}

// waitServed waits until the sim runs version and answers with its tag.
func (f *fixture) waitServed(version int64, tag string) {
	f.t.Helper()
	want := fmt.Sprint(version)
	st, err := f.dp.WaitFor(f.ctx, func(st sim.Status) bool {
		return st.Versions[sim.TypeRoute] == want && st.Ready["http"]
	})
	if err != nil {
		f.t.Fatalf("sim at %v, want version %s: %v", st.Versions, want, err)
	}
	if got := f.get("/r/r001"); got != tag+" r001" {
		f.t.Fatalf("version %d answers %q", version, got)
	}
}

func (f *fixture) get(path string) string {
	f.t.Helper()
	resp, err := http.Get("http://" + f.dp.Status().Listeners["http"] + path)
	if err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// waitStatus waits until cond holds for the replica's status.
func (f *fixture) waitStatus(what string, cond func(Status) bool) Status {
	f.t.Helper()
	for {
		st := f.rep.Status()
		if cond(st) {
			return st
		}
		select {
		case <-f.ctx.Done():
			f.t.Fatalf("waiting for the replica's status: %s; last %+v", what, st)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func gatewayStatus(st Status) GatewayStatus {
	for _, g := range st.Gateways {
		if g.Name == "public" {
			return g
		}
	}
	return GatewayStatus{}
}

func TestReplicaServesOnlyCompletePublishes(t *testing.T) {
	f := start(t)
	if err := f.publish(1, workspace("v1", 3)); err != nil {
		t.Fatal(err)
	}
	f.waitServed(1, "v1")

	// A split publish (80 routes) is served once it is done, under the
	// writer's number.
	if err := f.publish(2, workspace("v2", 80)); err != nil {
		t.Fatal(err)
	}
	f.waitServed(2, "v2")

	// The writer stops after its first batch: the tree holds a mix of v2
	// and v3, which the replica must not serve.
	stopped := errors.New("writer gone")
	err := f.publish(3, workspace("v3", 80), consulpub.BeforeBatch(func(batch int) error {
		if batch == 1 {
			return stopped
		}
		return nil
	}))
	if !errors.Is(err, stopped) {
		t.Fatalf("interrupted publish: %v", err)
	}
	st := f.waitStatus("the interrupted publish is reported", func(st Status) bool {
		return strings.Contains(gatewayStatus(st).Problem, "interrupted")
	})
	if g := gatewayStatus(st); g.Version != 2 || g.Published != 2 {
		t.Fatalf("after the interrupted publish: %+v", g)
	}
	if got := f.get("/r/r001"); got != "v2 r001" {
		t.Fatalf("after the interrupted publish the sim answers %q", got)
	}
	if v := f.dp.Status().Versions[sim.TypeRoute]; v != "2" {
		t.Fatalf("after the interrupted publish the sim runs %s", v)
	}

	// Publishing again repairs it.
	if err := f.publish(4, workspace("v4", 80)); err != nil {
		t.Fatal(err)
	}
	f.waitServed(4, "v4")
	if g := gatewayStatus(f.rep.Status()); g.Problem != "" || g.Version != 4 {
		t.Fatalf("after the repair: %+v", g)
	}
	if nacks := f.dp.Status().Nacks; len(nacks) > 0 {
		t.Fatalf("the sim rejected: %+v", nacks)
	}
	// The sim serves version 4 before its ACK reaches the replica: wait
	// for the ACK, as the proxy list shows it.
	for {
		ps := f.rep.Proxies("public")
		if len(ps) == 1 && ps[0].Connected && ps[0].InSync && ps[0].Replica == "r1" {
			break
		}
		select {
		case <-f.ctx.Done():
			t.Fatalf("proxies: %+v", ps)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestReplicaKeepsServingWhileConsulIsAway(t *testing.T) {
	f := start(t)
	if err := f.publish(1, workspace("v1", 3)); err != nil {
		t.Fatal(err)
	}
	f.waitServed(1, "v1")

	f.agent.Stop()
	st := f.waitStatus("stale", func(st Status) bool { return st.Consul.Stale })
	if st.Consul.Error == "" || st.Consul.StaleSince == nil {
		t.Fatalf("stale without a reason: %+v", st.Consul)
	}
	if got := f.get("/r/r001"); got != "v1 r001" {
		t.Fatalf("with consul away the sim answers %q", got)
	}

	// A dev agent comes back empty: the replica keeps serving what it
	// read last, says so, and catches up with the next publish.
	f.agent.Start()
	st = f.waitStatus("fresh again", func(st Status) bool { return !st.Consul.Stale && gatewayStatus(st).Problem != "" })
	if g := gatewayStatus(st); g.Version != 1 || !strings.Contains(g.Problem, "no longer published") {
		t.Fatalf("after consul came back empty: %+v", g)
	}
	if got := f.get("/r/r001"); got != "v1 r001" {
		t.Fatalf("after consul came back the sim answers %q", got)
	}
	if err := f.publish(2, workspace("v2", 3)); err != nil {
		t.Fatal(err)
	}
	f.waitServed(2, "v2")
}

func TestServableRefusesRedactedKeys(t *testing.T) {
	ws := workspace("v1", 1)
	ws.Secrets = []model.Secret{{Meta: model.Meta{Name: "shop-tls"}, TLS: &model.SecretTLS{Certificate: "x", PrivateKey: model.RedactedPrivateKey}}}
	if err := servable(ws); model.ErrorCode(err) != model.EINVALID || !strings.Contains(err.Error(), `"shop-tls"`) {
		t.Fatalf("servable: %v", err)
	}
	ws.Secrets[0].TLS.PrivateKey = "a key"
	if err := servable(ws); err != nil {
		t.Fatalf("servable with a key: %v", err)
	}
}
