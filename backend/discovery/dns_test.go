package discovery

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
)

func TestDNS(t *testing.T) {
	unreachable := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS server in this test")
	}}
	tests := map[string]struct {
		resolver  *net.Resolver
		host      string
		want      []Endpoint
		wantStale bool
	}{
		"IP literal": {
			host: "127.0.0.2",
			want: []Endpoint{{Address: "127.0.0.2", Port: 8080, Weight: 1, Healthy: true, Health: HealthUnknown, Source: SourceDNS}},
		},
		"server unreachable is stale": {resolver: unreachable, host: "web.routedeck.test", wantStale: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan Update, 1)
			go DNS{Resolver: tc.resolver}.Watch(ctx, model.Upstream{Meta: model.Meta{Name: "web"},
				DNS: &model.DNSSource{Host: tc.host, Port: 8080}}, func(u Update) {
				select {
				case got <- u:
				default:
				}
			})
			select {
			case u := <-got:
				if u.Stale != tc.wantStale {
					t.Fatalf("stale = %v (err %v), want %v", u.Stale, u.Err, tc.wantStale)
				}
				if diff := cmp.Diff(tc.want, u.Endpoints); diff != "" {
					t.Errorf("endpoints (-want +got):\n%s", diff)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no report")
			}
		})
	}
}

func TestRoutableLeavesDNSToEnvoy(t *testing.T) {
	m := NewManager(map[string]Source{SourceDNS: DNS{}}, nil, slog.New(slog.DiscardHandler))
	defer m.Close()
	m.Sync([]model.Upstream{{Meta: model.Meta{Name: "web"}, DNS: &model.DNSSource{Host: "127.0.0.3", Port: 80}}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, _ := m.Status("web"); st.Reported {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("DNS upstream never reported")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if eps, _ := m.Endpoints("web"); len(eps) != 1 || eps[0].Address != "127.0.0.3" {
		t.Fatalf("endpoints = %+v, want 127.0.0.3", eps)
	}
	if r := m.Routable(); len(r) != 0 {
		t.Fatalf("routable = %+v, want no DNS upstreams", r)
	}
}
