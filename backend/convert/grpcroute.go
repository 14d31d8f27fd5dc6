package convert

import (
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
)

// grpcRoute is the part of a gateway.networking.k8s.io/v1 GRPCRoute the
// importer reads.
type grpcRoute struct {
	Spec struct {
		ParentRefs []parentRef `json:"parentRefs"`
		Hostnames  []string    `json:"hostnames"`
		Rules      []struct {
			Matches     []grpcMatch  `json:"matches"`
			Filters     []httpFilter `json:"filters"`
			BackendRefs []backendRef `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
}

type grpcMatch struct {
	Method *struct {
		Type    string `json:"type"`
		Service string `json:"service"`
		Method  string `json:"method"`
	} `json:"method"`
	Headers []valueMatch `json:"headers"`
}

// grpcRoute converts a GRPCRoute: a method match becomes conditions on the
// gRPC service and method (the request path /service/method), the filters
// and backends are read as an HTTPRoute's, and the upstreams speak gRPC.
// Precedence follows the GRPCRoute rules: hostnames as for HTTPRoutes,
// then the most specific method match (service and method before either
// alone), then the header count.
func (b *builder) grpcRoute(d document, gr grpcRoute) {
	obj, ns := d.ref(), d.namespace()
	if d.APIVersion != "gateway.networking.k8s.io/v1" {
		b.issue(obj, "apiVersion", "read as gateway.networking.k8s.io/v1")
	}
	b.annotations(d, "annotations are not imported")
	groups, at, ok := b.routeAttachment(d, gr.Spec.ParentRefs, gr.Spec.Hostnames)
	if !ok {
		return
	}
	for ri, rule := range gr.Spec.Rules {
		rp := fmt.Sprintf("spec.rules[%d]", ri)
		for fi, f := range rule.Filters {
			if f.Type == "RequestRedirect" || f.Type == "URLRewrite" {
				b.issue(obj, fmt.Sprintf("%s.filters[%d]", rp, fi), "filter %s is not part of GRPCRoute: not imported", f.Type)
			}
		}
		action, ok := b.ruleAction(obj, ns, rp, httpRule{Filters: grpcFilters(rule.Filters), BackendRefs: rule.BackendRefs}, at)
		if !ok {
			continue
		}
		for _, f := range action.Forward {
			b.grpcUpstream(f.Upstream)
		}
		if action.Mirror != nil {
			b.grpcUpstream(action.Mirror.Upstream)
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []grpcMatch{{}} // no matches: every gRPC request
		}
		for mi, m := range matches {
			mp := fmt.Sprintf("%s.matches[%d]", rp, mi)
			cs := []model.Condition{model.Pred(model.FieldGRPC, model.OpPresent, "")}
			// pathLen ranks service+method (2) over one of them (1) over none.
			key := specificity{headers: len(m.Headers), tie: []string{ns, d.Metadata.Name}, tiePos: []int{ri, mi}}
			if mm := m.Method; mm != nil {
				if mm.Service == "" && mm.Method == "" {
					b.issue(obj, mp+".method", "a method match needs a service or a method: match skipped")
					continue
				}
				op := model.OpEquals
				switch mm.Type {
				case "", "Exact":
				case "RegularExpression":
					op = model.OpRegex
				default:
					b.issue(obj, mp+".method.type", "unknown match type %q: match skipped", mm.Type)
					continue
				}
				if mm.Service != "" {
					key.pathLen++
					cs = append(cs, model.Pred(model.FieldGRPCService, op, mm.Service))
				}
				if mm.Method != "" {
					key.pathLen++
					cs = append(cs, model.Pred(model.FieldGRPCMethod, op, mm.Method))
				}
			}
			for hi, h := range m.Headers {
				cs = append(cs, valuePred(model.FieldHeader, h))
				if h.Type != "" && h.Type != "Exact" && h.Type != "RegularExpression" {
					b.issue(obj, fmt.Sprintf("%s.headers[%d].type", mp, hi), "unknown match type %q, read as Exact", h.Type)
				}
			}
			b.addPerHost(d, groups, at, ri, mi, key, cs, action)
		}
	}
}

// grpcFilters keeps the filters a GRPCRoute may hold; the others were
// reported by the caller.
func grpcFilters(fs []httpFilter) []httpFilter {
	var out []httpFilter
	for _, f := range fs {
		if f.Type != "RequestRedirect" && f.Type != "URLRewrite" {
			out = append(out, f)
		}
	}
	return out
}

// grpcUpstream marks an upstream a GRPCRoute forwards to as gRPC, so it is
// reached over HTTP/2.
func (b *builder) grpcUpstream(name string) {
	u := b.upstreams[name]
	u.Protocol = model.UpstreamGRPC
	b.upstreams[name] = u
}
