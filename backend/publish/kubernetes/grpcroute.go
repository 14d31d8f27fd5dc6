package kubernetes

import (
	"slices"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/publish/export"
)

// GRPCRouteKind is the kind of the routes exported for gRPC rules.
const GRPCRouteKind = "GRPCRoute"

// GRPCRoute is a gateway.networking.k8s.io/v1 GRPCRoute: the export of a
// rule that matches gRPC service or method.
type GRPCRoute struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   RouteMeta     `json:"metadata"`
	Spec       GRPCRouteSpec `json:"spec"`
}

// GRPCRouteSpec is a GRPCRoute's spec.
type GRPCRouteSpec struct {
	ParentRefs []ParentRef     `json:"parentRefs"`
	Hostnames  []string        `json:"hostnames,omitempty"`
	Rules      []GRPCRouteRule `json:"rules"`
}

// GRPCRouteRule is one rule of a GRPCRoute.
type GRPCRouteRule struct {
	Matches     []GRPCRouteMatch `json:"matches,omitempty"`
	Filters     []HTTPFilter     `json:"filters,omitempty"`
	BackendRefs []BackendRef     `json:"backendRefs,omitempty"`
}

// GRPCRouteMatch is a method match and header matches.
type GRPCRouteMatch struct {
	Method  *GRPCMethodMatch `json:"method,omitempty"`
	Headers []ValueMatch     `json:"headers,omitempty"`
}

// GRPCMethodMatch matches the service and method of a call.
type GRPCMethodMatch struct {
	Type    string `json:"type,omitempty"`
	Service string `json:"service,omitempty"`
	Method  string `json:"method,omitempty"`
}

// isGRPC reports whether a rule tests gRPC service or method, which makes
// it a GRPCRoute.
func isGRPC(r *model.Route) bool { return hasGRPC(r.When) }

func hasGRPC(c model.Condition) bool {
	switch c.Field {
	case model.FieldGRPC, model.FieldGRPCService, model.FieldGRPCMethod:
		return true
	}
	if c.Not != nil && hasGRPC(*c.Not) {
		return true
	}
	return slices.ContainsFunc(c.All, hasGRPC) || slices.ContainsFunc(c.Any, hasGRPC)
}

func exportGRPCRule(ws model.Workspace, r *model.Route, gateway, namespace string, rep *export.Report) (GRPCRoute, bool) {
	gr := GRPCRoute{
		APIVersion: GatewayAPIGroupVersion, Kind: GRPCRouteKind,
		Metadata: ruleMeta(r, gateway, namespace),
		Spec:     GRPCRouteSpec{ParentRefs: parentRefs(r, gateway)},
	}
	if export.Guarded(rep, r) {
		return gr, false
	}
	alts, err := export.Alternatives(r.When)
	if err != nil {
		rep.Skip(r.Name, "when", "%v", err)
		return gr, false
	}
	var rule GRPCRouteRule
	var hosts []string
	for i, alt := range alts {
		m, altHosts, ok := exportGRPCMatch(r.Name, alt, rep)
		if !ok {
			return gr, false
		}
		if i > 0 && !slices.Equal(hosts, altHosts) {
			rep.Skip(r.Name, "when", "alternatives match different hosts; GRPCRoute hostnames apply to the whole route")
			return gr, false
		}
		hosts = altHosts
		if m.Method != nil || m.Headers != nil {
			rule.Matches = append(rule.Matches, m)
		}
	}
	gr.Spec.Hostnames = hosts
	a := r.Then
	switch {
	case a.Respond != nil, a.Redirect != nil:
		rep.Skip(r.Name, "then", "a GRPCRoute only forwards: direct responses and redirects have no equivalent")
		return gr, false
	}
	rule.BackendRefs = backendRefs(ws, r, GRPCRouteKind, namespace, rep)
	if len(rule.BackendRefs) == 0 {
		rep.Skip(r.Name, "then.forward", "no Kubernetes backend to send to")
		return gr, false
	}
	if a.Rewrite != nil {
		rep.Add(r.Name, "then.rewrite", "a GRPCRoute has no rewrites")
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
		rep.Add(r.Name, "then.timeout", "a GRPCRoute has no timeouts: %s not exported", time.Duration(a.Timeout))
	}
	if a.Retries != nil {
		rep.Add(r.Name, "then.retries", "retries are not part of the Gateway API's standard channel")
	}
	export.UnsupportedPolicies(rep, r)
	gr.Spec.Rules = []GRPCRouteRule{rule}
	return gr, true
}

// exportGRPCMatch maps one alternative of a gRPC rule: hosts, the gRPC
// service and method (both exact or both regular expressions) and
// headers.
func exportGRPCMatch(rule string, alt []export.Predicate, rep *export.Report) (GRPCRouteMatch, []string, bool) {
	var m GRPCRouteMatch
	var hosts []string
	fail := func(p export.Predicate, format string, args ...any) (GRPCRouteMatch, []string, bool) {
		rep.Skip(rule, p.Path, format, args...)
		return m, nil, false
	}
	for _, p := range alt {
		field, key, ok := model.ParseField(p.Field)
		if !ok {
			return fail(p, "unknown field %q", p.Field)
		}
		switch field {
		case model.FieldHost:
			switch p.Op {
			case model.OpEquals:
				hosts = append(hosts, p.Value)
			case model.OpIn:
				hosts = append(hosts, p.Values...)
			default:
				return fail(p, "host %s is not expressible as GRPCRoute hostnames", p.Op)
			}
		case model.FieldGRPC:
			if p.Op != model.OpPresent {
				return fail(p, "a GRPCRoute only matches gRPC requests")
			}
		case model.FieldGRPCService, model.FieldGRPCMethod:
			typ := "Exact"
			switch p.Op {
			case model.OpEquals:
			case model.OpRegex:
				typ = "RegularExpression"
			default:
				return fail(p, "%s %s is not expressible", field, p.Op)
			}
			if m.Method == nil {
				m.Method = &GRPCMethodMatch{Type: typ}
			} else if m.Method.Type != typ {
				return fail(p, "service and method must both be exact or both regular expressions")
			}
			if field == model.FieldGRPCService {
				m.Method.Service = p.Value
			} else {
				m.Method.Method = p.Value
			}
		case model.FieldHeader:
			switch p.Op {
			case model.OpEquals:
				m.Headers = append(m.Headers, ValueMatch{Type: "Exact", Name: key, Value: p.Value})
			case model.OpRegex:
				m.Headers = append(m.Headers, ValueMatch{Type: "RegularExpression", Name: key, Value: p.Value})
			default:
				return fail(p, "header %s is not expressible", p.Op)
			}
		default:
			return fail(p, "%s conditions are not expressible in a GRPCRoute", field)
		}
	}
	return m, hosts, true
}
