package rules

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/strictjson"
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
	// Listener is the gateway listener the request arrives on. Rules that
	// name listeners answer only there; a request that names none reaches
	// only the rules of every listener, as on a listener no rule names.
	Listener string `json:"listener,omitempty"`
}

// UnmarshalJSON accepts header values as a string or a list of strings, so
// API clients can send {"x-canary": "1"} or {"cookie": ["a=1", "b=2"]}.
// Input from clients goes through DecodeStrict, which accepts the same.
func (r *Request) UnmarshalJSON(b []byte) error {
	return strictjson.Decode(b, r)
}

// DecodeStrict decodes a request strictly (see backend/strictjson),
// accepting each header value as a string or a list of strings.
func (r *Request) DecodeStrict(d *strictjson.Decoder, path string, tok json.Token) {
	*r = Request{}
	d.Object(tok, path, func(key, kp string) { r.DecodeField(d, key, kp) })
}

// DecodeField decodes the request field key, for documents that carry a
// request's fields inline among their own.
func (r *Request) DecodeField(d *strictjson.Decoder, key, path string) {
	if key != "headers" {
		d.Field(r, key, path)
		return
	}
	r.Headers = nil
	t := d.Next()
	if t == nil { // null: no headers
		return
	}
	d.Object(t, path, func(name, np string) {
		if r.Headers == nil {
			r.Headers = http.Header{}
		}
		switch t := d.Next(); t.(type) {
		case string:
			r.Headers[name] = append(r.Headers[name], t.(string))
		case json.Delim:
			d.Array(t, np, func(_ int, ip string) {
				var v string
				d.Value(&v, ip)
				r.Headers[name] = append(r.Headers[name], v)
			})
		default:
			if !d.Stopped() {
				d.Problem(np, "expected a string or a list of strings")
			}
		}
	})
}

// Limits of a test request. Envoy's defaults where it has one, so a
// request that passes is one a gateway with default settings would take.
const (
	// MaxHeaderBytes bounds the method, URL and every header name and
	// value together: Envoy's max_request_headers_kb default, 60 KiB.
	MaxHeaderBytes = 60 << 10
	// MaxHeaders is Envoy's max_headers_count default.
	MaxHeaders = 100
	// MaxBodyBytes is Envoy's default per-connection buffer limit, 1 MiB;
	// the sandbox keeps a test body in memory several times over.
	MaxBodyBytes = 1 << 20
)

