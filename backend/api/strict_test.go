package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestStrictBodies posts bodies the strict decoder, the limits or the
// publish-time checks refuse, and checks the status, that the problem names
// the field, and that nothing was stored.
func TestStrictBodies(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	routeWith := func(name, when, then string) string {
		return fmt.Sprintf(`{"name":%q,"gateway":"public","when":%s,"then":%s}`, name, when, then)
	}
	fwd := `{"forward":[{"upstream":"web"}]}`
	chain := func(levels int) string {
		return strings.Repeat(`{"not":`, levels-1) + `{"field":"path","op":"prefix","value":"/admin"}` + strings.Repeat(`}`, levels-1)
	}
	values := func(n int) string {
		return `{"field":"method","op":"in","values":[` + strings.TrimSuffix(strings.Repeat(`"GET",`, n), ",") + `]}`
	}
	distinct := func(n int) string {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = fmt.Sprintf(`"value-%03d-abcdefgh"`, i)
		}
		return strings.Join(vals, ",")
	}
	tests := map[string]struct {
		path, body string
		status     int
		field      string // the problem must name it
		stored     string // the object that must not exist afterwards
	}{
		"unknown key in a condition": {"/api/v1/routes",
			routeWith("deny", `{"nott":{"field":"path","op":"prefix","value":"/admin"}}`, `{"respond":{"status":403}}`),
			400, "when.nott", "/api/v1/routes/deny"},
		"wrong case": {"/api/v1/routes",
			routeWith("r1", `{"all":[{"field":"host","op":"present"},{"Field":"path","op":"present"}]}`, fwd),
			400, "when.all[1].Field", "/api/v1/routes/r1"},
		"duplicate key": {"/api/v1/routes",
			`{"name":"r2","gateway":"public","then":{"forward":[{"upstream":"web"}]},"then":{"respond":{"status":200}}}`,
			400, "then", "/api/v1/routes/r2"},
		"depth 201": {"/api/v1/routes", routeWith("r3", chain(202), fwd),
			400, "when" + strings.Repeat(".not", 201), "/api/v1/routes/r3"},
		"10,000-level chain": {"/api/v1/routes", routeWith("r4", chain(10_000), fwd),
			400, "when" + strings.Repeat(".not", 201), "/api/v1/routes/r4"},
		"in list too long": {"/api/v1/routes", routeWith("r5", values(100_001), fwd),
			400, "when.values", "/api/v1/routes/r5"},
		"huge regex": {"/api/v1/routes",
			routeWith("r6", `{"field":"path","op":"regex","value":"/`+strings.Repeat("a", 200_000)+`"}`, fwd),
			400, "when.value", "/api/v1/routes/r6"},
		"regex program too large": {"/api/v1/routes",
			routeWith("r7", `{"field":"path","op":"regex","value":"/(a{100}){10}"}`, fwd),
			400, "when.value", "/api/v1/routes/r7"},
		"duplicate regex group names": {"/api/v1/routes",
			routeWith("r8", `{"field":"path","op":"regex","value":"/(?P<id>a)/(?P<id>b)"}`, fwd),
			400, "when.value", "/api/v1/routes/r8"},
		"generated regex too large": {"/api/v1/routes",
			routeWith("r9", `{"field":"header[x-a]","op":"in","ignoreCase":true,"values":[`+distinct(60)+`]}`, fwd),
			400, "when", "/api/v1/routes/r9"},
		"backend weight 2^32": {"/api/v1/routes",
			routeWith("r10", `""`, `{"forward":[{"upstream":"web","weight":4294967296},{"upstream":"api","weight":1}]}`),
			400, "then.forward[0].weight", "/api/v1/routes/r10"},
		"header name 100 KB": {"/api/v1/routes",
			routeWith("r11", `""`, `{"forward":[{"upstream":"web"}],"headers":{"request":{"set":{"`+strings.Repeat("x", 100_000)+`":"1"}}}}`),
			400, "then.headers.request.set[" + strings.Repeat("x", 64) + "...]", "/api/v1/routes/r11"},
		"number overflow": {"/api/v1/routes",
			`{"name":"r12","gateway":"public","priority":1e30,"then":{"forward":[{"upstream":"web"}]}}`,
			400, "priority", "/api/v1/routes/r12"},
		"too many alternatives": {"/api/v1/routes",
			routeWith("r13", `{"any":[`+strings.TrimSuffix(strings.Repeat(`{"field":"header[x-a]","op":"present"},`, 65), ",")+`]}`, fwd),
			400, "when", "/api/v1/routes/r13"},
		"description lines": {"/api/v1/routes",
			`{"name":"r14","gateway":"public","description":"` + strings.Repeat(`l\n`, 6000) + `","then":{"forward":[{"upstream":"web"}]}}`,
			400, "description", "/api/v1/routes/r14"},
		"endpoint weight 2^32": {"/api/v1/upstreams",
			`{"name":"u1","static":{"endpoints":[{"address":"127.0.0.1","port":80,"weight":4294967296}]}}`,
			400, "static.endpoints[0].weight", "/api/v1/upstreams/u1"},
		"endpoint weights overflow together": {"/api/v1/upstreams",
			`{"name":"u2","static":{"endpoints":[{"address":"127.0.0.1","port":80,"weight":4294967295},{"address":"127.0.0.2","port":80,"weight":1}]}}`,
			400, "static.endpoints", "/api/v1/upstreams/u2"},
		"circuit breaker wraps": {"/api/v1/upstreams",
			`{"name":"u3","static":{"endpoints":[{"address":"127.0.0.1","port":80}]},"circuitBreaker":{"maxConnections":4294967296}}`,
			400, "circuitBreaker.maxConnections", "/api/v1/upstreams/u3"},
		"name too long": {"/api/v1/upstreams",
			`{"name":"` + strings.Repeat("a", 64) + `","static":{"endpoints":[{"address":"127.0.0.1","port":80}]}}`,
			400, "name", ""},
		"in apply": {"/api/v1/apply",
			`{"routes":[{"name":"r15","gateway":"public","when":{"all":[{"field":"host","op":"present","negate":true}]},"then":{"forward":[{"upstream":"web"}]}}]}`,
			400, "routes[0].when.all[0].negate", "/api/v1/routes/r15"},
		"deep chain in apply": {"/api/v1/apply", `{"routes":[` + routeWith("r17", chain(10_000), fwd) + `]}`,
			400, "routes[0].when" + strings.Repeat(".not", 201), "/api/v1/routes/r17"},
		"evaluate": {"/api/v1/evaluate", `{"gateway":"public","request":{"url":"/","Method":"GET"}}`,
			400, "request.Method", ""},
		"evaluate unknown": {"/api/v1/evaluate", `{"gateway":"public","request":{"url":"/"},"trace":true}`,
			400, "trace", ""},
		"rollback": {"/api/v1/gateways/public/rollback", `{"Version":1}`, 400, "Version", ""},
		"tests": {"/api/v1/tests", `{"name":"t","gateway":"public","request":{"url":"/"},"expect":{"status":200},"extra":1}`,
			400, "extra", "/api/v1/tests/t"},
		"body too large": {"/api/v1/routes",
			`{"name":"r16","gateway":"public","description":"` + strings.Repeat("x", 5<<20) + `"}`,
			413, "", "/api/v1/routes/r16"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, "admin", "POST", tc.path, tc.body).must(t, tc.status)
			if tc.field != "" {
				if _, ok := r.problemFields(t)[tc.field]; !ok {
					t.Errorf("problem does not name %q: %.2000s", tc.field, r.body)
				}
			}
			if tc.stored != "" {
				a.do(t, "viewer", "GET", tc.stored, nil).must(t, http.StatusNotFound)
			}
		})
	}
}

