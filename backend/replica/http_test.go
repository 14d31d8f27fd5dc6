package replica

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/xds"
)

// networkIP returns an address of this machine that is not loopback, or
// nil when it has none.
func networkIP() net.IP {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	return nil
}

// TestStatusAccess serves the replica's HTTP API on every interface and
// reads it from loopback and from the machine's network address: health
// and readiness answer anyone and name nothing; the status, the proxies
// and the metrics answer loopback only without a token, and only the
// token (from anywhere) with one. A forwarding header does not make a
// client local.
func TestStatusAccess(t *testing.T) {
	client, err := consulapi.NewClient(&consulapi.Config{Address: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	// Not run: it has read nothing, so it is not ready.
	rep, err := New(Options{ID: "xds-secret-name", Consul: client, ConsulAddress: "consul.internal:8500", ADS: xds.New(xds.Options{Logger: quiet}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "replica_up 1") })
	const token = "status-token-5b8e1f0c"
	ip := networkIP()
	for _, tok := range []string{"", token} {
		lis, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &httptest.Server{Listener: lis, Config: &http.Server{Handler: rep.Handler(metrics, tok)}}
		srv.Start()
		defer srv.Close()
		port := lis.Addr().(*net.TCPAddr).Port
		// get reads path from loopback or from the network: over the
		// machine's own network address when it has one, else by handing
		// the handler a request from a documentation address.
		get := func(t *testing.T, from, path string, header ...string) (int, string) {
			t.Helper()
			host := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
			if from == "network" {
				if ip == nil {
					req := httptest.NewRequest("GET", path, nil)
					req.RemoteAddr = "192.0.2.77:40000"
					for i := 0; i+1 < len(header); i += 2 {
						req.Header.Set(header[i], header[i+1])
					}
					rec := httptest.NewRecorder()
					srv.Config.Handler.ServeHTTP(rec, req)
					return rec.Code, rec.Body.String()
				}
				host = net.JoinHostPort(ip.String(), fmt.Sprint(port))
			}
			req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+host+path, nil)
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		type call struct {
			from, path string
			header     []string
			want       int
		}
		calls := []call{
			{"network", "/api/v1/health", nil, 200},
			{"network", "/api/v1/ready", nil, 503},
			{"loopback", "/api/v1/ready", nil, 503},
		}
		operator := []string{"/api/v1/status", "/api/v1/gateways/public/proxies", "/metrics"}
		for _, p := range operator {
			if tok == "" {
				calls = append(calls, call{"loopback", p, nil, 200}, call{"network", p, nil, 403},
					call{"network", p, []string{"X-Forwarded-For", "127.0.0.1", "X-Real-IP", "127.0.0.1"}, 403},
					call{"network", p, []string{"Authorization", "Bearer " + token}, 403})
			} else {
				calls = append(calls, call{"network", p, []string{"Authorization", "Bearer " + token}, 200},
					call{"loopback", p, []string{"Authorization", "Bearer " + token}, 200},
					call{"network", p, nil, 401}, call{"loopback", p, nil, 401},
					call{"network", p, []string{"Authorization", "Bearer " + token + "x"}, 401},
					call{"network", p, []string{"Authorization", token}, 401})
			}
		}
		t.Run(fmt.Sprintf("token=%v", tok != ""), func(t *testing.T) {
			for _, c := range calls {
				code, body := get(t, c.from, c.path, c.header...)
				if code != c.want {
					t.Errorf("GET %s from %s with %q: %d %s, want %d", c.path, c.from, c.header, code, body, c.want)
				}
				// Only an operator's answer names the replica's Consul.
				if code != 200 || !strings.HasPrefix(c.path, "/api/v1/status") {
					if strings.Contains(body, "consul.internal") || strings.Contains(body, "xds-secret-name") {
						t.Errorf("GET %s from %s (%d) shows the replica's details: %s", c.path, c.from, code, body)
					}
				} else if !strings.Contains(body, "consul.internal") {
					t.Errorf("GET %s: %s", c.path, body)
				}
			}
		})
	}
}
