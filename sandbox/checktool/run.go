// Package checktool runs Envoy router_check_tool test files against a
// plain Envoy RouteConfiguration with routedeck's simulated router, with
// the tool's flags, output and exit status.
package checktool

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/sandbox/sim"
)

// Options are the parsed command-line flags.
type Options struct {
	ConfigPath       string
	TestPath         string
	OutputPath       string
	Details          bool
	OnlyShowFailures bool
	FailUnder        float64
	CovAll           bool
	DetailedCoverage bool
	// DisableDeprecationCheck is accepted for compatibility; deprecated
	// fields are never rejected.
	DisableDeprecationCheck bool
}

// ParseArgs parses router_check_tool's flags.
func ParseArgs(args []string) (Options, error) {
	var o Options
	value := func(i *int, name string) (string, error) {
		a := args[*i]
		if j := strings.IndexByte(a, '='); j >= 0 {
			return a[j+1:], nil
		}
		if *i+1 >= len(args) {
			return "", fmt.Errorf("Missing a value for the argument: %s", name)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := a
		if j := strings.IndexByte(a, '='); j >= 0 && strings.HasPrefix(a, "-") {
			name = a[:j]
		}
		var err error
		switch name {
		case "-d", "--details":
			o.Details = true
		case "--only-show-failures":
			o.OnlyShowFailures = true
		case "--disable-deprecation-check":
			o.DisableDeprecationCheck = true
		case "--covall":
			o.CovAll = true
		case "--detailed-coverage":
			o.DetailedCoverage = true
		case "-c", "--config-path":
			o.ConfigPath, err = value(&i, "config-path")
		case "-t", "--test-path":
			o.TestPath, err = value(&i, "test-path")
		case "-o", "--output-path":
			o.OutputPath, err = value(&i, "output-path")
		case "-f", "--fail-under":
			var v string
			if v, err = value(&i, "fail-under"); err == nil {
				if o.FailUnder, err = strconv.ParseFloat(v, 64); err != nil {
					err = fmt.Errorf("Couldn't read argument value from string '%s'", v)
				}
			}
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				return o, fmt.Errorf("Couldn't find match for argument %s", a)
			}
			// Unlabelled arguments are accepted and ignored, as Envoy does.
		}
		if err != nil {
			return o, err
		}
	}
	if o.ConfigPath == "" || o.TestPath == "" {
		return o, fmt.Errorf("Both --config-path/c and --test-path/t are mandatory")
	}
	return o, nil
}

