package session

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// maxBody bounds the response body a test request reads.
const maxBody = 1 << 20

// answer is what came back to a test request.
type answer struct {
	status int
	header http.Header
	body   []byte
	tls    *tls.ConnectionState
	ws     *WebSocketResult
}

// WebSocketResult is the message exchange of a test request that upgraded
// to a WebSocket: one message sent through the gateway and what came back
// (the mock upstreams echo every message).
type WebSocketResult struct {
	// Accepted is set when the 101's Sec-WebSocket-Accept answers the key
	// sent, as a WebSocket client checks.
	Accepted bool `json:"accepted"`
	// Sent is the message sent: the request's body, or a fixed greeting.
	Sent string `json:"sent"`
	// Received is the first message that came back; Echoed is set when
	// it is the one sent.
	Received    string  `json:"received"`
	Echoed      bool    `json:"echoed"`
	RoundTripMs float64 `json:"roundTripMs"`
	// Error says why the exchange stopped short.
	Error string `json:"error,omitempty"`
}

// defaultWebSocketMessage is sent when the request has no body.
const defaultWebSocketMessage = "hello from the routedeck sandbox"

// roundTrip sends an ordinary test request; ctx (in hreq) bounds it all.
func roundTrip(client *http.Client, hreq *http.Request) (answer, error) {
	resp, err := client.Do(hreq)
	if err != nil {
		return answer{}, fmt.Errorf("send test request: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return answer{}, fmt.Errorf("read test response: %w", err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: rb, tls: resp.TLS}, nil
}

// upgradeTrip sends a test request that asks to upgrade the connection
// (Upgrade: websocket, say) over a connection of its own, as HTTP/1.1
// (an upgrade does not exist in HTTP/2), with a WebSocket handshake for a
// WebSocket. Once the data plane answers 101 it sends one message, reads
// the echo and closes the connection. Everything runs under ctx's
// deadline, and ends when ctx does: a tunnel that never answers is cut
// off, never waited for.
func upgradeTrip(ctx context.Context, addr string, useTLS bool, hreq *http.Request) (answer, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return answer{}, fmt.Errorf("send test request: %w", err)
	}
	conn := raw
	defer func() { _ = conn.Close() }()
	// The connection's deadline passes when ctx ends (its deadline, or
	// the service closing), never before: an i/o timeout then means ctx.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Now()) })
	defer stop()
	var cs *tls.ConnectionState
	if useTLS {
		// Not verified, as for every test request (see send); HTTP/1.1
		// only, since the upgrade is an HTTP/1.1 mechanism.
		tc := tls.Client(raw, &tls.Config{ServerName: hostOnly(hreq.Host), NextProtos: []string{"http/1.1"}, InsecureSkipVerify: true}) //nolint:gosec // see send
		if err := tc.HandshakeContext(ctx); err != nil {
			return answer{}, fmt.Errorf("send test request: TLS handshake: %w", err)
		}
		st := tc.ConnectionState()
		cs, conn = &st, tc
	}
	websocket := strings.EqualFold(hreq.Header.Get("Upgrade"), "websocket")
	hreq.Header.Set("Connection", "Upgrade")
	key := ""
	if websocket {
		key = upstream.NewWebSocketKey()
		hreq.Header.Set("Sec-WebSocket-Key", key)
		if hreq.Header.Get("Sec-WebSocket-Version") == "" {
			hreq.Header.Set("Sec-WebSocket-Version", "13")
		}
	}
	message := defaultWebSocketMessage
	if hreq.Body != nil && hreq.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(hreq.Body, upstream.MaxFrame))
		if err != nil {
			return answer{}, err
		}
		if len(b) > 0 {
			// The body is the message, not part of the handshake.
			message = string(b)
		}
	}
	hreq.Body, hreq.ContentLength = http.NoBody, 0
	if err := hreq.Write(conn); err != nil {
		return answer{}, fmt.Errorf("send test request: %w", timeoutCause(ctx, err))
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, hreq)
	if err != nil {
		return answer{}, fmt.Errorf("read test response: %w", timeoutCause(ctx, err))
	}
	ans := answer{status: resp.StatusCode, header: resp.Header, tls: cs}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		if ans.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody)); err != nil {
			return answer{}, fmt.Errorf("read test response: %w", timeoutCause(ctx, err))
		}
		return ans, nil
	}
	if !websocket {
		// Another protocol: the 101 is the answer; nothing is spoken.
		return ans, nil
	}
	ws := &WebSocketResult{Accepted: resp.Header.Get("Sec-WebSocket-Accept") == upstream.WebSocketAccept(key), Sent: message}
	ans.ws = ws
	start := time.Now()
	if err := upstream.WriteFrame(conn, upstream.OpText, []byte(message), true); err != nil {
		ws.Error = "send: " + timeoutCause(ctx, err).Error()
		return ans, nil
	}
	for {
		f, err := upstream.ReadFrame(br, false)
		if err != nil {
			ws.Error = "receive: " + timeoutCause(ctx, err).Error()
			return ans, nil
		}
		if f.Op == upstream.OpText || f.Op == upstream.OpBinary {
			ws.RoundTripMs = float64(time.Since(start).Microseconds()) / 1000
			ws.Received, ws.Echoed = string(f.Payload), bytes.Equal(f.Payload, []byte(message))
			break
		}
		if f.Op == upstream.OpClose {
			ws.Error = "the connection was closed before an answer"
			return ans, nil
		}
	}
	// A clean close: 1000, normal closure; the answer is not awaited.
	_ = upstream.WriteFrame(conn, upstream.OpClose, []byte{0x03, 0xE8}, true)
	return ans, nil
}

// timeoutCause reports a connection deadline that ctx set as ctx's end.
func timeoutCause(ctx context.Context, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}