// Validate reports what keeps req from being sent as an HTTP request:
// a method that is not an RFC 9110 token, a URL with control characters
// or spaces, header names that are not tokens, values with control
// characters (CR, LF and NUL among them; tab is allowed), and sizes over
// the limits above. Field paths are relative to the request: "method",
// "url", "headers[2].name", "headers[2].value", "headers", "body".
// Headers are numbered in name order, the order the evaluator reads them
// in, and each message names its header.
func (r Request) Validate() error {
	var p model.Problems
	total := len(r.Method) + len(r.URL)
	if r.Method != "" {
		if i, ok := httpToken(r.Method); !ok {
			p.Add("method", "%s at byte %d: a method is a token of letters, digits and !#$%%&'*+-.^_`|~", describeByte(r.Method, i), i)
		}
	}
	if len(r.URL) > MaxHeaderBytes {
		p.Add("url", "%d bytes; the request line and headers may take at most %d bytes (Envoy's max_request_headers_kb, 60 KiB)", len(r.URL), MaxHeaderBytes)
	} else if i := strings.IndexFunc(r.URL, func(c rune) bool { return c <= ' ' || c == 0x7f }); i >= 0 {
		p.Add("url", "%s at byte %d: a URL may not hold spaces or control characters (percent-encode them)", describeByte(r.URL, i), i)
	}
	switch strings.ToLower(r.Scheme) {
	case "", "http", "https":
	default:
		p.Add("scheme", "must be http or https")
	}
	names := make([]string, 0, len(r.Headers))
	count := 0
	for name, vals := range r.Headers {
		names = append(names, name)
		count += len(vals)
	}
	sort.Strings(names)
	if count > MaxHeaders {
		p.Add("headers", "%d header lines; Envoy takes at most %d (max_headers_count)", count, MaxHeaders)
	}
	for i, name := range names {
		path := model.Index("headers", i)
		shown := clipQuote(name)
		switch j, ok := httpToken(name); {
		case name == ":authority":
		case strings.HasPrefix(name, ":"):
			p.Add(path+".name", "%s: the only pseudo-header accepted is :authority; set the method and URL instead", shown)
		case name == "":
			p.Add(path+".name", "empty header name")
		case len(name) > MaxHeaderBytes:
			p.Add(path+".name", "%s: %d bytes; the headers may take at most %d bytes in all (Envoy's max_request_headers_kb, 60 KiB)", shown, len(name), MaxHeaderBytes)
		case !ok:
			p.Add(path+".name", "%s: %s at byte %d; a header name is a token of letters, digits and !#$%%&'*+-.^_`|~", shown, describeByte(name, j), j)
		}
		vals := r.Headers[name]
		for k, v := range vals {
			total += len(name) + len(v)
			vpath := path + ".value"
			if len(vals) > 1 {
				vpath = model.Index(vpath, k)
			}
			if len(v) > MaxHeaderBytes {
				p.Add(vpath, "header %s: %d bytes; the headers may take at most %d bytes in all (Envoy's max_request_headers_kb, 60 KiB)", shown, len(v), MaxHeaderBytes)
				continue
			}
			if j := strings.IndexFunc(v, func(c rune) bool { return c < ' ' && c != '\t' || c == 0x7f }); j >= 0 {
				p.Add(vpath, "header %s: %s at byte %d; a header value may not hold control characters other than tab (CR and LF would end the header)", shown, describeByte(v, j), j)
			}
		}
	}
	if total > MaxHeaderBytes && p.Len() == 0 {
		p.Add("headers", "method, URL and headers take %d bytes; Envoy takes at most %d (max_request_headers_kb, 60 KiB)", total, MaxHeaderBytes)
	}
	if r.Listener != "" {
		model.CheckName(&p, "listener", r.Listener)
	}
	if len(r.Body) > MaxBodyBytes {
		p.Add("body", "%d bytes; a test request's body may be at most %d bytes (1 MiB, Envoy's default buffer limit)", len(r.Body), MaxBodyBytes)
	}
	return p.Err()
}

// httpToken reports whether s is an RFC 9110 token, and if not the byte
// offset of the first character that is not a tchar.
func httpToken(s string) (int, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return i, false
	}
	return -1, s != ""
}

// describeByte names the character at s[i] the way a reader can see it.
func describeByte(s string, i int) string {
	c := s[i]
	switch {
	case c == ' ':
		return "space"
	case c < ' ' || c == 0x7f:
		return fmt.Sprintf("control character 0x%02X", c)
	case c >= 0x80:
		return "non-ASCII byte"
	}
	return fmt.Sprintf("%q", string(c))
}

// clipQuote quotes a name for a message, cut short so a huge name cannot
// make a huge message.
func clipQuote(s string) string {
	const max = 40
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}

// view is a request as Envoy's router sees it after the connection manager
// has prepared it: fragment dropped from :path,
// header names lower-cased and repeated headers joined with ",".
type view struct {
	method    string
	scheme    string
	hostSent  string // Host as sent, port included: what the upstream receives
	host      string // Host without port: what host conditions compare
	hostLower string // host, lower-cased for matching
	fullPath  string // :path with query, without fragment
	path      string // :path without query
	query     string // after '?', without it
	hasQuery  bool
	headers   map[string][]string // lower-case name -> values
	listener  string              // the listener it arrived on, "" for unnamed

	queryParams map[string]string   // first value per key, parsed lazily
	cookies     map[string][]string // parsed lazily

	grpc                    bool
	grpcService, grpcMethod string
	grpcPathOK              bool
}

func newView(req Request) *view {
	v := &view{method: req.Method, headers: map[string][]string{}, listener: req.Listener}
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
	v.hostSent = host
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

// HostKey is a Host (or :authority) as host conditions compare it: the
// port removed, ASCII letters in lower case. Callers that group requests
// or rules by host use it to agree with the evaluator.
func HostKey(host string) string { return asciiLower(stripPort(host)) }

// stripPort removes ":port" as Envoy's ignore_port_in_host_matching does
// for matching: from the last ':' unless that colon is inside an IPv6
// literal.
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
