package apidoc

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/rules"
)

const shop = `
kind: Gateway
name: edge
listeners:
  - {name: http, port: 8080, protocol: HTTP}
---
kind: Upstream
name: users
static: {endpoints: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: get-user
gateway: edge
priority: 50
description: Read one user
when: host == "api.example.com" && path.template("/users/{id}") && method == "GET"
then:
  forward: [{upstream: users}]
  auth: {jwt: {issuer: "https://auth.example.com", jwksUri: "https://auth.example.com/jwks", jwksUpstream: users}}
---
kind: Route
name: search
gateway: edge
priority: 40
when: host == "api.example.com" && path == "/search" && method in ["GET", "POST"] && header["x-tenant"] == "shop" && query["q"].present()
then:
  forward: [{upstream: users}]
  auth: {apiKey: {header: X-Api-Key, keys: [k1]}}
---
kind: Route
name: health
gateway: edge
priority: 30
when: path == "/healthz"
then:
  respond: {status: 204}
---
kind: Route
name: old
gateway: edge
priority: 20
when: path.prefix("/old")
then:
  redirect: {path: "/new", status: 302}
---
kind: Route
name: odd
gateway: edge
priority: 10
when: path.regex("/v[0-9]+/x") || header["x-debug"].present()
then:
  forward: [{upstream: users}]
---
kind: Route
name: search-again
gateway: edge
priority: 5
when: path == "/search" && method == "GET"
then:
  forward: [{upstream: users}]
`

func build(t *testing.T) (map[string]any, []Issue, []byte) {
	t.Helper()
	f, err := manifest.Load("shop.yaml", []byte(shop))
	if err != nil {
		t.Fatal(err)
	}
	if err := rules.ResolveWorkspace(&f.Workspace); err != nil {
		t.Fatal(err)
	}
	d, issues, err := Document(f.Workspace, "edge", Options{Version: "3"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return d, issues, raw
}

// validate checks raw with libopenapi-validator against the OpenAPI 3.1
// schema and returns the validator.
func validate(t *testing.T, raw []byte) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("libopenapi: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("invalid OpenAPI: %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s %s", se.FieldPath, se.Reason)
			}
		}
		t.FailNow()
	}
	return v
}

func TestDocumentIsValidOpenAPI31(t *testing.T) {
	d, issues, raw := build(t)
	v := validate(t, raw)

	if d["openapi"] != "3.1.0" {
		t.Errorf("openapi %v", d["openapi"])
	}
	if srv := d["servers"].([]any); len(srv) != 1 || srv[0].(map[string]any)["url"] != "http://api.example.com:8080" {
		t.Errorf("servers %v", srv)
	}
	paths := d["paths"].(map[string]any)
	want := map[string][]string{"/users/{id}": {"get"}, "/search": {"get", "post"}, "/healthz": {"delete", "get", "head", "options", "patch", "post", "put"}, "/old": {"delete", "get", "head", "options", "patch", "post", "put"}}
	for p, ms := range want {
		item, _ := paths[p].(map[string]any)
		var got []string
		for m := range item {
			got = append(got, m)
		}
		slices.Sort(got)
		if !slices.Equal(got, ms) {
			t.Errorf("%s: methods %v, want %v", p, got, ms)
		}
	}
	if len(paths) != len(want) {
		t.Errorf("paths %v", paths)
	}
	schemes := d["components"].(map[string]any)["securitySchemes"].(map[string]any)
	if jwt := schemes["jwt-auth.example.com"].(map[string]any); jwt["scheme"] != "bearer" || jwt["bearerFormat"] != "JWT" {
		t.Errorf("jwt scheme %v", jwt)
	}
	if key := schemes["apiKey-x-api-key"].(map[string]any); key["in"] != "header" || key["name"] != "X-Api-Key" {
		t.Errorf("api key scheme %v", key)
	}
	var reasons []string
	for _, is := range issues {
		reasons = append(reasons, is.Rule+": "+is.Reason)
	}
	for _, w := range []string{"odd: its condition has alternatives", "old: matches every path under /old/", `search-again: GET /search is documented from rule "search"`} {
		if !slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, w) }) {
			t.Errorf("issues %q lack %q", reasons, w)
		}
	}

	// Requests the rules take validate against the document; one that
	// lacks what a rule requires does not.
	req := func(method, url string, header ...string) *http.Request {
		r, _ := http.NewRequest(method, url, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r
	}
	good := []*http.Request{
		req("GET", "http://api.example.com:8080/users/42", "Authorization", "Bearer abc"),
		req("POST", "http://api.example.com:8080/search?q=shoes", "X-Tenant", "shop", "X-Api-Key", "k1"),
	}
	for _, r := range good {
		if ok, errs := v.ValidateHttpRequest(r); !ok {
			t.Errorf("%s %s: %v", r.Method, r.URL, errs[0].Message)
		}
	}
	if ok, _ := v.ValidateHttpRequest(req("POST", "http://api.example.com:8080/search?q=shoes", "X-Tenant", "other", "X-Api-Key", "k1")); ok {
		t.Error("a request with the wrong x-tenant validates")
	}
}

// TestValidatorRejects keeps the validator honest: a document it should
// refuse is refused.
func TestValidatorRejects(t *testing.T) {
	_, _, raw := build(t)
	var d map[string]any
	_ = json.Unmarshal(raw, &d)
	d["paths"].(map[string]any)["/users/{id}"].(map[string]any)["get"].(map[string]any)["responses"] = "none"
	bad, _ := json.Marshal(d)
	doc, err := libopenapi.NewDocument(bad)
	if err != nil {
		return // refused already
	}
	v, _ := validator.NewValidator(doc)
	if ok, _ := v.ValidateDocument(); ok {
		t.Fatal("a document whose responses is a string validates")
	}
}

func TestUnknownGateway(t *testing.T) {
	f, _ := manifest.Load("shop.yaml", []byte(shop))
	if _, _, err := Document(f.Workspace, "nope", Options{}); err == nil {
		t.Fatal("no error for an unknown gateway")
	}
}
