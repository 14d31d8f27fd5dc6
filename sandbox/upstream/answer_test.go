package upstream

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestChosenAnswer: request headers choose the mock's status, response
// headers and body; a malformed choice is refused with 400.
func TestChosenAnswer(t *testing.T) {
	s := startT(t, "web", Options{})
	tests := map[string]struct {
		headers    [][2]string
		status     int
		respHeader map[string][]string
		body       string // "" for the echo document
		atLeast    time.Duration
	}{
		"echo by default": {status: 200},
		"status and headers": {
			headers:    [][2]string{{HeaderRespondStatus, "418"}, {HeaderRespondHeader, "X-Team: shop"}, {HeaderRespondHeader, "x-team:  cart "}, {HeaderRespondHeader, "Cache-Control: no-store"}},
			status:     418,
			respHeader: map[string][]string{"X-Team": {"shop", "cart"}, "Cache-Control": {"no-store"}},
		},
		"body": {headers: [][2]string{{HeaderRespondBody, "plain text"}}, status: 200, body: "plain text"},
		"bad status": {headers: [][2]string{{HeaderRespondStatus, "99"}}, status: 400,
			body: "x-routedeck-respond-status: \"99\" is not a status code (100-599)\n"},
		"delay": {headers: [][2]string{{HeaderRespondDelay, "20ms"}, {HeaderRespondStatus, "201"}}, status: 201, atLeast: 20 * time.Millisecond},
		"bad delay": {headers: [][2]string{{HeaderRespondDelay, "2h"}}, status: 400,
			body: "x-routedeck-respond-delay: \"2h\" is not a duration from 0 to 1m0s\n"},
		"bad header": {headers: [][2]string{{HeaderRespondHeader, "no colon"}}, status: 400,
			body: "x-routedeck-respond-header: \"no colon\" is not \"name: value\"\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/x", nil)
			for _, h := range tc.headers {
				req.Header.Add(h[0], h[1])
			}
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if took := time.Since(start); took < tc.atLeast {
				t.Errorf("answered after %s, want at least %s", took, tc.atLeast)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			for k, want := range tc.respHeader {
				if got := resp.Header.Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if tc.body != "" {
				if string(body) != tc.body {
					t.Errorf("body %q, want %q", body, tc.body)
				}
				return
			}
			var e Echo
			if err := json.Unmarshal(body, &e); err != nil || e.Upstream != "web" {
				t.Errorf("not the echo: %q (%v)", body, err)
			}
		})
	}
}
