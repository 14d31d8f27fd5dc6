package upstream

// The little of RFC 6455 the sandbox needs: the opening handshake's
// accept key and the framing of single-frame messages, for the mock
// upstreams' echo and the sandbox's test client. Fragmented messages and
// extensions are refused rather than half understood.

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WebSocket opcodes.
const (
	OpText   = 0x1
	OpBinary = 0x2
	OpClose  = 0x8
	OpPing   = 0x9
	OpPong   = 0xA
)

// MaxFrame bounds the payload of a frame the sandbox reads.
const MaxFrame = 1 << 20

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// WebSocketAccept is the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key.
func WebSocketAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID)) //nolint:gosec // fixed by RFC 6455
	return base64.StdEncoding.EncodeToString(h[:])
}

// NewWebSocketKey is a random Sec-WebSocket-Key.
func NewWebSocketKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// Frame is one WebSocket frame.
type Frame struct {
	Op      byte
	Payload []byte
}

// WriteFrame writes a final frame; a client masks it (RFC 6455 5.3), a
// server must not.
func WriteFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	hdr := []byte{0x80 | op, 0}
	switch n := len(payload); {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xFFFF:
		hdr[1] = 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := payload
	if mask {
		hdr[1] |= 0x80
		var key [4]byte
		_, _ = rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		body = make([]byte, len(payload))
		for i, c := range payload {
			body[i] = c ^ key[i%4]
		}
	}
	if _, err := w.Write(append(hdr, body...)); err != nil {
		return err
	}
	return nil
}

// ReadFrame reads one frame, unmasking it, of at most MaxFrame bytes.
// wantMasked says whether the peer must mask (a server reading a client).
func ReadFrame(r io.Reader, wantMasked bool) (Frame, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, err
	}
	if hdr[0]&0x80 == 0 || hdr[0]&0x70 != 0 {
		return Frame{}, errors.New("websocket: fragmented frames and extensions are not supported")
	}
	masked := hdr[1]&0x80 != 0
	if masked != wantMasked {
		return Frame{}, fmt.Errorf("websocket: frame masked %v, want %v", masked, wantMasked)
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Frame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > MaxFrame {
		return Frame{}, fmt.Errorf("websocket: frame of %d bytes, more than %d", n, MaxFrame)
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return Frame{}, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return Frame{}, err
	}
	if masked {
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return Frame{Op: hdr[0] & 0x0F, Payload: p}, nil
}
