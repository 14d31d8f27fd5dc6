package kubernetes

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/publish/export"
)

// The Gateway API group routes are exported to.
const (
	GatewayAPIGroupVersion = "gateway.networking.k8s.io/v1"
	HTTPRouteKind          = "HTTPRoute"
)

// The HTTPRoute types below are the subset of the Gateway API's v1 schema
// the exporter writes; field names and JSON tags follow the CRD exactly.
// (The Gateway API's own Go module pins other Kubernetes versions than
// this one, so the shapes are declared here.)

// HTTPRoute is a gateway.networking.k8s.io/v1 HTTPRoute.
type HTTPRoute struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   RouteMeta     `json:"metadata"`
	Spec       HTTPRouteSpec `json:"spec"`
}

// RouteMeta is the object metadata an exported route carries.
type RouteMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// HTTPRouteSpec is HTTPRoute.spec.
type HTTPRouteSpec struct {
	ParentRefs []ParentRef     `json:"parentRefs"`
	Hostnames  []string        `json:"hostnames,omitempty"`
	Rules      []HTTPRouteRule `json:"rules"`
}

// ParentRef attaches the route to a Gateway, or to one of its listeners.
type ParentRef struct {
	Name        string `json:"name"`
	Namespace   string `json:"namespace,omitempty"`
	SectionName string `json:"sectionName,omitempty"`
}

// parentRefs attaches a rule's route to the Gateway, or to the listeners
// the rule names: their names are the Gateway's listener names.
func parentRefs(r *model.Route, gateway string) []ParentRef {
	if len(r.Listeners) == 0 {
		return []ParentRef{{Name: gateway}}
	}
	out := make([]ParentRef, len(r.Listeners))
	for i, l := range r.Listeners {
		out[i] = ParentRef{Name: gateway, SectionName: l}
	}
	return out
}

// HTTPRouteRule is one rule of an HTTPRoute.
type HTTPRouteRule struct {
	Matches     []HTTPRouteMatch `json:"matches,omitempty"`
	Filters     []HTTPFilter     `json:"filters,omitempty"`
	BackendRefs []BackendRef     `json:"backendRefs,omitempty"`
	Timeouts    *RouteTimeouts   `json:"timeouts,omitempty"`
}

// HTTPRouteMatch is one alternative of a rule's matches (ANDed fields).
type HTTPRouteMatch struct {
	Path        *PathMatch   `json:"path,omitempty"`
	Headers     []ValueMatch `json:"headers,omitempty"`
	QueryParams []ValueMatch `json:"queryParams,omitempty"`
	Method      string       `json:"method,omitempty"`
}

// PathMatch types: Exact, PathPrefix, RegularExpression.
type PathMatch struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// ValueMatch is a header or query parameter match.
type ValueMatch struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HTTPFilter is one of the filters the exporter uses.
type HTTPFilter struct {
	Type                   string          `json:"type"`
	RequestHeaderModifier  *HeaderModifier `json:"requestHeaderModifier,omitempty"`
	ResponseHeaderModifier *HeaderModifier `json:"responseHeaderModifier,omitempty"`
	RequestRedirect        *Redirect       `json:"requestRedirect,omitempty"`
	URLRewrite             *URLRewrite     `json:"urlRewrite,omitempty"`
}

// HeaderModifier sets, adds and removes headers.
type HeaderModifier struct {
	Set    []HeaderValue `json:"set,omitempty"`
	Add    []HeaderValue `json:"add,omitempty"`
	Remove []string      `json:"remove,omitempty"`
}

// HeaderValue is a header name and value.
type HeaderValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Redirect is the RequestRedirect filter.
type Redirect struct {
	Scheme     string        `json:"scheme,omitempty"`
	Hostname   string        `json:"hostname,omitempty"`
	Path       *PathModifier `json:"path,omitempty"`
	Port       int           `json:"port,omitempty"`
	StatusCode int           `json:"statusCode,omitempty"`
}

// URLRewrite is the URLRewrite filter.
type URLRewrite struct {
	Hostname string        `json:"hostname,omitempty"`
	Path     *PathModifier `json:"path,omitempty"`
}

// PathModifier replaces the full path or the matched prefix.
type PathModifier struct {
	Type               string `json:"type"`
	ReplaceFullPath    string `json:"replaceFullPath,omitempty"`
	ReplacePrefixMatch string `json:"replacePrefixMatch,omitempty"`
}

// BackendRef is a weighted Service.
type BackendRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Port      int    `json:"port"`
	Weight    *int   `json:"weight,omitempty"`
}

