package upstream

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestWebSocketFrames(t *testing.T) {
	// RFC 6455 section 1.3's example key.
	if got := WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("accept %q", got)
	}
	for _, n := range []int{0, 5, 125, 126, 65535, 65536} {
		var buf bytes.Buffer
		payload := bytes.Repeat([]byte("x"), n)
		if err := WriteFrame(&buf, OpBinary, payload, true); err != nil {
			t.Fatal(err)
		}
		f, err := ReadFrame(&buf, true)
		if err != nil || f.Op != OpBinary || !bytes.Equal(f.Payload, payload) {
			t.Errorf("%d bytes: %v op %d len %d", n, err, f.Op, len(f.Payload))
		}
	}
	tests := map[string]struct {
		frame      []byte
		wantMasked bool
		want       string
	}{
		"unmasked from a client": {[]byte{0x81, 0x01, 'a'}, true, "masked false"},
		"masked from a server":   {[]byte{0x81, 0x81, 1, 2, 3, 4, 'a'}, false, "masked true"},
		"fragment":               {[]byte{0x01, 0x01, 'a'}, false, "fragmented"},
		"huge":                   {binary.BigEndian.AppendUint64([]byte{0x82, 127}, 1<<40), false, "more than"},
		"truncated":              {[]byte{0x81, 0x05, 'a'}, false, "EOF"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tc.frame), tc.wantMasked)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
