package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// The HTTPRoute shapes below are the part of gateway.networking.k8s.io/v1
// the importer reads. They are wider than the exporter's in
// backend/publish/kubernetes (group/kind on refs, mirrors, extension refs,
// per-backend filters), because an import must notice what it cannot map.

type httpRoute struct {
	Spec struct {
		ParentRefs []struct {
			Name        string `json:"name"`
			Namespace   string `json:"namespace"`
			SectionName string `json:"sectionName"`
			Port        int    `json:"port"`
		} `json:"parentRefs"`
		Hostnames []string   `json:"hostnames"`
		Rules     []httpRule `json:"rules"`
	} `json:"spec"`
}

type httpRule struct {
	Matches     []httpMatch  `json:"matches"`
	Filters     []httpFilter `json:"filters"`
	BackendRefs []backendRef `json:"backendRefs"`
	Timeouts    *struct {
		Request        string `json:"request"`
		BackendRequest string `json:"backendRequest"`
	} `json:"timeouts"`
	SessionPersistence json.RawMessage `json:"sessionPersistence"`
	Retry              json.RawMessage `json:"retry"`
}

type httpMatch struct {
	Path *struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"path"`
	Headers     []valueMatch `json:"headers"`
	QueryParams []valueMatch `json:"queryParams"`
	Method      string       `json:"method"`
}

type valueMatch struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type headerModifier struct {
	Set []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"set"`
	Add []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"add"`
	Remove []string `json:"remove"`
}

type pathModifier struct {
	Type               string `json:"type"`
	ReplaceFullPath    string `json:"replaceFullPath"`
	ReplacePrefixMatch string `json:"replacePrefixMatch"`
}

type httpFilter struct {
	Type                   string          `json:"type"`
	RequestHeaderModifier  *headerModifier `json:"requestHeaderModifier"`
	ResponseHeaderModifier *headerModifier `json:"responseHeaderModifier"`
	RequestRedirect        *struct {
		Scheme     string        `json:"scheme"`
		Hostname   string        `json:"hostname"`
		Path       *pathModifier `json:"path"`
		Port       int           `json:"port"`
		StatusCode int           `json:"statusCode"`
	} `json:"requestRedirect"`
	URLRewrite *struct {
		Hostname string        `json:"hostname"`
		Path     *pathModifier `json:"path"`
	} `json:"urlRewrite"`
	RequestMirror *struct {
		BackendRef backendRef `json:"backendRef"`
		Percent    *int       `json:"percent"`
		Fraction   *struct {
			Numerator   int `json:"numerator"`
			Denominator int `json:"denominator"`
		} `json:"fraction"`
	} `json:"requestMirror"`
}

type backendRef struct {
	Group     string       `json:"group"`
	Kind      string       `json:"kind"`
	Name      string       `json:"name"`
	Namespace string       `json:"namespace"`
	Port      int          `json:"port"`
	Weight    *int         `json:"weight"`
	Filters   []httpFilter `json:"filters"`
}

// GatewayAPI converts every gateway.networking.k8s.io/v1 HTTPRoute of data
// (multi-document YAML) into routes of gateway. Other documents are
// reported and skipped.
func GatewayAPI(data []byte, gateway string) (Result, error) {
	return convertDocuments(data, gateway, "gateway.networking.k8s.io HTTPRoutes",
		func(d document) bool {
			return d.Kind == "HTTPRoute" && strings.HasPrefix(d.APIVersion, "gateway.networking.k8s.io/")
		},
		(*builder).httpRoute)
}

func (b *builder) httpRoute(d document, hr httpRoute) {
	obj, ns := d.ref(), d.namespace()
	if d.APIVersion != "gateway.networking.k8s.io/v1" {
		b.issue(obj, "apiVersion", "read as gateway.networking.k8s.io/v1")
	}
	b.annotations(d, "annotations are not imported")
	for i, p := range hr.Spec.ParentRefs {
		if p.SectionName != "" || p.Port != 0 {
			b.issue(obj, fmt.Sprintf("spec.parentRefs[%d]", i), "sectionName and port are not imported: the routes apply to every listener of gateway %s", b.gateway)
		}
	}
	hosts, tier, hasHost := hostCondition(hr.Spec.Hostnames)
	for ri, rule := range hr.Spec.Rules {
		rp := fmt.Sprintf("spec.rules[%d]", ri)
		action, ok := b.ruleAction(obj, ns, rp, rule)
		if !ok {
			continue
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []httpMatch{{}} // no matches: every request (PathPrefix "/")
		}
		for mi, m := range matches {
			mp := fmt.Sprintf("%s.matches[%d]", rp, mi)
			var cs []model.Condition
			key := specificity{hostTier: tier, method: m.Method != "", headers: len(m.Headers), queries: len(m.QueryParams),
				tie: []string{ns, d.Metadata.Name}, tiePos: []int{ri, mi}}
			if hasHost {
				cs = append(cs, hosts)
			}
			pathType, value := "PathPrefix", "/"
			if m.Path != nil {
				if m.Path.Type != "" {
					pathType = m.Path.Type
				}
				if m.Path.Value != "" {
					value = m.Path.Value
				}
			}
			key.pathLen = len(value)
			switch pathType {
			case "Exact":
				key.exactPath = true
				cs = append(cs, model.Pred(model.FieldPath, model.OpExact, value))
			case "PathPrefix":
				// Gateway API prefixes match whole segments: /foo matches
				// /foo and /foo/bar, not /foobar. A trailing slash is ignored.
				if v := strings.TrimSuffix(value, "/"); v != "" {
					value = v
				}
				cs = append(cs, segmentPrefix(value))
			case "RegularExpression":
				cs = append(cs, model.Pred(model.FieldPath, model.OpRegex, value))
			default:
				b.issue(obj, mp+".path.type", "unknown path match type %q: match skipped", pathType)
				continue
			}
			if m.Method != "" {
				cs = append(cs, model.Pred(model.FieldMethod, model.OpEquals, m.Method))
			}
			for hi, h := range m.Headers {
				cs = append(cs, valuePred(model.FieldHeader, h))
				if h.Type != "" && h.Type != "Exact" && h.Type != "RegularExpression" {
					b.issue(obj, fmt.Sprintf("%s.headers[%d].type", mp, hi), "unknown match type %q, read as Exact", h.Type)
				}
			}
			for qi, q := range m.QueryParams {
				cs = append(cs, valuePred(model.FieldQuery, q))
				if q.Type != "" && q.Type != "Exact" && q.Type != "RegularExpression" {
					b.issue(obj, fmt.Sprintf("%s.queryParams[%d].type", mp, qi), "unknown match type %q, read as Exact", q.Type)
				}
			}
			name := Name(fmt.Sprintf("%s-%s", ns, d.Metadata.Name))
			name = Name(fmt.Sprintf("%s-r%d-m%d", strings.TrimSuffix(name[:min(len(name), 52)], "-"), ri, mi))
			b.routes = append(b.routes, candidate{key: key, route: model.Route{
				Meta:        model.Meta{Name: name},
				Gateway:     b.gateway,
				Description: fmt.Sprintf("imported from HTTPRoute %s/%s, rule %d, match %d", ns, d.Metadata.Name, ri, mi),
				When:        all(cs),
				Then:        action,
			}})
		}
	}
}

func valuePred(kind string, v valueMatch) model.Condition {
	op := model.OpEquals
	if v.Type == "RegularExpression" {
		op = model.OpRegex
	}
	// Header names are case-insensitive; Envoy matches them lowercased.
	name := v.Name
	if kind == model.FieldHeader {
		name = strings.ToLower(name)
	}
	return model.Pred(model.KeyedField(kind, name), op, v.Value)
}

// ruleAction maps a rule's filters and backends to an action. It returns
// false when the rule cannot be imported at all.
func (b *builder) ruleAction(obj, ns, rp string, rule httpRule) (model.Action, bool) {
	var a model.Action
	for fi, f := range rule.Filters {
		fp := fmt.Sprintf("%s.filters[%d]", rp, fi)
		switch {
		case f.Type == "RequestHeaderModifier" && f.RequestHeaderModifier != nil:
			ensureHeaders(&a.Headers).Request = mutation(f.RequestHeaderModifier)
		case f.Type == "ResponseHeaderModifier" && f.ResponseHeaderModifier != nil:
			ensureHeaders(&a.Headers).Response = mutation(f.ResponseHeaderModifier)
		case f.Type == "RequestRedirect" && f.RequestRedirect != nil:
			r := f.RequestRedirect
			a.Redirect = &model.Redirect{Scheme: r.Scheme, Host: r.Hostname, Port: r.Port, Status: r.StatusCode}
			if r.Path != nil {
				a.Redirect.Path, a.Redirect.PathPrefix = r.Path.ReplaceFullPath, r.Path.ReplacePrefixMatch
			}
		case f.Type == "URLRewrite" && f.URLRewrite != nil:
			a.Rewrite = &model.Rewrite{Host: f.URLRewrite.Hostname}
			if p := f.URLRewrite.Path; p != nil {
				switch p.Type {
				case "ReplacePrefixMatch":
					a.Rewrite.PathPrefix = p.ReplacePrefixMatch
					if a.Rewrite.PathPrefix == "" {
						a.Rewrite.PathPrefix = "/"
					}
				case "ReplaceFullPath":
					a.Rewrite.PathRegex = &model.RegexSub{Pattern: "^.*$", Substitution: p.ReplaceFullPath}
				}
			}
		case f.Type == "RequestMirror" && f.RequestMirror != nil:
			if a.Mirror != nil {
				b.issue(obj, fp, "only one mirror per route: this one is not imported")
				continue
			}
			ref := f.RequestMirror.BackendRef
			up, ok := b.backend(obj, ns, fp+".backendRef", ref)
			if !ok {
				continue
			}
			a.Mirror = &model.Mirror{Upstream: up}
			if p := f.RequestMirror.Percent; p != nil {
				a.Mirror.Percent = float64(*p)
			} else if fr := f.RequestMirror.Fraction; fr != nil && fr.Denominator > 0 {
				a.Mirror.Percent = 100 * float64(fr.Numerator) / float64(fr.Denominator)
			}
		case f.Type == "ExtensionRef":
			b.issue(obj, fp, "ExtensionRef filters are implementation-specific: not imported")
		default:
			b.issue(obj, fp, "filter %s is not imported", f.Type)
		}
	}
	if t := rule.Timeouts; t != nil {
		if t.Request != "" {
			if d, err := time.ParseDuration(t.Request); err == nil {
				a.Timeout = model.Duration(d)
			} else {
				b.issue(obj, rp+".timeouts.request", "cannot read duration %q: not imported", t.Request)
			}
		}
		if t.BackendRequest != "" {
			b.issue(obj, rp+".timeouts.backendRequest", "per-try timeouts are not imported")
		}
	}
	if len(rule.Retry) > 0 {
		b.issue(obj, rp+".retry", "retry is not imported")
	}
	if len(rule.SessionPersistence) > 0 {
		b.issue(obj, rp+".sessionPersistence", "session persistence is not imported")
	}
	if a.Redirect != nil {
		if len(rule.BackendRefs) > 0 {
			b.issue(obj, rp+".backendRefs", "a redirect answers without forwarding: backendRefs ignored")
		}
		return a, true
	}
	for bi, ref := range rule.BackendRefs {
		bp := fmt.Sprintf("%s.backendRefs[%d]", rp, bi)
		if ref.Weight != nil && *ref.Weight == 0 {
			// Weight 0 sends no traffic; routedeck reads 0 as the default
			// weight, so the backend is left out instead.
			b.issue(obj, bp+".weight", "weight 0 receives no traffic: backend %s left out", ref.Name)
			continue
		}
		up, ok := b.backend(obj, ns, bp, ref)
		if !ok {
			continue
		}
		be := model.Backend{Upstream: up}
		if ref.Weight != nil {
			be.Weight = *ref.Weight
		} else {
			be.Weight = 1
		}
		for fi, f := range ref.Filters {
			fp := fmt.Sprintf("%s.filters[%d]", bp, fi)
			switch {
			case f.Type == "RequestHeaderModifier" && f.RequestHeaderModifier != nil:
				ensureHeaders(&be.Headers).Request = mutation(f.RequestHeaderModifier)
			case f.Type == "ResponseHeaderModifier" && f.ResponseHeaderModifier != nil:
				ensureHeaders(&be.Headers).Response = mutation(f.ResponseHeaderModifier)
			default:
				b.issue(obj, fp, "backend filter %s is not imported", f.Type)
			}
		}
		a.Forward = append(a.Forward, be)
	}
	if len(a.Forward) == 1 && a.Forward[0].Weight == 1 {
		a.Forward[0].Weight = 0 // the only backend: the default weight
	}
	if len(a.Forward) == 0 {
		// The spec answers 500 when a rule has no usable backend.
		b.issue(obj, rp+".backendRefs", "no usable backend: imported as a 500 response, as the Gateway API specifies")
		a.Respond = &model.Respond{Status: 500}
		a.Rewrite, a.Mirror = nil, nil
	}
	return a, true
}

// backend resolves a backendRef to an upstream name, reporting what it
// cannot use.
func (b *builder) backend(obj, ns, path string, ref backendRef) (string, bool) {
	if (ref.Group != "" && ref.Group != "core") || (ref.Kind != "" && ref.Kind != "Service") {
		b.issue(obj, path, "only Service backends are imported (got %s %s): skipped", ref.Kind, ref.Name)
		return "", false
	}
	if ref.Port == 0 {
		b.issue(obj, path+".port", "a Service backend needs a port: skipped")
		return "", false
	}
	if ref.Namespace != "" && ref.Namespace != ns {
		b.issue(obj, path+".namespace", "cross-namespace reference to %s/%s: imported, but no ReferenceGrant is checked", ref.Namespace, ref.Name)
		ns = ref.Namespace
	}
	return b.upstream(ns, ref.Name, ref.Port), true
}

func ensureHeaders(p **model.HeaderPolicy) *model.HeaderPolicy {
	if *p == nil {
		*p = &model.HeaderPolicy{}
	}
	return *p
}

func mutation(m *headerModifier) *model.HeaderMutation {
	out := &model.HeaderMutation{Remove: m.Remove}
	for _, h := range m.Set {
		if out.Set == nil {
			out.Set = map[string]string{}
		}
		out.Set[h.Name] = h.Value
	}
	for _, h := range m.Add {
		if out.Add == nil {
			out.Add = map[string]string{}
		}
		out.Add[h.Name] = h.Value
	}
	return out
}

// annotations reports every annotation of d (but kubectl's own
// bookkeeping) as not imported, saying why.
func (b *builder) annotations(d document, why string) {
	for _, k := range slices.Sorted(maps.Keys(d.Metadata.Annotations)) {
		if !strings.HasPrefix(k, "kubectl.kubernetes.io/") {
			b.issue(d.ref(), "metadata.annotations["+k+"]", "%s", why)
		}
	}
}
