package sim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// upgradeConn opens a connection to the listener "http" and sends an
// upgrade request for path.
func upgradeConn(t *testing.T, h *harness, path string, extra string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", h.dp.Status().Listeners["http"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n%s\r\n", path, extra)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, resp
}

// TestUpgrades covers Envoy's upgrade_configs: the route's override the
// connection manager's, a refusal is 403 before any filter, the upstream's
// answer is awaited only for the route timeout, and Close ends tunnels.
func TestUpgrades(t *testing.T) {
	h := newHarness(t)
	ws := mock(t, "ws", upstream.Profile{})
	// An upstream that accepts connections and never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	allowed := prefixRoute("rule/ws/0", "/ws", "ws")
	allowed.GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "WebSocket"}}
	off := prefixRoute("rule/off/0", "/off", "ws")
	off.GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket", Enabled: wrapperspb.Bool(false)}}
	slow := prefixRoute("rule/mute/0", "/mute", "mute")
	slow.GetRoute().Timeout = durationpb.New(200 * time.Millisecond)
	slow.GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket"}}
	h.set(t, "1", listener(t), routeConfig(allowed, off, slow, prefixRoute("rule/web/0", "/", "ws")),
		edsCluster("ws", clusterv3.Cluster_ROUND_ROBIN), edsCluster("mute", clusterv3.Cluster_ROUND_ROBIN),
		loadAssignment("ws", ws), loadAssignmentOf("mute", mute.Addr().String()))

	t.Run("websocket messages both ways", func(t *testing.T) {
		key := upstream.NewWebSocketKey()
		conn, br, resp := upgradeConn(t, h, "/ws/chat", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "+key+"\r\n")
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != upstream.WebSocketAccept(key) || resp.Header.Get("Server") != "envoy" {
			t.Fatalf("upgrade answered %d %v", resp.StatusCode, resp.Header)
		}
		for _, msg := range []string{"one", "two"} {
			if err := upstream.WriteFrame(conn, upstream.OpText, []byte(msg), true); err != nil {
				t.Fatal(err)
			}
			f, err := upstream.ReadFrame(br, false)
			if err != nil || string(f.Payload) != msg || f.Op != upstream.OpText {
				t.Fatalf("echo %+v, %v", f, err)
			}
		}
	})
	for _, path := range []string{"/off", "/"} {
		t.Run("refused on "+path, func(t *testing.T) {
			id, wait := h.dp.Capture()
			_, _, resp := upgradeConn(t, h, path, HeaderCapture+": "+id+"\r\n")
			body, _ := io.ReadAll(resp.Body)
			ex, err := wait(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 403 || len(body) != 0 || ex.LocalReply != "http_connection_manager" || len(ex.Attempts) != 0 {
				t.Errorf("status %d body %q exchange %+v", resp.StatusCode, body, ex)
			}
		})
	}
	t.Run("upstream answer bounded by the route timeout", func(t *testing.T) {
		start := time.Now()
		_, _, resp := upgradeConn(t, h, "/mute", "")
		if resp.StatusCode != 504 || time.Since(start) > 5*time.Second {
			t.Errorf("status %d after %v", resp.StatusCode, time.Since(start))
		}
	})
	t.Run("close ends tunnels", func(t *testing.T) {
		conn, br, resp := upgradeConn(t, h, "/ws/raw", "")
		if resp.StatusCode != 101 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		fmt.Fprint(conn, "abc")
		buf := make([]byte, 3)
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "abc" {
			t.Fatalf("raw echo %q %v", buf, err)
		}
		if err := h.dp.Close(); err != nil {
			t.Error(err)
		}
		if _, err := br.ReadByte(); err == nil {
			t.Error("the tunnel outlived the data plane")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Error("the tunnel was still open at the deadline")
		}
	})
}
