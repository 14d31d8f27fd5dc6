// Package routetest holds routedeck's route tests: saved requests with
// expectations in the spirit of Envoy's router_check_tool (which rule,
// which upstream, the rewritten path and host, a redirect, the status, the
// headers the upstream receives and the client gets back).
//
// A test runs through the reference evaluator (backend/rules), which says
// what the rules mean, and, when a sandbox data plane is available, through
// it too, which says what Envoy (or the simulated Envoy) really does with the
// translated configuration. Each failure names the engine that saw it.
package routetest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// Test is one saved route test. It belongs to a gateway.
type Test struct {
	Name        string        `json:"name"`
	Gateway     string        `json:"gateway"`
	Description string        `json:"description,omitempty"`
	Request     rules.Request `json:"request"`
	Expect      Expect        `json:"expect"`
	// Version is the stored version (optimistic concurrency, as for the
	// other objects); 0 on a test that was never stored.
	Version int64 `json:"version,omitempty"`
}

// Expect lists what must happen to the request. Unset fields are not
// checked. Pointers tell "not checked" from an expected empty value: rule ""
// expects that no rule matches.
type Expect struct {
	Rule *string `json:"rule,omitempty"`
	// Upstream is the upstream that must receive the request. When the
	// matched rule splits traffic by weight, which upstream answers one
	// request is chance, so there it only asks that Upstream is one of the
	// split's (tests saved before UpstreamIn existed keep passing on
	// their weighted rules instead of failing at random).
	Upstream *string `json:"upstream,omitempty"`
	// UpstreamIn asks that the request reaches one of these upstreams: a
	// weighted split's members, which is what a test saved from one
	// request on a weighted rule can promise.
	UpstreamIn []string `json:"upstreamIn,omitempty"`
	// Path is the :path the upstream receives (query included) and Host its
	// Host header, after rewrites.
	Path *string `json:"path,omitempty"`
	Host *string `json:"host,omitempty"`
	// Redirect is the Location of a redirect, a full URL.
	Redirect *string `json:"redirect,omitempty"`
	Status   *int    `json:"status,omitempty"`
	// RequestHeaders are headers the upstream must receive with exactly
	// this value; a null value means the header must be absent.
	RequestHeaders map[string]*string `json:"requestHeaders,omitempty"`
	// ResponseHeaders are the same for the response the client gets.
	ResponseHeaders map[string]*string `json:"responseHeaders,omitempty"`
}

// empty reports whether nothing is expected.
func (e Expect) empty() bool {
	return e.Rule == nil && e.Upstream == nil && e.UpstreamIn == nil && e.Path == nil && e.Host == nil && e.Redirect == nil &&
		e.Status == nil && len(e.RequestHeaders) == 0 && len(e.ResponseHeaders) == 0
}

// reservedNames are path segments of the tests API beside test names.
var reservedNames = map[string]bool{"run": true, "envoy": true}

