package api

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
)

type fixedInfo ServerInfo

func (f fixedInfo) ServerInfo(context.Context) (ServerInfo, error) { return ServerInfo(f), nil }

func TestServerInfo(t *testing.T) {
	info := ServerInfo{ADS: ADSInfo{Listen: "0.0.0.0:18443", Address: "ads.example.com:18443", ServerNames: []string{"ads.example.com"}, CA: "-----BEGIN CERTIFICATE-----\n"}}
	a := newTestAPI(t, func(d *Deps) { d.Info = fixedInfo(info) })
	got := a.do(t, "viewer", "GET", "/api/v1/server", nil).must(t, http.StatusOK).json(t)
	ads, _ := got["ads"].(map[string]any)
	if ads["address"] != "ads.example.com:18443" || ads["listen"] != "0.0.0.0:18443" || ads["plaintext"] != false || ads["ca"] != info.ADS.CA {
		t.Errorf("GET /server: %v", got)
	}
	fields := a.do(t, "viewer", "GET", "/api/v1/server?verbose=1", nil).must(t, http.StatusBadRequest).problemFields(t)
	if fields["verbose"] == "" {
		t.Errorf("unknown query parameter not named: %v", fields)
	}
	a.do(t, "", "GET", "/api/v1/server", nil).must(t, http.StatusUnauthorized)

	bare := newTestAPI(t)
	bare.do(t, "viewer", "GET", "/api/v1/server", nil).must(t, http.StatusNotImplemented)
}

func TestDialAddress(t *testing.T) {
	tests := map[string]struct {
		listen string
		names  []string
		want   string
	}{
		"loopback":              {"127.0.0.1:18000", nil, "127.0.0.1:18000"},
		"a host":                {"10.1.2.3:443", []string{"ads.example.com"}, "10.1.2.3:443"},
		"wildcard v4":           {"0.0.0.0:18000", nil, "127.0.0.1:18000"},
		"wildcard v6":           {"[::]:18000", nil, "127.0.0.1:18000"},
		"wildcard with a name":  {"0.0.0.0:18000", []string{"ads.example.com", "10.0.0.1"}, "ads.example.com:18000"},
		"wildcard with an ipv6": {"[::]:9", []string{"fd00::1"}, "[fd00::1]:9"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			addr, err := net.ResolveTCPAddr("tcp", tc.listen)
			if err != nil {
				t.Fatal(err)
			}
			if got := DialAddress(addr, tc.names); got != tc.want {
				t.Errorf("DialAddress(%s, %v) = %s, want %s", tc.listen, tc.names, got, tc.want)
			}
		})
	}
}

func TestBootstrapEndpoint(t *testing.T) {
	info := ServerInfo{ADS: ADSInfo{Address: "ads.example.com:18443", CA: "PEM"}}
	a := newTestAPI(t, func(d *Deps) { d.Info = fixedInfo(info) })
	a.seed(t)
	got := a.do(t, "viewer", "GET", "/api/v1/gateways/public/bootstrap?node=p1&certDir=/tls", nil).must(t, http.StatusOK).json(t)
	boot, _ := got["bootstrap"].(string)
	files, _ := got["files"].(map[string]any)
	if got["ads"] != "ads.example.com:18443" || got["node"] != "p1" || got["ca"] != "PEM" || got["plaintext"] != false ||
		!strings.Contains(boot, "ads.example.com") || !strings.Contains(boot, "cluster: public") || len(files) != 2 {
		t.Errorf("bootstrap: %v", got)
	}
	for _, f := range files {
		if !strings.Contains(f.(string), "/tls/") {
			t.Errorf("SDS file ignores certDir: %s", f)
		}
	}
	if strings.Contains(boot, "DELTA_GRPC") {
		t.Errorf("delta ADS from a server without VHDS:\n%s", boot)
	}
	// A server serving routes by VHDS renders delta ADS bootstraps.
	vhds := newTestAPI(t, func(d *Deps) {
		d.Info = fixedInfo(ServerInfo{ADS: ADSInfo{Address: "ads.example.com:18443", CA: "PEM", VHDS: true}})
	})
	vhds.seed(t)
	got = vhds.do(t, "viewer", "GET", "/api/v1/gateways/public/bootstrap", nil).must(t, http.StatusOK).json(t)
	if boot, _ := got["bootstrap"].(string); !strings.Contains(boot, "DELTA_GRPC") {
		t.Errorf("bootstrap of a VHDS server without delta ADS:\n%s", boot)
	}
	a.do(t, "viewer", "GET", "/api/v1/gateways/nope/bootstrap", nil).must(t, http.StatusNotFound)
	fields := a.do(t, "viewer", "GET", "/api/v1/gateways/public/bootstrap?adminPort=70000&certDir=rel&node=a%20b&ads=x&color=red", nil).
		must(t, http.StatusBadRequest).problemFields(t)
	if len(fields) != 1 || fields["color"] == "" {
		t.Errorf("unknown parameter: %v", fields)
	}
	fields = a.do(t, "viewer", "GET", "/api/v1/gateways/public/bootstrap?adminPort=70000&certDir=rel&node=a%20b", nil).
		must(t, http.StatusBadRequest).problemFields(t)
	for _, f := range []string{"adminPort", "certDir", "node"} {
		if fields[f] == "" {
			t.Errorf("no problem for %s: %v", f, fields)
		}
	}
	fields = a.do(t, "viewer", "GET", "/api/v1/gateways/public/bootstrap?ads=nohost", nil).must(t, http.StatusBadRequest).problemFields(t)
	if fields["ads"] == "" {
		t.Errorf("bad ads: %v", fields)
	}

	// A server that does not know its ADS address needs ?ads.
	bare := newTestAPI(t)
	bare.seed(t)
	if f := bare.do(t, "viewer", "GET", "/api/v1/gateways/public/bootstrap", nil).must(t, http.StatusBadRequest).problemFields(t); f["ads"] == "" {
		t.Errorf("no ads: %v", f)
	}
	bare.do(t, "viewer", "GET", "/api/v1/gateways/public/bootstrap?ads=10.0.0.1:18000", nil).must(t, http.StatusOK)
}

// TestStaticEndpointsHealthUnknown: nothing has checked a static
// endpoint, so it is routed to but its health is unknown, not healthy.
func TestStaticEndpointsHealthUnknown(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	items, _ := a.do(t, "viewer", "GET", "/api/v1/upstreams/web/endpoints", nil).must(t, http.StatusOK).json(t)["items"].([]any)
	if len(items) == 0 {
		t.Fatal("no endpoints")
	}
	for _, it := range items {
		e := it.(map[string]any)
		if e["health"] != "unknown" || e["healthy"] != true {
			t.Errorf("static endpoint %v", e)
		}
	}
}