// RouteTimeouts is HTTPRouteRule.timeouts.
type RouteTimeouts struct {
	Request string `json:"request,omitempty"`
}

// GatewayAPIExport is the HTTPRoutes and GRPCRoutes of a gateway and what
// did not translate.
type GatewayAPIExport struct {
	Routes     []HTTPRoute    `json:"routes"`
	GRPCRoutes []GRPCRoute    `json:"grpcRoutes,omitempty"`
	Report     []export.Issue `json:"report"`
}

// Objects returns the routes as objects to apply: the HTTPRoutes, then
// the GRPCRoutes.
func (e GatewayAPIExport) Objects() ([]runtime.Object, error) {
	out := make([]runtime.Object, 0, len(e.Routes)+len(e.GRPCRoutes))
	add := func(kind, name string, r any) error {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", kind, name, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("encode %s %s: %w", kind, name, err)
		}
		out = append(out, u)
		return nil
	}
	for _, r := range e.Routes {
		if err := add(HTTPRouteKind, r.Metadata.Name, r); err != nil {
			return nil, err
		}
	}
	for _, r := range e.GRPCRoutes {
		if err := add(GRPCRouteKind, r.Metadata.Name, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ExportGatewayAPI turns gateway's rules in ws into HTTPRoutes in
// namespace, one per rule, attached to a Gateway of the same name. Parts
// the Gateway API cannot express are listed in the report; a rule with no
// usable action (a mock response, no Kubernetes backend) is left out.
func ExportGatewayAPI(ws model.Workspace, gateway, namespace string) GatewayAPIExport {
	if namespace == "" {
		namespace = "default"
	}
	var rep export.Report
	out := GatewayAPIExport{Routes: []HTTPRoute{}}
	rules := export.SortedRules(ws, gateway)
	if len(rules) > 1 {
		rep.Add("", "priority", "HTTPRoutes do not keep rule order: the Gateway API prefers the most specific match "+
			"(exact path, longest prefix, method, most headers, most query parameters), so rules that overlap may pick differently")
	}
	for _, r := range rules {
		if isGRPC(r) {
			if gr, ok := exportGRPCRule(ws, r, gateway, namespace, &rep); ok {
				out.GRPCRoutes = append(out.GRPCRoutes, gr)
			}
			continue
		}
		if hr, ok := exportRule(ws, r, gateway, namespace, &rep); ok {
			out.Routes = append(out.Routes, hr)
		}
	}
	out.Report = rep.Issues
	if out.Report == nil {
		out.Report = []export.Issue{}
	}
	return out
}

// ruleMeta names and labels the object a rule exports as, whatever its kind.
func ruleMeta(r *model.Route, gateway, namespace string) RouteMeta {
	return RouteMeta{Name: gateway + "-" + r.Name, Namespace: namespace,
		Labels:      map[string]string{labelManagedBy: "routedeck", labelInstance: gateway},
		Annotations: map[string]string{"routedeck.io/rule": r.Name, "routedeck.io/priority": fmt.Sprint(r.Priority)}}
}

func exportRule(ws model.Workspace, r *model.Route, gateway, namespace string, rep *export.Report) (HTTPRoute, bool) {
	hr := HTTPRoute{
		APIVersion: GatewayAPIGroupVersion, Kind: HTTPRouteKind,
		Metadata: ruleMeta(r, gateway, namespace),
		Spec:     HTTPRouteSpec{ParentRefs: parentRefs(r, gateway)},
	}
	if export.Guarded(rep, r) {
		return hr, false
	}
	alts, err := export.Alternatives(r.When)
	if err != nil {
		rep.Skip(r.Name, "when", "%v", err)
		return hr, false
	}
	rule := HTTPRouteRule{}
	var hosts []string
	for i, alt := range alts {
		m, altHosts, ok := exportMatch(r.Name, alt, rep)
		if !ok {
			return hr, false
		}
		if i > 0 && !slices.Equal(hosts, altHosts) {
			rep.Skip(r.Name, "when", "alternatives match different hosts; HTTPRoute hostnames apply to the whole route")
			return hr, false
		}
		hosts = altHosts
		if m.Path != nil || m.Method != "" || m.Headers != nil || m.QueryParams != nil {
			rule.Matches = append(rule.Matches, m)
		}
	}
	hr.Spec.Hostnames = hosts

	a := r.Then
	switch {
	case a.Respond != nil:
		rep.Skip(r.Name, "then.respond", "a direct (mock) response has no HTTPRoute equivalent")
		return hr, false
	case a.Redirect != nil:
		rd := a.Redirect
		red := &Redirect{Scheme: rd.Scheme, Hostname: rd.Host, Port: rd.Port, StatusCode: rd.Status}
		if red.StatusCode == 0 {
			red.StatusCode = 301
		}
		if red.StatusCode != 301 && red.StatusCode != 302 {
			rep.Add(r.Name, "then.redirect.status", "status %d is not in the Gateway API's core support (301, 302)", red.StatusCode)
		}
		switch {
		case rd.Path != "":
			red.Path = &PathModifier{Type: "ReplaceFullPath", ReplaceFullPath: rd.Path}
		case rd.PathPrefix != "":
			red.Path = &PathModifier{Type: "ReplacePrefixMatch", ReplacePrefixMatch: rd.PathPrefix}
		}
		if rd.StripQuery {
			rep.Add(r.Name, "then.redirect.stripQuery", "the Gateway API redirect cannot drop the query")
		}
		rule.Filters = append(rule.Filters, HTTPFilter{Type: "RequestRedirect", RequestRedirect: red})
	default:
		rule.BackendRefs = backendRefs(ws, r, HTTPRouteKind, namespace, rep)
		if len(rule.BackendRefs) == 0 {
			rep.Skip(r.Name, "then.forward", "no Kubernetes backend to send to")
			return hr, false
		}
	}
	if rw := a.Rewrite; rw != nil && a.Redirect == nil {
		ur := &URLRewrite{Hostname: rw.Host}
		switch {
		case rw.PathPrefix != "":
			ur.Path = &PathModifier{Type: "ReplacePrefixMatch", ReplacePrefixMatch: rw.PathPrefix}
		case rw.PathRegex != nil:
			rep.Add(r.Name, "then.rewrite.pathRegex", "regex rewrites have no Gateway API equivalent")
		case rw.PathTemplate != "":
			rep.Add(r.Name, "then.rewrite.pathTemplate", "template rewrites have no Gateway API equivalent")
		}
		if rw.HostFromHeader != "" || rw.AutoHost {
			rep.Add(r.Name, "then.rewrite", "host rewrites from a header or the upstream have no Gateway API equivalent")
		}
		if ur.Hostname != "" || ur.Path != nil {
			rule.Filters = append(rule.Filters, HTTPFilter{Type: "URLRewrite", URLRewrite: ur})
		}
	}
	if h := a.Headers; h != nil {
		if m := headerModifier(r.Name, "then.headers.request", h.Request, rep); m != nil {
			rule.Filters = append(rule.Filters, HTTPFilter{Type: "RequestHeaderModifier", RequestHeaderModifier: m})
		}
		if m := headerModifier(r.Name, "then.headers.response", h.Response, rep); m != nil {
			rule.Filters = append(rule.Filters, HTTPFilter{Type: "ResponseHeaderModifier", ResponseHeaderModifier: m})
		}
	}
	if a.Timeout > 0 {
		rule.Timeouts = &RouteTimeouts{Request: time.Duration(a.Timeout).String()}
	}
	if a.Retries != nil {
		rep.Add(r.Name, "then.retries", "retries are not part of the Gateway API's standard channel")
	}
	export.UnsupportedPolicies(rep, r)
	hr.Spec.Rules = []HTTPRouteRule{rule}
	return hr, true
}

// backendRefs are the Services a rule forwards to, reporting the upstreams
// that are not Services.
func backendRefs(ws model.Workspace, r *model.Route, kind, namespace string, rep *export.Report) []BackendRef {
	var out []BackendRef
	a := r.Then
	for i, b := range a.Forward {
		field := fmt.Sprintf("then.forward[%d]", i)
		u := export.Upstream(ws, b.Upstream)
		if u == nil || u.Kubernetes == nil {
			rep.Add(r.Name, field, "upstream %q is not a Kubernetes Service; %s backends are Services", b.Upstream, kind)
			continue
		}
		ref := BackendRef{Name: u.Kubernetes.Service, Port: u.Kubernetes.Port}
		if u.Kubernetes.Namespace != namespace {
			ref.Namespace = u.Kubernetes.Namespace
			rep.Add(r.Name, field, "Service %s/%s is in another namespace: it needs a ReferenceGrant there", u.Kubernetes.Namespace, u.Kubernetes.Service)
		}
		if len(a.Forward) > 1 {
			w := max(b.Weight, 0)
			ref.Weight = &w
		}
		if b.Headers != nil {
			rep.Add(r.Name, field+".headers", "per-backend header changes are not exported")
		}
		out = append(out, ref)
	}
	return out
}

func headerModifier(rule, field string, m *model.HeaderMutation, rep *export.Report) *HeaderModifier {
	if m == nil {
		return nil
	}
	out := &HeaderModifier{Remove: slices.Clone(m.Remove)}
	for _, k := range slices.Sorted(maps.Keys(m.Set)) {
		out.Set = append(out.Set, HeaderValue{Name: k, Value: m.Set[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(m.Add)) {
		out.Add = append(out.Add, HeaderValue{Name: k, Value: m.Add[k]})
	}
	if len(m.AddIfAbsent) > 0 {
		rep.Add(rule, field+".addIfAbsent", "adding only when absent has no Gateway API equivalent")
	}
	if out.Set == nil && out.Add == nil && out.Remove == nil {
		return nil
	}
	return out
}

// exportMatch maps one alternative. Host predicates become the route's
// hostnames; everything else the match. ok is false when the rule had to
// be skipped (reported).
func exportMatch(rule string, alt []export.Predicate, rep *export.Report) (HTTPRouteMatch, []string, bool) {
	var m HTTPRouteMatch
	var hosts []string
	fail := func(p export.Predicate, format string, args ...any) (HTTPRouteMatch, []string, bool) {
		rep.Skip(rule, p.Path, format, args...)
		return m, nil, false
	}
	for _, p := range alt {
		field, key, ok := model.ParseField(p.Field)
		if !ok {
			return fail(p, "unknown field %q", p.Field)
		}
		if p.IgnoreCase && field != model.FieldHost && field != model.FieldMethod {
			return fail(p, "case-insensitive matching is not expressible")
		}
		switch field {
		case model.FieldHost:
			switch {
			case p.Op == model.OpEquals:
				hosts = append(hosts, p.Value)
			case p.Op == model.OpIn:
				hosts = append(hosts, p.Values...)
			case p.Op == model.OpSuffix && strings.HasPrefix(p.Value, "."):
				hosts = append(hosts, "*"+p.Value)
			default:
				return fail(p, "host %s is not expressible as HTTPRoute hostnames", p.Op)
			}
		case model.FieldPath:
			if m.Path != nil {
				return fail(p, "a match has one path test")
			}
			switch p.Op {
			case model.OpEquals, model.OpExact:
				m.Path = &PathMatch{Type: "Exact", Value: p.Value}
			case model.OpSegmentPrefix:
				m.Path = &PathMatch{Type: "PathPrefix", Value: p.Value}
			case model.OpPrefix:
				m.Path = &PathMatch{Type: "PathPrefix", Value: p.Value}
				if !strings.HasSuffix(p.Value, "/") && p.Value != "/" {
					rep.Add(rule, p.Path, "PathPrefix matches whole segments: %q no longer matches %q", p.Value, p.Value+"x")
				}
			case model.OpRegex:
				m.Path = &PathMatch{Type: "RegularExpression", Value: p.Value}
				rep.Add(rule, p.Path, "RegularExpression path matches are implementation-specific")
			default:
				return fail(p, "path %s is not expressible", p.Op)
			}
		case model.FieldMethod:
			if p.Op != model.OpEquals {
				return fail(p, "method %s is not expressible", p.Op)
			}
			m.Method = strings.ToUpper(p.Value)
		case model.FieldHeader, model.FieldQuery:
			var vm ValueMatch
			switch p.Op {
			case model.OpEquals:
				vm = ValueMatch{Type: "Exact", Name: key, Value: p.Value}
			case model.OpRegex:
				vm = ValueMatch{Type: "RegularExpression", Name: key, Value: p.Value}
				rep.Add(rule, p.Path, "RegularExpression matches are implementation-specific")
			case model.OpPresent:
				vm = ValueMatch{Type: "RegularExpression", Name: key, Value: ".*"}
				rep.Add(rule, p.Path, "presence is exported as the implementation-specific regular expression .*")
			default:
				return fail(p, "%s %s is not expressible", field, p.Op)
			}
			if field == model.FieldHeader {
				m.Headers = append(m.Headers, vm)
			} else {
				m.QueryParams = append(m.QueryParams, vm)
			}
		default:
			return fail(p, "%s conditions are not expressible in an HTTPRoute", field)
		}
	}
	return m, hosts, true
}

// RoutesYAML renders the routes as multi-document YAML.
func (e GatewayAPIExport) RoutesYAML() ([]byte, error) {
	objs, err := e.Objects()
	if err != nil {
		return nil, err
	}
	return YAML(objs)
}