// Validate reports every problem of t with field paths.
func (t *Test) Validate() error {
	var p model.Problems
	model.CheckDescription(&p, "description", t.Description)
	switch {
	case t.Name == "":
		p.Add("name", "required")
	case len(t.Name) > 63:
		p.Add("name", "must be at most 63 characters")
	case !validName(t.Name):
		p.Add("name", "invalid name %q: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", t.Name)
	case reservedNames[t.Name]:
		p.Add("name", "%q is reserved", t.Name)
	}
	if t.Gateway == "" {
		p.Add("gateway", "required")
	}
	if t.Request.URL == "" {
		p.Add("request.url", "required: a URL or a request target such as /v1/cart?x=1")
	} else if !strings.Contains(t.Request.URL, "://") && !strings.HasPrefix(t.Request.URL, "/") {
		p.Add("request.url", "must be an absolute URL (http://host/path) or start with /")
	}
	if m := t.Request.Method; m != "" && !validToken(m) {
		p.Add("request.method", "invalid method %q", m)
	}
	for name := range t.Request.Headers {
		if !validToken(strings.TrimPrefix(name, ":")) {
			p.Add("request.headers."+name, "invalid header name")
		}
	}
	e := t.Expect
	if e.empty() {
		p.Add("expect", "expect at least one of rule, upstream, upstreamIn, path, host, redirect, status, requestHeaders, responseHeaders")
	}
	if e.UpstreamIn != nil {
		seen := map[string]bool{}
		switch {
		case len(e.UpstreamIn) == 0:
			p.Add("expect.upstreamIn", "name at least one upstream, or leave upstreamIn out")
		case e.Upstream != nil:
			p.Add("expect.upstreamIn", "give upstream or upstreamIn, not both")
		}
		for i, u := range e.UpstreamIn {
			switch {
			case u == "":
				p.Add(fmt.Sprintf("expect.upstreamIn[%d]", i), "must not be empty")
			case seen[u]:
				p.Add(fmt.Sprintf("expect.upstreamIn[%d]", i), "%q is listed twice", u)
			}
			seen[u] = true
		}
	}
	if e.Status != nil && (*e.Status < 100 || *e.Status > 599) {
		p.Add("expect.status", "must be an HTTP status between 100 and 599")
	}
	if e.Redirect != nil && (e.Upstream != nil && *e.Upstream != "" || len(e.UpstreamIn) > 0 || e.Path != nil || len(e.RequestHeaders) > 0) {
		p.Add("expect.redirect", "a redirected request reaches no upstream: drop upstream, path and requestHeaders")
	}
	for _, hs := range []struct {
		field string
		m     map[string]*string
	}{{"expect.requestHeaders", e.RequestHeaders}, {"expect.responseHeaders", e.ResponseHeaders}} {
		for name := range hs.m {
			if !validToken(strings.TrimPrefix(name, ":")) {
				p.Add(hs.field+"."+name, "invalid header name")
			}
		}
	}
	return p.Err()
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return isAlnum(s[0]) && isAlnum(s[len(s)-1])
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// validToken checks an HTTP token (method, header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Outcome is what an engine observed for one request.
type Outcome struct {
	Rule     string // "" when no rule matched
	Upstream string // "" when nothing was forwarded
	Path     string // :path the upstream received
	Host     string // Host the upstream received
	Redirect string // Location of a redirect
	Status   int
	// RequestHeaders are what the upstream received (nil when nothing was
	// forwarded); ResponseHeaders what the client got.
	RequestHeaders  http.Header
	ResponseHeaders http.Header
	// Split lists the upstreams the matched rule's forward may pick (weight
	// above 0), in the rule's order: more than one means the upstream of a
	// single request is chance.
	Split []string
	// PartialResponseHeaders means the engine knows only some response
	// headers (the evaluator knows what the rules set, not what an upstream
	// adds): an expected header it does not report is not checked.
	PartialResponseHeaders bool
}

// Mismatch is one expectation an engine's outcome did not meet.
type Mismatch struct {
	Engine   string `json:"engine"`
	Field    string `json:"field"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
}

// String renders "engine: field: expected X, got Y".
func (m Mismatch) String() string {
	if m.Field == "" {
		return fmt.Sprintf("%s: %s", m.Engine, m.Actual)
	}
	return fmt.Sprintf("%s: %s: expected %s, got %s", m.Engine, m.Field, m.Expected, m.Actual)
}

// Check compares an outcome with the expectations, field by field. split is
// what the matched rule may forward to (Outcome.Split of the reference
// evaluator, which knows the rules; a data plane only sees the one upstream
// it picked).
func Check(engine string, e Expect, o Outcome, split []string) []Mismatch {
	var out []Mismatch
	str := func(field string, want *string, got string) {
		if want != nil && *want != got {
			out = append(out, Mismatch{Engine: engine, Field: field, Expected: show(*want), Actual: show(got)})
		}
	}
	str("rule", e.Rule, o.Rule)
	switch {
	case e.UpstreamIn != nil:
		if !slices.Contains(e.UpstreamIn, o.Upstream) {
			out = append(out, Mismatch{Engine: engine, Field: "upstreamIn", Expected: "one of " + showAll(e.UpstreamIn), Actual: show(o.Upstream)})
		}
	case e.Upstream != nil && len(split) > 1 && slices.Contains(split, *e.Upstream):
		// A weighted rule: any member may answer this one request.
		if !slices.Contains(split, o.Upstream) {
			out = append(out, Mismatch{Engine: engine, Field: "upstream", Expected: show(*e.Upstream) + " or another upstream of the split " + showAll(split), Actual: show(o.Upstream)})
		}
	default:
		str("upstream", e.Upstream, o.Upstream)
	}
	str("path", e.Path, o.Path)
	str("host", e.Host, o.Host)
	str("redirect", e.Redirect, o.Redirect)
	if e.Status != nil && *e.Status != o.Status {
		out = append(out, Mismatch{Engine: engine, Field: "status", Expected: fmt.Sprint(*e.Status), Actual: fmt.Sprint(o.Status)})
	}
	out = append(out, checkHeaders(engine, "requestHeaders", e.RequestHeaders, o.RequestHeaders, false)...)
	out = append(out, checkHeaders(engine, "responseHeaders", e.ResponseHeaders, o.ResponseHeaders, o.PartialResponseHeaders)...)
	return out
}

// absent is what a failure shows for a header that is not there.
const absent = "(absent)"

func checkHeaders(engine, field string, want map[string]*string, got http.Header, partial bool) []Mismatch {
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []Mismatch
	for _, name := range names {
		vals, present := lookup(got, name)
		if !present && partial {
			continue
		}
		actual := absent
		if present {
			actual = show(strings.Join(vals, ","))
		}
		w := want[name]
		switch {
		case w == nil && present:
			out = append(out, Mismatch{Engine: engine, Field: field + "." + name, Expected: absent, Actual: actual})
		case w != nil && (!present || strings.Join(vals, ",") != *w):
			out = append(out, Mismatch{Engine: engine, Field: field + "." + name, Expected: show(*w), Actual: actual})
		}
	}
	return out
}

// lookup finds a header case-insensitively, also under non-canonical keys
// (":authority" and the like).
func lookup(h http.Header, name string) ([]string, bool) {
	if v, ok := h[http.CanonicalHeaderKey(name)]; ok {
		return v, true
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func showAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = show(s)
	}
	return strings.Join(q, ", ")
}

// show quotes a value so an empty one is visible.
func show(s string) string {
	if s == "" {
		return `""`
	}
	return fmt.Sprintf("%q", s)
}
