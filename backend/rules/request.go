package rules

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Request is a test request for the evaluator. URL is either absolute
// ("http://shop.example.com:8080/v1/cart?x=1") or a request target ("/v1/cart?x=1").
// A Host (or :authority) header overrides the URL's host, like curl -H.
// Scheme overrides the URL's scheme; the default is http. Random drives
// weighted upstream selection the way Envoy's per-stream random value does.
type Request struct {
	Method  string      `json:"method,omitempty"`
	URL     string      `json:"url"`
	Headers http.Header `json:"headers,omitempty"`
	Body    string      `json:"body,omitempty"`
	Scheme  string      `json:"scheme,omitempty"`
	Random  uint64      `json:"random,omitempty"`
}

// UnmarshalJSON accepts header values as a string or a list of strings, so
// API clients can send {"x-canary": "1"} or {"cookie": ["a=1", "b=2"]}.
func (r *Request) UnmarshalJSON(b []byte) error {
	type plain Request
	var raw struct {
		plain
		Headers map[string]json.RawMessage `json:"headers,omitempty"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = Request(raw.plain)
	r.Headers = nil
	if len(raw.Headers) > 0 {
		r.Headers = http.Header{}
		names := make([]string, 0, len(raw.Headers))
		for name := range raw.Headers {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			v := raw.Headers[name]
			var one string
			if err := json.Unmarshal(v, &one); err == nil {
				r.Headers[name] = append(r.Headers[name], one)
				continue
			}
			var many []string
			if err := json.Unmarshal(v, &many); err != nil {
				return fmt.Errorf("header %q: want a string or a list of strings", name)
			}
			r.Headers[name] = append(r.Headers[name], many...)
		}
	}
	return nil
}

// view is a request as Envoy's router sees it after the connection manager
// has prepared it: port stripped from Host, fragment dropped from :path,
// header names lower-cased and repeated headers joined with ",".
type view struct {
	method    string
	scheme    string
	host      string // Host without port, as sent
	hostLower string // host, lower-cased for matching
	fullPath  string // :path with query, without fragment
	path      string // :path without query
	query     string // after '?', without it
	hasQuery  bool
	headers   map[string][]string // lower-case name -> values

	queryParams map[string]string   // first value per key, parsed lazily
	cookies     map[string][]string // parsed lazily

	grpc                    bool
	grpcService, grpcMethod string
	grpcPathOK              bool
}

func newView(req Request) *view {
	v := &view{method: req.Method, headers: map[string][]string{}}
	if v.method == "" {
		v.method = "GET"
	}
	for name, vals := range req.Headers {
		lname := strings.ToLower(name)
		v.headers[lname] = append(v.headers[lname], vals...)
	}
	scheme, host, target := splitURL(req.URL)
	if h := v.first("host"); h != "" {
		host = h
	} else if h := v.first(":authority"); h != "" {
		host = h
	}
	delete(v.headers, "host")
	delete(v.headers, ":authority")
	switch {
	case req.Scheme != "":
		scheme = req.Scheme
	case scheme == "":
		scheme = "http"
	}
	v.scheme = strings.ToLower(scheme)
	v.host = stripPort(host)
	v.hostLower = asciiLower(v.host)

	if i := strings.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	switch {
	case target == "":
		target = "/"
	case target[0] == '?':
		target = "/" + target
	}
	v.fullPath = target
	v.path = target
	if i := strings.IndexByte(target, '?'); i >= 0 {
		v.path, v.query, v.hasQuery = target[:i], target[i+1:], true
	}

	ct := v.first("content-type")
	v.grpc = ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+")
	if svc, method, ok := strings.Cut(strings.TrimPrefix(v.path, "/"), "/"); ok && strings.HasPrefix(v.path, "/") &&
		svc != "" && method != "" && !strings.Contains(method, "/") {
		v.grpcService, v.grpcMethod, v.grpcPathOK = svc, method, true
	}
	return v
}

// splitURL splits an absolute URL or a request target without decoding
// anything: Envoy matches the raw bytes.
func splitURL(raw string) (scheme, host, target string) {
	if i := strings.Index(raw, "://"); i > 0 && !strings.ContainsAny(raw[:i], "/?#") {
		scheme, rest := raw[:i], raw[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		host = rest[:end]
		if at := strings.LastIndexByte(host, '@'); at >= 0 { // drop userinfo
			host = host[at+1:]
		}
		return scheme, host, rest[end:]
	}
	return "", "", raw
}

// stripPort removes ":port" like Envoy's strip_any_host_port: from the last
// ':' unless that colon is inside an IPv6 literal.
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return host
	}
	if j := strings.LastIndexByte(host, ']'); j > i {
		return host
	}
	return host[:i]
}

// first returns the first value of a header (lower-case name).
func (v *view) first(name string) string {
	if vals := v.headers[name]; len(vals) > 0 {
		return vals[0]
	}
	return ""
}

// header returns the value a header matcher sees: every value joined by
// ",", except Cookie headers, which Envoy coalesces with "; ".
func (v *view) header(name string) (string, bool) {
	vals, ok := v.headers[name]
	if !ok {
		return "", false
	}
	if len(vals) == 1 {
		return vals[0], true
	}
	if name == "cookie" {
		return strings.Join(vals, "; "), true
	}
	return strings.Join(vals, ","), true
}

// queryParam returns the first value of key, without URL-decoding.
func (v *view) queryParam(key string) (string, bool) {
	if v.queryParams == nil {
		v.queryParams = map[string]string{}
		if v.hasQuery {
			for _, kv := range strings.Split(v.query, "&") {
				if kv == "" {
					continue
				}
				k, val, _ := strings.Cut(kv, "=")
				if _, seen := v.queryParams[k]; !seen {
					v.queryParams[k] = val
				}
			}
		}
	}
	val, ok := v.queryParams[key]
	return val, ok
}

// cookie returns every cookie called name across all Cookie headers, in
// order, with surrounding double quotes removed and nothing decoded.
func (v *view) cookie(name string) []string {
	if v.cookies == nil {
		v.cookies = map[string][]string{}
		for _, line := range v.headers["cookie"] {
			for _, part := range strings.Split(line, ";") {
				k, val, ok := strings.Cut(strings.TrimLeft(part, " \t"), "=")
				if !ok {
					continue
				}
				if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
					val = val[1 : len(val)-1]
				}
				v.cookies[k] = append(v.cookies[k], val)
			}
		}
	}
	return v.cookies[name]
}

// asciiLower lower-cases ASCII letters only, as Envoy's case-insensitive
// matchers do; other bytes are compared as they are.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
