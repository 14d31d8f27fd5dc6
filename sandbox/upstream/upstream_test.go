package upstream

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func startT(t *testing.T, name string, o Options) *Server {
	t.Helper()
	s, err := Start(name, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestEcho(t *testing.T) {
	tests := map[string]struct {
		http2 bool
	}{
		"http1": {},
		"h2c":   {http2: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := startT(t, "web-v1", Options{HTTP2: tc.http2})
			tr := &http.Transport{Protocols: new(http.Protocols)}
			if tc.http2 {
				tr.Protocols.SetUnencryptedHTTP2(true)
			} else {
				tr.Protocols.SetHTTP1(true)
			}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("POST", "http://"+s.Addr()+"/v2/cart?x=1", strings.NewReader("hello"))
			req.Host = "shop.example.com"
			req.Header.Set("X-Canary", "1")
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if want := 2; tc.http2 && resp.ProtoMajor != want {
				t.Errorf("protocol %s, want HTTP/2", resp.Proto)
			}
			if got := resp.Header.Get(HeaderUpstream); got != "web-v1" {
				t.Errorf("%s = %q", HeaderUpstream, got)
			}
			var e Echo
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if e.Upstream != "web-v1" || e.Endpoint != s.Addr() || e.Received.Method != "POST" ||
				e.Received.Path != "/v2/cart?x=1" || e.Received.Body != "hello" ||
				e.Received.Headers["x-canary"][0] != "1" || e.Received.Headers["host"][0] != "shop.example.com" {
				t.Errorf("echo = %+v", e)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	tests := map[string]struct {
		profile   Profile
		status    int
		reset     bool
		minLatncy time.Duration
	}{
		"latency":   {profile: Profile{Latency: 50 * time.Millisecond, Jitter: 10 * time.Millisecond}, status: 200, minLatncy: 50 * time.Millisecond},
		"errors":    {profile: Profile{ErrorPercent: 100, ErrorStatus: 502}, status: 502},
		"default 5": {profile: Profile{ErrorPercent: 100}, status: 503},
		"resets":    {profile: Profile{ResetPercent: 100}, reset: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := startT(t, "api", Options{Profile: tc.profile})
			start := time.Now()
			resp, err := http.Get("http://" + s.Addr() + "/")
			if tc.reset {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %d, want a reset", resp.StatusCode)
				}
				if s.Stats().Resets != 1 {
					t.Errorf("stats %+v", s.Stats())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if d := time.Since(start); d < tc.minLatncy {
				t.Errorf("answered after %v, want at least %v", d, tc.minLatncy)
			}
		})
	}
}

func TestUpgradeTunnel(t *testing.T) {
	s := startT(t, "ws", Options{})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nping")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get(HeaderUpstream) != "ws" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	buf := make([]byte, 4)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("tunnel echoed %q, %v", buf, err)
	}
}

func TestPoolReuse(t *testing.T) {
	p := NewPool(nil)
	defer p.Close()
	a, err := p.Ensure("web", 2, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Ensure("web", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != a[0] {
		t.Error("endpoint 0 was restarted")
	}
	if _, err := http.Get("http://" + a[1].Addr()); err == nil {
		t.Error("endpoint 1 still serves after shrinking")
	}
	p.Retain(map[string]bool{})
	if len(p.Servers()) != 0 {
		t.Errorf("servers left: %d", len(p.Servers()))
	}
}
