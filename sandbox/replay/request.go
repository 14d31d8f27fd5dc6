package replay

import (
	"net/http"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// Request is one request to replay, as every source yields it.
type Request struct {
	Method string
	// Scheme is http or https.
	Scheme string
	// Authority is the Host the client sent, port included when it sent
	// one; "" when the source does not know it.
	Authority string
	// Target is the request target: path and query.
	Target string
	// Headers are the other request headers the source knows, names in
	// lower case, without Host and pseudo-headers.
	Headers []Header
	// Origin says where in the source the request came from ("line 12").
	Origin string
}

// Header is one request header.
type Header struct{ Name, Value string }

// hopHeaders are connection-level headers a proxy does not route on or
// forward (and that Envoy's codec drops).
var hopHeaders = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true,
	"upgrade": true, "te": true, "trailer": true, "content-length": true,
}

// addHeader adds a header the client sent, keeping out what a source
// may carry that is not a routable header: pseudo-headers (the request
// line holds them), Host (Authority holds it) and hop-by-hop headers.
func (q *Request) addHeader(name, value string) {
	name = strings.ToLower(name)
	if name == "" || name[0] == ':' || name == "host" || hopHeaders[name] {
		return
	}
	q.Headers = append(q.Headers, Header{name, value})
}

// url is the request as an absolute URL.
func (q *Request) url() string { return q.Scheme + "://" + q.Authority + q.Target }

// evaluatorRequest is the request as the reference evaluator reads it.
func (q *Request) evaluatorRequest() rules.Request {
	h := make(http.Header, len(q.Headers)+1)
	for _, e := range q.Headers {
		h[e.Name] = append(h[e.Name], e.Value)
	}
	if q.Authority != "" {
		h["host"] = []string{q.Authority}
	}
	return rules.Request{Method: q.Method, URL: q.Scheme + "://" + q.Authority + q.Target, Headers: h, Scheme: q.Scheme}
}

// simRequest is the request as the simulated Envoy's connection manager
// hands it to the router: pseudo-headers first, then the client's
// headers, and x-forwarded-proto set from the connection as Envoy does at
// the edge.
func (q *Request) simRequest() *sim.Request {
	r := &sim.Request{Headers: make(sim.Headers, 0, len(q.Headers)+5), TLS: q.Scheme == "https"}
	r.Headers = append(r.Headers, sim.Header{Name: ":authority", Value: q.Authority}, sim.Header{Name: ":path", Value: q.Target},
		sim.Header{Name: ":method", Value: q.Method}, sim.Header{Name: ":scheme", Value: q.Scheme})
	for _, e := range q.Headers {
		if e.Name == "x-forwarded-proto" {
			continue
		}
		r.Headers = append(r.Headers, sim.Header{Name: e.Name, Value: e.Value})
	}
	r.Headers = append(r.Headers, sim.Header{Name: "x-forwarded-proto", Value: q.Scheme})
	return r
}

// info is the request as reports show it, credentials redacted.
func (q *Request) info(secret func(name string) bool) replay.RequestInfo {
	ri := replay.RequestInfo{Method: q.Method, URL: q.url(), Origin: q.Origin}
	if len(q.Headers) > 0 {
		ri.Headers = make(map[string]string, len(q.Headers))
		for _, e := range q.Headers {
			v := e.Value
			if secret(e.Name) {
				v = redacted
			}
			if old, ok := ri.Headers[e.Name]; ok {
				v = old + "," + v
			}
			ri.Headers[e.Name] = v
		}
	}
	return ri
}

const redacted = "(redacted)"

// credentialHeaders returns whether a header carries credentials on a
// gateway: by convention (model.IsCredentialHeader) or because one of
// its rules takes API keys from it.
func credentialHeaders(versions ...model.Workspace) func(string) bool {
	extra := map[string]bool{}
	for _, ws := range versions {
		for _, r := range ws.Routes {
			if a := r.Then.Auth; a != nil && a.APIKey != nil && a.APIKey.Header != "" {
				extra[strings.ToLower(a.APIKey.Header)] = true
			}
		}
	}
	return func(name string) bool { return model.IsCredentialHeader(name) || extra[name] }
}

// headerMap joins a header list by name, names in lower case, the way
// reports show headers.
func headerMap(hs []Header) map[string]string {
	m := make(map[string]string, len(hs))
	for _, e := range hs {
		if old, ok := m[e.Name]; ok {
			m[e.Name] = old + "," + e.Value
		} else {
			m[e.Name] = e.Value
		}
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