// TestWriteWarnings checks the shape of the draft warnings: a list beside
// the object in create and update answers, absent from reads, and ignored
// when a client sends the answer back.
func TestWriteWarnings(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	body := map[string]any{"name": "w", "gateway": "public", "when": `path.prefix("/w")`,
		"then": map[string]any{"forward": []any{map[string]any{"upstream": "web"}}}}
	created := a.do(t, "editor", "POST", "/api/v1/routes", body).must(t, http.StatusCreated).json(t)
	if w, ok := created["warnings"].([]any); !ok || len(w) != 0 {
		t.Fatalf("create answer: warnings %v, want []", created["warnings"])
	}
	read := a.do(t, "viewer", "GET", "/api/v1/routes/w", nil).must(t, http.StatusOK).json(t)
	if _, ok := read["warnings"]; ok {
		t.Errorf("a read shows warnings")
	}
	updated := a.do(t, "editor", "PUT", "/api/v1/routes/w", created).must(t, http.StatusOK).json(t)
	if _, ok := updated["warnings"].([]any); !ok {
		t.Errorf("update answer: warnings %v", updated["warnings"])
	}
}

// TestOpenAPIDocumentsWarnings keeps the document in step with the write
// answers: every object schema has the warnings list.
func TestOpenAPIDocumentsWarnings(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"Route", "Gateway", "Upstream", "Secret"} {
		if ref := doc.Components.Schemas[kind].Properties["warnings"]["$ref"]; ref != "#/components/schemas/Warnings" {
			t.Errorf("%s: warnings is %v", kind, ref)
		}
	}
}
