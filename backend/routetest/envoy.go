package routetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/strictjson"
	"github.com/routedeck/routedeck/sandbox/checktool"
)

// Routedeck tests and Envoy's router_check_tool test files say mostly the
// same things under other names. The mapping, both ways:
//
//	upstream          <-> validate.cluster_name (the translator names clusters after upstreams)
//	path              <-> validate.path_rewrite
//	host              <-> validate.host_rewrite
//	redirect          <-> validate.path_redirect (the full Location)
//	status (redirect) <-> validate.code_redirect
//	requestHeaders    <-> validate.request_header_matches (exact, or absent via present+invert)
//	responseHeaders   <-> validate.response_header_matches
//
// The tool has no check for the route that matched, so rule expectations
// are left out of an export and reported as such. The translator names a
// rule's Envoy routes "rule/NAME/N"; run the exported file with
// `routedeck check --details` to see them.

// Skipped is an expectation an export could not carry.
type Skipped struct {
	Test   string `json:"test"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// ExportEnvoy writes tests as a router_check_tool test file.
func ExportEnvoy(tests []Test) (*checktool.TestFile, []Skipped) {
	tf := &checktool.TestFile{Tests: []checktool.TestCase{}}
	var skipped []Skipped
	for _, t := range tests {
		scheme, authority, target := splitRequest(t.Request)
		in := &checktool.Input{
			Authority:   authority,
			Path:        target,
			Method:      t.Request.Method,
			RandomValue: checktool.Uint64(t.Request.Random),
			SSL:         scheme == "https",
		}
		if in.Method == "" {
			in.Method = http.MethodGet
		}
		for _, name := range slices.Sorted(maps.Keys(t.Request.Headers)) {
			if strings.EqualFold(name, "host") || strings.EqualFold(name, ":authority") {
				continue
			}
			for _, v := range t.Request.Headers[name] {
				in.AdditionalRequestHeaders = append(in.AdditionalRequestHeaders, checktool.HeaderValue{Key: strings.ToLower(name), Value: v})
			}
		}
		e := t.Expect
		v := &checktool.Assertion{
			ClusterName:  e.Upstream,
			PathRewrite:  e.Path,
			HostRewrite:  e.Host,
			PathRedirect: e.Redirect,
		}
		if e.UpstreamIn != nil {
			skipped = append(skipped, Skipped{Test: t.Name, Field: "expect.upstreamIn", Reason: "router_check_tool checks one cluster name; set request.random to pin a member of the split"})
		}
		if e.Rule != nil {
			skipped = append(skipped, Skipped{Test: t.Name, Field: "expect.rule", Reason: "router_check_tool cannot check which route matched"})
		}
		if e.Status != nil {
			if *e.Status >= 300 && *e.Status < 400 {
				code := uint32(*e.Status)
				v.CodeRedirect = &code
			} else {
				skipped = append(skipped, Skipped{Test: t.Name, Field: "expect.status", Reason: "router_check_tool checks only redirect codes"})
			}
		}
		v.RequestHeaderMatches = headerMatches(e.RequestHeaders)
		v.ResponseHeaderMatches = headerMatches(e.ResponseHeaders)
		tf.Tests = append(tf.Tests, checktool.TestCase{TestName: t.Name, Input: in, Validate: v})
	}
	return tf, skipped
}

// headerMatches renders expected headers as HeaderMatcher JSON: an exact
// string match, or "not present" for an expected absence.
func headerMatches(m map[string]*string) []json.RawMessage {
	var out []json.RawMessage
	for _, name := range slices.Sorted(maps.Keys(m)) {
		hm := &routev3.HeaderMatcher{Name: strings.ToLower(name)}
		if v := m[name]; v == nil {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
			hm.InvertMatch = true
		} else {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: exactMatcher(*v)}
		}
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(hm)
		if err != nil {
			continue // a HeaderMatcher built from strings always marshals
		}
		out = append(out, compactJSON(b))
	}
	return out
}

// MarshalEnvoy renders a test file as indented JSON, the tool's native
// format, leaving out unset and default fields as a person would.
func MarshalEnvoy(tf *checktool.TestFile) ([]byte, error) {
	b, err := json.Marshal(tf)
	if err != nil {
		return nil, fmt.Errorf("encode router check test file: %w", err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("encode router check test file: %w", err)
	}
	if b, err = json.MarshalIndent(prune(doc), "", "  "); err != nil {
		return nil, fmt.Errorf("encode router check test file: %w", err)
	}
	return append(b, '\n'), nil
}

// prune drops nulls, false, zero numbers and empty strings from objects:
// proto3 JSON reads an absent field as its default, so they say nothing.
// Lists keep their elements.
func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			switch x := e.(type) {
			case nil:
				delete(t, k)
			case bool:
				if !x {
					delete(t, k)
				}
			case float64:
				if x == 0 {
					delete(t, k)
				}
			case string:
				if x == "" {
					delete(t, k)
				}
			default:
				t[k] = prune(e)
			}
		}
	case []any:
		for i, e := range t {
			t[i] = prune(e)
		}
	}
	return v
}

// ParseEnvoy reads a router_check_tool test file (JSON or YAML), refusing
// unknown fields as the tool does. YAML is held to the input limits.
func ParseEnvoy(data []byte) (*checktool.TestFile, error) {
	js := data
	if !json.Valid(bytes.TrimSpace(data)) {
		if err := input.CheckYAML("", data); input.IsLimit(err) {
			return nil, model.Errorf(model.EINVALID, "%v", err)
		} else if err != nil {
			return nil, model.Errorf(model.EINVALID, "not a router check test file: %v", err)
		}
		var err error
		if js, err = yaml.YAMLToJSON(data); err != nil {
			return nil, model.Errorf(model.EINVALID, "not a router check test file: %v", err)
		}
	}
	tf := &checktool.TestFile{}
	if err := strictjson.Decode(js, tf); err != nil {
		if fields := model.ErrorFields(err); len(fields) > 0 {
			return nil, &model.Error{Code: model.EINVALID, Message: "not a router check test file", Fields: fields}
		}
		return nil, err
	}
	return tf, nil
}

// ImportEnvoy turns a router_check_tool test file into tests of gateway.
// Test names are made valid routedeck names. Checks routedeck cannot
// express (virtual host and virtual cluster names, header matchers other
// than exact/absent) are reported as problems with their path in the file,
// all together, and nothing is imported.
func ImportEnvoy(tf *checktool.TestFile, gateway string) ([]Test, error) {
	var p model.Problems
	if len(tf.Tests) == 0 {
		p.Add("tests", "at least one test is required")
	}
	var out []Test
	names := map[string]int{}
	for i, tc := range tf.Tests {
		at := model.Index("tests", i)
		t := Test{Name: testName(tc.TestName, i), Gateway: gateway}
		if j, dup := names[t.Name]; dup {
			p.Add(at+".test_name", "becomes %q, like tests[%d]", t.Name, j)
		}
		names[t.Name] = i
		if in := tc.Input; in == nil {
			p.Add(at+".input", "required")
		} else {
			scheme := "http"
			if in.SSL {
				scheme = "https"
			}
			if in.Authority == "" {
				p.Add(at+".input.authority", "required")
			}
			if in.Path == "" || in.Path[0] != '/' {
				p.Add(at+".input.path", "required, starting with /")
			}
			t.Request = rules.Request{Method: in.Method, URL: scheme + "://" + in.Authority + in.Path, Random: uint64(in.RandomValue)}
			for _, h := range in.AdditionalRequestHeaders {
				if t.Request.Headers == nil {
					t.Request.Headers = http.Header{}
				}
				t.Request.Headers[strings.ToLower(h.Key)] = append(t.Request.Headers[strings.ToLower(h.Key)], h.Value)
			}
			if in.Internal || in.Runtime != "" || len(in.DynamicMetadata) > 0 || len(in.AdditionalResponseHeaders) > 0 {
				p.Add(at+".input", "internal, runtime, dynamic_metadata and additional_response_headers have no routedeck equivalent")
			}
		}
		if v := tc.Validate; v == nil {
			p.Add(at+".validate", "required")
		} else {
			importAssertion(&p, at+".validate", v, &t.Expect)
		}
		out = append(out, t)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func importAssertion(p *model.Problems, at string, v *checktool.Assertion, e *Expect) {
	before := p.Len()
	e.Upstream, e.Path, e.Host, e.Redirect = v.ClusterName, v.PathRewrite, v.HostRewrite, v.PathRedirect
	if v.CodeRedirect != nil {
		code := int(*v.CodeRedirect)
		e.Status = &code
	}
	if v.VirtualHostName != nil {
		p.Add(at+".virtual_host_name", "routedeck tests do not check virtual hosts (the translator derives them from hosts)")
	}
	if v.VirtualClusterName != nil {
		p.Add(at+".virtual_cluster_name", "routedeck has no virtual clusters")
	}
	for _, hs := range []struct {
		name    string
		fields  []checktool.HeaderValue
		matches []json.RawMessage
		into    *map[string]*string
	}{
		{"request", v.RequestHeaderFields, v.RequestHeaderMatches, &e.RequestHeaders},
		{"response", v.ResponseHeaderFields, v.ResponseHeaderMatches, &e.ResponseHeaders},
	} {
		put := func(name string, val *string) {
			if *hs.into == nil {
				*hs.into = map[string]*string{}
			}
			(*hs.into)[strings.ToLower(name)] = val
		}
		for _, f := range hs.fields {
			val := f.Value
			put(f.Key, &val)
		}
		for j, raw := range hs.matches {
			path := model.Index(at+"."+hs.name+"_header_matches", j)
			hm := &routev3.HeaderMatcher{}
			if err := protojson.Unmarshal(raw, hm); err != nil {
				p.Add(path, "not a HeaderMatcher: %v", err)
				continue
			}
			switch m := hm.HeaderMatchSpecifier.(type) {
			case *routev3.HeaderMatcher_PresentMatch:
				if m.PresentMatch == hm.InvertMatch {
					put(hm.Name, nil)
					continue
				}
			case *routev3.HeaderMatcher_StringMatch:
				if ex, ok := m.StringMatch.GetMatchPattern().(*matcherv3.StringMatcher_Exact); ok && !m.StringMatch.IgnoreCase && !hm.InvertMatch {
					val := ex.Exact
					put(hm.Name, &val)
					continue
				}
			}
			p.Add(path, "only exact matches and absence (present_match with invert_match) can be imported")
		}
	}
	if e.empty() && p.Len() == before {
		p.Add(at, "checks nothing routedeck can express")
	}
}

// testName turns a test_name ("Test 1: cart") into a routedeck name
// ("test-1-cart"); one with nothing usable in it becomes "test-N" after its
// position in the file.
func testName(s string, i int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.Trim(b.String(), "-.")
	if len(name) > 63 {
		name = strings.Trim(name[:63], "-.")
	}
	if name == "" || reservedNames[name] {
		name = "test-" + strconv.Itoa(i+1)
	}
	return name
}

// splitRequest returns the scheme, authority and request target a test
// request sends, as the evaluator reads them.
func splitRequest(r rules.Request) (scheme, authority, target string) {
	raw := r.URL
	if i := strings.Index(raw, "://"); i > 0 {
		scheme = strings.ToLower(raw[:i])
		rest := raw[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		authority, target = rest[:end], rest[end:]
	} else {
		target = raw
	}
	if h, ok := lookup(r.Headers, "host"); ok && len(h) > 0 {
		authority = h[0]
	} else if h, ok := lookup(r.Headers, ":authority"); ok && len(h) > 0 {
		authority = h[0]
	}
	if r.Scheme != "" {
		scheme = strings.ToLower(r.Scheme)
	}
	if scheme == "" {
		scheme = "http"
	}
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	if target == "" || target[0] == '?' {
		target = "/" + target
	}
	return scheme, authority, target
}

func exactMatcher(v string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}
}

func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}
