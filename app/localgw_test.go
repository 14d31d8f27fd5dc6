package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/sandbox/localgw"
)

func decodeLocal(t *testing.T, code int, body string) api.LocalGateway {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("local gateway: %d %s", code, body)
	}
	var v api.LocalGateway
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("local gateway: %v\n%s", err, body)
	}
	return v
}

// waitLogged waits until the request log holds n entries of gateway.
func waitLogged(t *testing.T, ctx context.Context, al *accesslog.Store, gateway string, n int) {
	t.Helper()
	for {
		changed := al.Changed()
		got, _, err := al.Entries(ctx, accesslog.Query{Gateway: gateway, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= n {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%d entries of %s in the request log, want %d", len(got), gateway, n)
		}
	}
}

// TestLocalGatewayThroughTheAPI runs the dashboard's "run a local
// gateway" on the whole service: started before the demo gateway is
// published it waits; once published it serves the version on a loopback
// port with the gateway's certificate of the data directory's CA; a
// request and the sample traffic reach the request log and /metrics with
// their rules and version; stopping frees the port.
func TestLocalGatewayThroughTheAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleEditor, auth.RoleViewer)
	local := func(role, method, path, body string) api.LocalGateway {
		t.Helper()
		code, b := call(role, method, path, body)
		return decodeLocal(t, code, b)
	}

	if v := local(auth.RoleViewer, "GET", "/gateways/public/local", ""); v.State != api.LocalStopped || len(v.Listeners) != 0 {
		t.Fatalf("before start: %+v", v)
	}
	v := local(auth.RoleEditor, "PUT", "/gateways/public/local", "")
	if v.State != api.LocalWaiting || !strings.Contains(v.Message, "publish") || v.Node != localgw.NodeID || v.Version != nil {
		t.Fatalf("started before a publish: %+v", v)
	}
	if code, b := call(auth.RoleEditor, "POST", "/gateways/public/local/traffic", `{}`); code != http.StatusConflict {
		t.Fatalf("traffic before a publish: %d %s", code, b)
	}
	if code, b := call(auth.RoleEditor, "POST", "/gateways/public/publish", `{}`); code != 200 {
		t.Fatalf("publish: %d %s", code, b)
	}
	// Starting a running one waits for it to serve the new version.
	v = local(auth.RoleEditor, "PUT", "/gateways/public/local", `{}`)
	if v.State != api.LocalReady || v.Version == nil || *v.Version != 1 || !v.InSync || v.Nack != nil ||
		len(v.Listeners) != 1 || !v.Listeners[0].Ready || v.Listeners[0].TLS {
		t.Fatalf("after the publish: %+v", v)
	}
	listener, err := url.Parse(v.Listeners[0].URL)
	if err != nil || listener.Scheme != "http" || listener.Hostname() != "127.0.0.1" || listener.Port() == "8000" {
		t.Fatalf("listener URL %q, want a free loopback port", v.Listeners[0].URL)
	}
	// The samples: the first rules, then one no rule matches, each a
	// curl command at the local listener.
	if len(v.Samples) != 4 || v.Samples[0].Rule != "shop-api" || v.Samples[3].Rule != "" ||
		!strings.Contains(v.Samples[0].Curl, "-H 'Host: shop.example.com' '"+v.Listeners[0].URL+"/api/") {
		t.Fatalf("samples = %+v", v.Samples)
	}
	// The ADS server lists it among the gateway's proxies.
	if code, b := call(auth.RoleViewer, "GET", "/gateways/public/proxies", ""); code != 200 || !strings.Contains(b, `"node": "`+localgw.NodeID+`"`) {
		t.Fatalf("proxies: %d %s", code, b)
	}

	// A request of any client.
	req, _ := http.NewRequestWithContext(ctx, "GET", v.Listeners[0].URL+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("GET /healthz through the local gateway: %d %s", resp.StatusCode, body)
	}

	// The sample traffic: every rule of the demo in turn, twice.
	code, b := call(auth.RoleEditor, "POST", "/gateways/public/local/traffic", `{"requests": 14}`)
	if code != 200 {
		t.Fatalf("traffic: %d %s", code, b)
	}
	var traffic api.LocalTraffic
	if err := json.Unmarshal([]byte(b), &traffic); err != nil {
		t.Fatal(err)
	}
	byRule := map[string]api.LocalTrafficResult{}
	for _, r := range traffic.Results {
		byRule[r.Rule] = r
	}
	if traffic.Sent != 14 || len(traffic.Results) != 7 {
		t.Fatalf("traffic = %s", b)
	}
	// The forwarding rules' upstreams are loopback ports nothing may
	// listen on here: only the answers the gateway gives itself are
	// certain.
	for rule, status := range map[string]string{"healthz": "200", "old-catalog": "301", "": "404"} {
		if r := byRule[rule]; r.Sent != 2 || r.Statuses[status] != 2 {
			t.Errorf("sample of rule %q: %+v, want 2 × %s", rule, r, status)
		}
	}

	waitLogged(t, ctx, svc.AccessLog(), "public", 15)
	code, b = call(auth.RoleViewer, "GET", "/gateways/public/logs?rule=old-catalog", "")
	var page struct{ Items []accesslog.Entry }
	if err := json.Unmarshal([]byte(b), &page); code != 200 || err != nil {
		t.Fatalf("logs: %d %v %s", code, err, b)
	}
	if len(page.Items) != 2 {
		t.Fatalf("old-catalog entries: %s", b)
	}
	for _, e := range page.Items {
		if e.Version != "1" || e.Node != localgw.NodeID || e.Status != 301 || e.UserAgent != localgw.UserAgent || e.Gateway != "public" {
			t.Errorf("entry = %+v", e)
		}
	}
	m := scrape(t, ctx, svc.Addr().String(), newToken(t, ctx, svc, auth.RoleViewer))
	if got := m[`routedeck_accesslog_requests_total{gateway="public",rule="healthz",status_class="2xx"}`]; got != 3 {
		t.Errorf("healthz 2xx requests in /metrics: %v, want 3", got)
	}
	if got := m[`routedeck_accesslog_requests_total{gateway="public",rule="",status_class="4xx"}`]; got != 2 {
		t.Errorf("unmatched 4xx requests in /metrics: %v, want 2", got)
	}

	if v := local(auth.RoleEditor, "DELETE", "/gateways/public/local", ""); v.State != api.LocalStopped {
		t.Fatalf("after stop: %+v", v)
	}
	lis, err := net.Listen("tcp", listener.Host)
	if err != nil {
		t.Fatalf("the listener's port is still taken after stop: %v", err)
	}
	lis.Close()
	if v := local(auth.RoleViewer, "GET", "/gateways/public/local", ""); v.State != api.LocalStopped {
		t.Fatalf("status after stop: %+v", v)
	}
	if code, b := call(auth.RoleEditor, "POST", "/gateways/public/local/traffic", `{"requests": 1}`); code != http.StatusConflict {
		t.Fatalf("traffic after stop: %d %s", code, b)
	}
	audit, err := svc.Store().ListAudit(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		if strings.HasPrefix(a.Action, "local-gateway.") {
			actions = append(actions, a.Action+" "+a.Target)
		}
	}
	if strings.Join(actions, ",") != "local-gateway.stop gateway/public,local-gateway.start gateway/public" {
		t.Errorf("audit: %v", actions)
	}
}

