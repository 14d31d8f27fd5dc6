// Package sim is routedeck's simulated Envoy. Its router half reproduces
// Envoy's HTTP routing (virtual host selection, route matching, rewrites,
// redirects, direct responses and header mutations) from a real Envoy v3
// RouteConfiguration, so the sandbox judges what the translator really emits.
//
// The shape follows grpc-go's xDS matcher: a Router is compiled once per
// configuration snapshot and then answers many requests without
// recompiling. Match is the allocation-free selection path; Route adds the
// request finalization (rewrites, header mutations) and a debugger trace.
package sim

import (
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
)

// Header is one request or response header. Names are lower-case, as Envoy
// stores them; pseudo-headers (:authority, :path, :method, :scheme) are
// ordinary entries.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Headers is an ordered header list that may repeat names.
type Headers []Header

// Get returns the first value of name (lower-case) and whether it exists.
func (h Headers) Get(name string) (string, bool) {
	for i := range h {
		if h[i].Name == name {
			return h[i].Value, true
		}
	}
	return "", false
}

// Values returns every value of name in order.
func (h Headers) Values(name string) []string {
	var out []string
	for i := range h {
		if h[i].Name == name {
			out = append(out, h[i].Value)
		}
	}
	return out
}

// joined returns the values of name joined the way Envoy's header matchers
// see repeated headers: with ",", except Cookie headers, which Envoy
// coalesces with "; ". It only allocates when the header repeats.
func (h Headers) joined(name string) (string, bool) {
	first := -1
	for i := range h {
		if h[i].Name != name {
			continue
		}
		if first >= 0 {
			sep := ","
			if name == "cookie" {
				sep = "; "
			}
			var b strings.Builder
			b.WriteString(h[first].Value)
			for j := i; j < len(h); j++ {
				if h[j].Name == name {
					b.WriteString(sep)
					b.WriteString(h[j].Value)
				}
			}
			return b.String(), true
		}
		first = i
	}
	if first < 0 {
		return "", false
	}
	return h[first].Value, true
}

// Set replaces every value of name with one value (appended when absent).
func (h *Headers) Set(name, value string) {
	out := (*h)[:0]
	done := false
	for _, e := range *h {
		if e.Name == name {
			if done {
				continue
			}
			e.Value = value
			done = true
		}
		out = append(out, e)
	}
	if !done {
		out = append(out, Header{Name: name, Value: value})
	}
	*h = out
}

// Add appends one value.
func (h *Headers) Add(name, value string) { *h = append(*h, Header{Name: name, Value: value}) }

// Del removes every value of name.
func (h *Headers) Del(name string) {
	out := (*h)[:0]
	for _, e := range *h {
		if e.Name != name {
			out = append(out, e)
		}
	}
	*h = out
}

// Clone returns a copy that can be changed independently.
func (h Headers) Clone() Headers { return append(Headers(nil), h...) }

// Request is what the router sees of a downstream request.
type Request struct {
	// Headers holds the pseudo-headers and the ordinary headers, names in
	// lower case.
	Headers Headers
	// RemoteAddress is the downstream peer, "ip:port" or "ip"; header
	// formatters such as %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% read it.
	RemoteAddress string
	// LocalAddress is the listener address the request arrived on.
	LocalAddress string
	// TLS reports whether the downstream connection presented TLS, and
	// TLSValidated whether a client certificate was validated; the
	// route tls_context matcher reads them.
	TLS, TLSValidated bool
	// Metadata is the stream's dynamic metadata by filter namespace,
	// read by the route dynamic_metadata matcher.
	Metadata map[string]*structpb.Struct
}

// NewRequest builds a request from the pseudo-header values and extra
// headers given as name, value pairs (names are lower-cased).
func NewRequest(method, authority, path string, kv ...string) *Request {
	r := &Request{Headers: Headers{{":authority", authority}, {":path", path}, {":method", method}}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Headers.Add(strings.ToLower(kv[i]), kv[i+1])
	}
	return r
}

// pathOnly strips the query and fragment from a :path value.
func pathOnly(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '?' || p[i] == '#' {
			return p[:i]
		}
	}
	return p
}