// Run is router_check_tool: it parses args, runs the tests and writes the
// tool's output. The return value is the process exit status (0 or 1).
func Run(args []string, stdout, stderr io.Writer) int {
	o, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	rc, err := LoadRouteConfig(o.ConfigPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	tf, err := LoadTestFile(o.TestPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	c, err := NewChecker(rc, tf.Runtime)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	results := c.RunTests(tf.Tests)
	c.printResults(results, o, stdout, stderr)
	if o.OutputPath != "" {
		if err := writeResults(o.OutputPath, results, o.OnlyShowFailures); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	for _, r := range results {
		if len(r.Failures) > 0 {
			return 1
		}
	}
	var cov float64
	if o.CovAll {
		cov = c.cov.comprehensive(stdout)
	} else {
		cov = c.cov.report(o.DetailedCoverage, stdout)
	}
	fmt.Fprintf(stdout, "Current route coverage: %s%%\n", formatDouble(cov))
	if o.FailUnder != 0 && cov < o.FailUnder {
		fmt.Fprintf(stderr, "Failed to meet coverage requirement: %s%%\n", formatDouble(o.FailUnder))
		return 1
	}
	return 0
}

// formatDouble prints like a C++ ostream with default precision.
func formatDouble(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// Result is the outcome of one test.
type Result struct {
	TestName string
	Passed   bool
	Failures []string
	failure  failureRecord
}

func (c *Checker) printResults(results []Result, o Options, stdout, stderr io.Writer) {
	for _, r := range results {
		// Test names are printed with --details unless only failures are
		// asked for; failures go to stderr with their details.
		if (o.Details && !o.OnlyShowFailures) || (o.OnlyShowFailures && len(r.Failures) > 0) {
			if len(r.Failures) == 0 {
				fmt.Fprintln(stdout, r.TestName)
				continue
			}
			fmt.Fprintln(stderr, r.TestName)
			for _, f := range r.Failures {
				fmt.Fprintln(stderr, f)
			}
		}
	}
}

// Checker runs tests against one route configuration.
type Checker struct {
	rc      *routev3.RouteConfiguration
	router  *sim.Router
	runtime *toolRuntime
	cov     *coverage
}

// toolRuntime is router_check_tool's runtime mock: a runtime_fraction is
// on only when the test's input.runtime names its key and the random value
// falls under the fraction. Integers come from the file's runtime layer.
type toolRuntime struct {
	active string
	static sim.StaticRuntime
}

func (t *toolRuntime) FeatureEnabled(key string, def *typev3.FractionalPercent, random uint64) bool {
	return t.active != "" && key == t.active &&
		sim.EvaluateFraction(uint64(def.GetNumerator()), sim.DenominatorValue(def), random)
}

func (t *toolRuntime) Integer(key string, def uint64) uint64 { return t.static.Integer(key, def) }

// NewChecker compiles the route configuration the way the tool loads it:
// a runtime_fraction default numerator of 0 becomes 1.
func NewChecker(rc *routev3.RouteConfiguration, runtime map[string]any) (*Checker, error) {
	rc = proto.Clone(rc).(*routev3.RouteConfiguration)
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if rf := r.GetMatch().GetRuntimeFraction(); rf != nil {
				if rf.DefaultValue == nil {
					rf.DefaultValue = &typev3.FractionalPercent{}
				}
				if rf.DefaultValue.Numerator == 0 {
					rf.DefaultValue.Numerator = 1
				}
			}
		}
	}
	rt := &toolRuntime{static: sim.StaticRuntime{}}
	for k, v := range runtime {
		rt.static[k] = fmt.Sprint(v)
	}
	router, err := sim.New(rc, sim.Options{Runtime: rt})
	if err != nil {
		return nil, err
	}
	return &Checker{rc: rc, router: router, runtime: rt, cov: newCoverage(rc)}, nil
}

// request builds the tool's request: pseudo-headers, x-forwarded-proto
// and :scheme from ssl, x-envoy-internal, then the additional headers.
func request(in *Input) (*sim.Request, error) {
	scheme := "http"
	if in.SSL {
		scheme = "https"
	}
	req := &sim.Request{
		Headers: sim.Headers{
			{Name: ":authority", Value: in.Authority},
			{Name: ":path", Value: in.Path},
			{Name: ":method", Value: in.Method},
			{Name: "x-forwarded-proto", Value: scheme},
			{Name: ":scheme", Value: scheme},
		},
		RemoteAddress: "127.0.0.1:0",
		LocalAddress:  "127.0.0.1:0",
	}
	if in.Internal {
		req.Headers.Add("x-envoy-internal", "true")
	}
	for _, h := range in.AdditionalRequestHeaders {
		req.Headers.Add(strings.ToLower(h.Key), h.Value)
	}
	for i, md := range in.DynamicMetadata {
		s := &structpb.Struct{}
		if len(md.Value) > 0 {
			if err := protojson.Unmarshal(md.Value, s); err != nil {
				return nil, fmt.Errorf("input.dynamic_metadata[%d].value: %w", i, err)
			}
		}
		if req.Metadata == nil {
			req.Metadata = map[string]*structpb.Struct{}
		}
		cur, exists := req.Metadata[md.Namespace]
		switch {
		case !exists:
			req.Metadata[md.Namespace] = s
		case md.AllowOverwrite:
			// Fields merge into the namespace, new values winning.
			for k, v := range s.GetFields() {
				cur.Fields[k] = v
			}
		}
	}
	return req, nil
}

// RunTests runs every test and returns one result per test in order.
func (c *Checker) RunTests(tests []TestCase) []Result {
	var out []Result
	for _, t := range tests {
		out = append(out, c.runTest(t))
	}
	return out
}

func (c *Checker) runTest(t TestCase) Result {
	res := Result{TestName: t.TestName, failure: newFailureRecord()}
	fail := func(s string) { res.Failures = append(res.Failures, s) }
	req, err := request(t.Input)
	if err != nil {
		fail(err.Error())
		return res
	}
	c.runtime.active = t.Input.Runtime
	var respHeaders sim.Headers
	for _, h := range t.Input.AdditionalResponseHeaders {
		respHeaders.Add(strings.ToLower(h.Key), h.Value)
	}
	d := c.router.RouteWith(req, uint64(t.Input.RandomValue), sim.RouteOptions{ResponseHeaders: respHeaders})
	v := t.Validate
	entry := d.IsRouteEntry()
	direct := d.IsDirectResponseEntry()
	key := routeKey{vh: d.VirtualHostIndex, route: d.RouteIndex, weighted: d.WeightedIndex}
	if d.Kind == sim.KindTLSRedirect {
		// Envoy shares one https-redirect route between all virtual
		// hosts, so it is covered once.
		key = routeKey{vh: -1, route: -1, weighted: -1}
	}
	compare := func(expected *string, actual, testType string, covered func(*routeCoverage)) {
		if expected == nil {
			return
		}
		if *expected != actual {
			fail(fmt.Sprintf("expected: [%s], actual: [%s], test type: %s", *expected, actual, testType))
			res.failure.strings(testType, *expected, actual)
			return
		}
		if entry && covered != nil && testType != "path_redirect" {
			covered(c.cov.mark(key, d))
		}
		if direct && testType == "path_redirect" {
			covered(c.cov.mark(key, d))
		}
	}
	ifEntry := func(s string) string {
		if entry {
			return s
		}
		return ""
	}
	path, _ := d.RequestHeaders.Get(":path")
	host, _ := d.RequestHeaders.Get(":authority")
	vcluster := ""
	if entry {
		// The tool asks for the virtual cluster after finalizing headers.
		vcluster = c.router.VirtualHostAt(d.VirtualHostIndex).VirtualCluster(d.RequestHeaders)
	}
	compare(v.ClusterName, ifEntry(d.Cluster), "cluster_name", func(r *routeCoverage) { r.cluster = true })
	compare(v.VirtualClusterName, vcluster, "virtual_cluster_name", func(r *routeCoverage) { r.vcluster = true })
	compare(v.VirtualHostName, ifEntry(d.VirtualHost), "virtual_host_name", func(r *routeCoverage) { r.vhost = true })
	compare(v.PathRewrite, ifEntry(path), "path_rewrite", func(r *routeCoverage) { r.pathRewrite = true })
	compare(v.HostRewrite, ifEntry(host), "host_rewrite", func(r *routeCoverage) { r.hostRewrite = true })
	redirect := ""
	if direct {
		redirect = d.RedirectURL
	}
	compare(v.PathRedirect, redirect, "path_redirect", func(r *routeCoverage) { r.redirectPath = true })
	if v.CodeRedirect != nil {
		actual := uint32(0)
		if direct {
			actual = uint32(d.Response.Status)
		}
		if actual != *v.CodeRedirect {
			fail(fmt.Sprintf("expected: [%d], actual: [%d], test type: code_redirect", *v.CodeRedirect, actual))
			res.failure.pair("code_redirect", wrapperspb.UInt32(*v.CodeRedirect), wrapperspb.UInt32(actual))
		} else if direct {
			c.cov.mark(key, d).redirectCode = true
		}
	}
	var route *routev3.Route
	if entry {
		route = d.MatchedRoute().Proto()
	}
	if v.Timeout != nil {
		// The route's own timeout (Envoy's default when it sets none),
		// not one a request header asks for.
		actual := ""
		if route != nil {
			t := route.GetRoute().GetTimeout()
			if t == nil {
				t = durationpb.New(15 * time.Second)
			}
			b, _ := protojson.Marshal(t)
			actual = strings.Trim(string(b), `"`)
		}
		if actual != *v.Timeout {
			fail(fmt.Sprintf("expected: [%s], actual: [%s], test type: timeout", *v.Timeout, actual))
		}
	}
	for _, m := range v.RouteMetadata {
		actual := ""
		if f := route.GetMetadata().GetFilterMetadata()[m.Namespace].GetFields()[m.Key]; f != nil {
			actual = f.GetStringValue()
		}
		if actual != m.Value {
			fail(fmt.Sprintf("expected: [%s.%s: %s], actual: [%s.%s: %s], test type: route_metadata", m.Namespace, m.Key, m.Value, m.Namespace, m.Key, actual))
		}
	}
	// Header checks run last, on the finalized request and response.
	sides := []struct {
		name    string
		headers sim.Headers
		matches []json.RawMessage
		fields  []HeaderValue
	}{
		{"request", d.RequestHeaders, v.RequestHeaderMatches, v.RequestHeaderFields},
		{"response", d.ResponseHeaders, v.ResponseHeaderMatches, v.ResponseHeaderFields},
	}
	for _, side := range sides {
		for _, raw := range side.matches {
			if msg, hm, actual := matchHeader(side.headers, raw, side.name+"_header_matches"); msg != "" {
				fail(msg)
				if hm != nil {
					res.failure.headerMatch(side.name, hm, actual)
				}
			}
		}
		for _, hv := range side.fields {
			if actual, _ := side.headers.Get(strings.ToLower(hv.Key)); actual != hv.Value {
				fail(fmt.Sprintf("expected: [%s], actual: [%s], test type: %s_header_fields", hv.Value, actual, side.name))
			}
		}
	}
	res.Passed = len(res.Failures) == 0
	return res
}

// matchHeader checks one header matcher and returns the tool's failure
// text, or "" when it matches, with the matcher and the header's value
// ("" when absent) for the failure record.
func matchHeader(h sim.Headers, raw json.RawMessage, testType string) (string, *routev3.HeaderMatcher, string) {
	hm := &routev3.HeaderMatcher{}
	if err := protojson.Unmarshal(raw, hm); err != nil {
		return fmt.Sprintf("invalid header matcher %s: %v", raw, err), nil, ""
	}
	m, err := sim.NewHeaderMatcher(hm)
	if err != nil {
		return fmt.Sprintf("invalid header matcher %s: %v", raw, err), nil, ""
	}
	if m.Match(h) {
		return "", nil, ""
	}
	actual, present := h.Get(m.Name())
	actualValue := "NULL"
	if present {
		actualValue = actual
	}
	tt := testType + "." + specifierName(hm)
	switch s := hm.GetHeaderMatchSpecifier().(type) {
	case nil, *routev3.HeaderMatcher_PresentMatch:
		inv := hm.GetInvertMatch()
		return fmt.Sprintf("expected: [has(%s):%t], actual: [has(%s):%t], test type: %s", hm.GetName(), !inv, hm.GetName(), inv, tt), hm, actual
	case *routev3.HeaderMatcher_StringMatch:
		if exact, ok := s.StringMatch.GetMatchPattern().(*matcherv3.StringMatcher_Exact); ok {
			not := ""
			if hm.GetInvertMatch() {
				not = "NOT "
			}
			return fmt.Sprintf("expected: [%s: %s], actual: %s[%s: %s], test type: %s", hm.GetName(), exact.Exact, not, hm.GetName(), actualValue, tt), hm, actual
		}
	}
	return fmt.Sprintf("actual: [%s: %s], test type: %s", hm.GetName(), actualValue, tt), hm, actual
}
