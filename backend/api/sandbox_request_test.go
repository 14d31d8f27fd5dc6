package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/sandbox/session"
)

// TestSandboxRequestBadHeaders: a test request a gateway would refuse is a
// 400 naming the field, from the real sandbox service, before it starts
// anything (this sandbox has no ADS server to start with).
func TestSandboxRequestBadHeaders(t *testing.T) {
	a := newTestAPI(t, func(d *Deps) {
		sb := session.New(session.Options{Store: d.Store, Logger: d.Logger})
		t.Cleanup(func() { _ = sb.Close() })
		d.Sandbox = sb
	})
	a.seed(t)
	tests := map[string]struct {
		headers map[string]any
		field   string
		says    string
	}{
		"CR LF in a value":    {map[string]any{"accept": "*/*", "x-a": "1\r\nx-injected: yes"}, "request.headers[1].value", "control character 0x0D"},
		"space in a name":     {map[string]any{"accept": "*/*", "b": "1", "x y": "1"}, "request.headers[2].name", "space at byte 1"},
		"3 MB value":          {map[string]any{"x-big": strings.Repeat("v", 3<<20)}, "request.headers[0].value", "3145728 bytes"},
		"NUL in a list":       {map[string]any{"cookie": []string{"a=1", "b=\x00"}}, "request.headers[0].value[1]", "control character 0x00"},
		"100 KB name":         {map[string]any{strings.Repeat("n", 100<<10): "1"}, "request.headers[0].name", "102400 bytes"},
		"not a pseudo-header": {map[string]any{":path": "/admin"}, "request.headers[0].name", ":authority"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, "viewer", "POST", "/api/v1/sandbox/requests", map[string]any{
				"gateway": "public", "request": map[string]any{"url": "http://shop.example.com/", "headers": tc.headers},
			}).must(t, http.StatusBadRequest)
			fields := r.problemFields(t)
			if len(fields) != 1 || !strings.Contains(fields[tc.field], tc.says) {
				t.Fatalf("problems %v, want one at %s saying %q", fields, tc.field, tc.says)
			}
			if len(r.body) > 2000 {
				t.Errorf("a %d-byte problem document", len(r.body))
			}
		})
	}
}
