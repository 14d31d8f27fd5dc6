package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// TestExportEnvoy exports the seeded gateway, with a TLS listener, from the
// draft and from a published version that differs from it (upstream web's
// port), and checks the type filter, the errors and that no private key
// leaves the server.
func TestExportEnvoy(t *testing.T) {
	a := newTestAPI(t)
	_, key := a.seedHTTPS(t)
	if _, err := a.store.Publish(context.Background(), "test", "public", "v1"); err != nil {
		t.Fatalf("publish: %v", err)
	}
	// The draft moves on: web answers on another port than in version 1.
	up := a.do(t, "viewer", "GET", "/api/v1/upstreams/web", nil).must(t, http.StatusOK)
	a.do(t, "editor", "PUT", "/api/v1/upstreams/web", map[string]any{
		"name": "web", "static": map[string]any{"endpoints": []any{map[string]any{"address": "127.0.0.1", "port": 9009}}},
	}, "If-Match", up.header.Get("ETag")).must(t, http.StatusOK)

	all := []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.SecretType}
	tests := map[string]struct {
		query     string
		role      string // viewer when empty
		gateway   string
		status    int
		wantTypes []string // the distinct types, in order
		want      []string // substrings of the body
		notWant   []string
	}{
		"draft": {
			status: http.StatusOK, wantTypes: all,
			want:    []string{`"port_value":9009`, `"private_key":{"inline_string":"` + a.fp.Fingerprint(key) + `"}`, `"name":"shop-tls"`},
			notWant: []string{`"port_value":9001`},
		},
		"published version": {
			query: "?version=1", status: http.StatusOK, wantTypes: all,
			want:    []string{`"port_value":9001`},
			notWant: []string{`"port_value":9009`},
		},
		"routes only": {
			query: "?type=routes", status: http.StatusOK, wantTypes: []string{resourcev3.RouteType},
			want: []string{`"virtual_hosts"`, `"prefix":"/api"`},
		},
		"secrets only": {
			query: "?type=secrets&version=1", status: http.StatusOK, wantTypes: []string{resourcev3.SecretType},
			want: []string{`"certificate_chain"`},
		},
		"with secrets, not admin": {
			query: "?secrets=true", role: "editor", status: http.StatusForbidden,
		},
		"with secrets, not a boolean": {
			query: "?secrets=yes", role: "admin", status: http.StatusBadRequest, want: []string{`"field":"secrets"`},
		},
		"unknown gateway": {gateway: "nope", status: http.StatusNotFound},
		"unknown version": {query: "?version=7", status: http.StatusNotFound},
		"bad type and version": {
			query: "?type=virtualhosts&version=latest", status: http.StatusBadRequest,
			want: []string{`"field":"type"`, `"field":"version"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			gateway := tc.gateway
			if gateway == "" {
				gateway = "public"
			}
			role := tc.role
			if role == "" {
				role = "viewer"
			}
			r := a.do(t, role, "GET", "/api/v1/gateways/"+gateway+"/export/envoy"+tc.query, nil).must(t, tc.status)
			var compact bytes.Buffer
			if err := json.Compact(&compact, r.body); err != nil {
				t.Fatalf("answer is not JSON: %v\n%s", err, r.body)
			}
			body := compact.String()
			// Whatever the answer, a private key never leaves the server.
			if strings.Contains(body, "PRIVATE KEY") || strings.Contains(body, strings.TrimSpace(key)[40:80]) {
				t.Fatalf("answer shows the private key: %s", body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("answer lacks %s:\n%s", w, body)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("answer has %s:\n%s", w, body)
				}
			}
			if tc.status != http.StatusOK {
				return
			}
			var got struct {
				Items []EnvoyResource `json:"items"`
			}
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, it := range got.Items {
				if it.Name == "" || !json.Valid(it.Resource) {
					t.Errorf("item %+v: no name or not JSON", it)
				}
				if len(types) == 0 || types[len(types)-1] != it.Type {
					types = append(types, it.Type)
				}
			}
			if !slices.Equal(types, tc.wantTypes) {
				t.Errorf("types %v, want %v (each once, in this order)", types, tc.wantTypes)
			}
		})
	}
}

// htmlEscaped is s as encoding/json writes it in a string: <, > and & escaped.
func htmlEscaped(s string) string {
	raw, _ := json.Marshal(s)
	return strings.Trim(string(raw), `"`)
}

// TestExportEnvoyWithSecrets: an admin may export the credentials as Envoy
// gets them, and that leaves an audit entry naming who and what.
func TestExportEnvoyWithSecrets(t *testing.T) {
	a := newTestAPI(t)
	_, key := a.seedHTTPS(t)
	r := a.do(t, "admin", "GET", "/api/v1/gateways/public/export/envoy?type=secrets&secrets=true", nil).must(t, http.StatusOK)
	if !strings.Contains(string(r.body), strings.Split(key, "\n")[1]) {
		t.Fatalf("export with secrets lacks the private key: %s", r.body)
	}
	var audit struct {
		Items []struct{ Actor, Action, Target, Detail string }
	}
	if err := json.Unmarshal(a.do(t, "admin", "GET", "/api/v1/audit", nil).must(t, http.StatusOK).body, &audit); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range audit.Items {
		if e.Action == "gateway.export.envoy.secrets" {
			found = true
			if e.Target != "public" || e.Actor != "token:admin-token" || !strings.Contains(e.Detail, "draft") {
				t.Errorf("audit entry = %+v", e)
			}
		}
	}
	if !found {
		t.Errorf("no audit entry for the export with secrets: %+v", audit)
	}
}