// TestLocalGatewayInput: requests the local gateway endpoints refuse.
func TestLocalGatewayInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, call := apiService(t, ctx, auth.RoleEditor)
	tests := map[string]struct {
		method, path, body string
		status             int
		field              string
	}{
		"unknown gateway":           {"PUT", "/gateways/nope/local", "", 404, ""},
		"unknown gateway's status":  {"GET", "/gateways/nope/local", "", 404, ""},
		"start with a field":        {"PUT", "/gateways/public/local", `{"port": 1}`, 400, "port"},
		"status with a query":       {"GET", "/gateways/public/local?wait=1", "", 400, "wait"},
		"no requests":               {"POST", "/gateways/public/local/traffic", `{"requests": 0}`, 400, "requests"},
		"too many requests":         {"POST", "/gateways/public/local/traffic", `{"requests": 1001}`, 400, "requests"},
		"requests not a number":     {"POST", "/gateways/public/local/traffic", `{"requests": "5"}`, 400, "requests"},
		"unknown traffic field":     {"POST", "/gateways/public/local/traffic", `{"requests": 5, "rps": 3}`, 400, "rps"},
		"traffic with none running": {"POST", "/gateways/public/local/traffic", `{"requests": 5}`, 409, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, b := call(auth.RoleEditor, tc.method, tc.path, tc.body)
			if code != tc.status {
				t.Fatalf("%d %s, want %d", code, b, tc.status)
			}
			if tc.field != "" && !strings.Contains(b, `"field":"`+tc.field+`"`) {
				t.Errorf("problem does not name %q: %s", tc.field, b)
			}
		})
	}
}

// TestLocalGatewaysStopWithTheService: a running local gateway stops with
// the server, and one of a deleted gateway as the deletion is announced.
func TestLocalGatewaysStopWithTheService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc := New(Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), Notices: io.Discard})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			svc.Stop()
		}
	}()
	local := svc.local
	if _, err := local.Start(ctx, "test", "public"); err != nil {
		t.Fatal(err)
	}
	// A gateway of its own, deleted while its local gateway runs.
	edge := model.Workspace{Gateways: []model.Gateway{{Meta: model.Meta{Name: "edge"},
		Listeners: []model.Listener{{Name: "http", Port: 8081, Protocol: model.ProtocolHTTP}}}}}
	if _, err := svc.Store().Apply(ctx, "test", edge); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Start(ctx, "test", "edge"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Store().Delete(ctx, "test", model.KindGateway, "edge", 0); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for running := local.m.Gateways(); len(running) != 1 || running[0] != "public"; running = local.m.Gateways() {
		select {
		case <-ctx.Done():
			t.Fatalf("local gateways running after edge was deleted: %v", running)
		case <-tick.C:
		}
	}

	st, _ := local.m.Status("public")
	stopped = true
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", st.Admin)
	if err != nil {
		t.Fatalf("the local gateway's admin port is taken after the service stopped: %v", err)
	}
	lis.Close()
	if got := local.m.Gateways(); len(got) != 0 {
		t.Errorf("running after the service stopped: %v", got)
	}
}
