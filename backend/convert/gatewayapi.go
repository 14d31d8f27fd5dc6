package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// The HTTPRoute shapes below are the part of gateway.networking.k8s.io/v1
// the importer reads. They are wider than the exporter's in
// backend/publish/kubernetes (group/kind on refs, mirrors, extension refs,
// per-backend filters), because an import must notice what it cannot map.

type httpRoute struct {
	Spec struct {
		ParentRefs []parentRef `json:"parentRefs"`
		Hostnames  []string    `json:"hostnames"`
		Rules      []httpRule  `json:"rules"`
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
	CORS *struct {
		AllowOrigins     []string `json:"allowOrigins"`
		AllowCredentials *bool    `json:"allowCredentials"`
		AllowMethods     []string `json:"allowMethods"`
		AllowHeaders     []string `json:"allowHeaders"`
		ExposeHeaders    []string `json:"exposeHeaders"`
		MaxAge           *int     `json:"maxAge"`
	} `json:"cors"`
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

// GatewayAPI converts the gateway.networking.k8s.io/v1 objects of data
// (multi-document YAML) for gateway: the Gateway named gateway (or the
// only Gateway of the input) becomes the gateway with its listeners, and
// the HTTPRoutes and GRPCRoutes attached to it become its routes. Without
// any Gateway in the input, every route is imported for all the listeners
// of an existing gateway. Other documents are reported and skipped.
func GatewayAPI(data []byte, gateway string) (Result, error) {
	docs, err := splitDocuments(data)
	if err != nil {
		return Result{}, err
	}
	b := newBuilder(gateway)
	var gateways, routes []document
	for _, d := range docs {
		switch {
		case d.APIVersion == "v1" && d.Kind == "Service":
			// Services say which backendRefs resolve; they are not
			// imported themselves (their endpoints are discovered).
			if b.services == nil {
				b.services = map[string]bool{}
			}
			b.services[d.namespace()+"/"+d.Metadata.Name] = true
			continue
		case !strings.HasPrefix(d.APIVersion, "gateway.networking.k8s.io/"):
		case d.Kind == "Gateway":
			gateways = append(gateways, d)
			continue
		case d.Kind == "HTTPRoute" || d.Kind == "GRPCRoute":
			routes = append(routes, d)
			continue
		}
		b.issue(d.ref(), "", "skipped: only gateway.networking.k8s.io Gateways, HTTPRoutes and GRPCRoutes are imported (apiVersion %s)", d.APIVersion)
	}
	src, err := pickSource(gateways, gateway)
	if err != nil {
		return Result{}, err
	}
	var bad model.Problems
	for i, d := range gateways {
		if &gateways[i] == src {
			var gw k8sGateway
			if err := json.Unmarshal(d.raw, &gw); err != nil {
				decodeProblem(&bad, d.ref()+":", err)
				continue
			}
			b.source = b.gatewayObject(d, gw)
			continue
		}
		b.issue(d.ref(), "", "skipped: another Gateway than the one imported as %s", gateway)
	}
	decoded := decodeRoutes(routes)
	b.routes = slices.Grow(b.routes, len(routes)) // one or more each
	for i, d := range routes {
		switch r := decoded[i].(type) {
		case error:
			decodeProblem(&bad, d.ref()+":", r)
		case *httpRoute:
			b.httpRoute(d, *r)
		case *grpcRoute:
			b.grpcRoute(d, *r)
		}
	}
	if err := bad.Err(); err != nil {
		return Result{}, err
	}
	return b.result(), nil
}

// newRoute is a new *httpRoute, or *grpcRoute for kind GRPCRoute.
func newRoute(kind string) any {
	if kind == "GRPCRoute" {
		return new(grpcRoute)
	}
	return new(httpRoute)
}

// decodeRoutes decodes the HTTPRoutes and GRPCRoutes, spread over the
// processors: each gives a *httpRoute, a *grpcRoute or its error.
func decodeRoutes(routes []document) []any {
	out := make([]any, len(routes))
	workers := min(runtime.GOMAXPROCS(0), len(routes)/64+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(routes); i += workers {
				if routes[i].route != nil {
					out[i] = routes[i].route
					continue
				}
				v := newRoute(routes[i].Kind)
				if err := json.Unmarshal(routes[i].raw, v); err != nil {
					v = err
				}
				out[i] = v
			}
		})
	}
	wg.Wait()
	return out
}

// routeName is the name of the route imported from match mi of rule ri of
// route kind ns/name for gateway: unique and the same at every import. The
// parts are joined with '.', which a namespace cannot hold, so two
// objects never share a name; the gateway is part of it since one object
// may be imported for several gateways.
func (b *builder) routeName(kind, ns, name string, ri, mi int) string {
	k := "http"
	if kind == "GRPCRoute" {
		k = "grpc"
	}
	return Name(fmt.Sprintf("%s.%s.%s.%s.r%d.m%d", b.gateway, k, ns, name, ri, mi))
}

// hostGroup is one hostname a route matches, with its precedence: the
// Gateway API prefers the route whose matching hostname has the most
// characters, exact names before wildcards, so a route with several
// hostnames becomes one route per hostname.
type hostGroup struct {
	cond            model.Condition
	has             bool
	exactLen, chars int
}

func (g hostGroup) key(k specificity) specificity {
	k.exactHostLen, k.hostLen = g.exactLen, g.chars
	return k
}

// routeAttachment resolves where a route applies: its hostnames and the
// listeners it attaches to. ok is false when the route attaches to no
// listener of the imported gateway.
func (b *builder) routeAttachment(d document, refs []parentRef, hostnames []string) (groups []hostGroup, at attachment, ok bool) {
	obj, ns := d.ref(), d.namespace()
	at = b.attach(obj, ns, d.Kind, refs)
	if !at.all && len(at.listeners) == 0 {
		b.issue(obj, "spec.parentRefs", "attaches to no listener of Gateway %s/%s: skipped", b.source.namespace, b.source.name)
		return nil, at, false
	}
	hosts, anyHost := routeHosts(at, hostnames)
	if !anyHost && len(hosts) == 0 {
		b.issue(obj, "spec.hostnames", "no hostname is accepted by the listeners the route attaches to: skipped")
		return nil, at, false
	}
	if at.mixedHosts {
		b.issue(obj, "spec.parentRefs", "attaches to listeners on several ports that accept different hostnames: the route matches the hostnames of all of them on each of those ports")
	}
	if anyHost {
		return []hostGroup{{}}, at, true
	}
	for _, h := range hosts {
		g := hostGroup{cond: model.Pred(model.FieldHost, model.OpEquals, h), has: true, chars: len(h)}
		if !strings.HasPrefix(h, "*") {
			g.exactLen = len(h)
		}
		groups = append(groups, g)
	}
	return groups, at, true
}

// matchName is the name of the route for hostname group gi of match mi of
// rule ri: the hostname's index is added only when there are several.
func (b *builder) matchName(d document, groups []hostGroup, gi, ri, mi int) string {
	if len(groups) == 1 {
		return b.routeName(d.Kind, d.namespace(), d.Metadata.Name, ri, mi)
	}
	return Name(fmt.Sprintf("%s.h%d", b.routeName(d.Kind, d.namespace(), d.Metadata.Name, ri, mi), gi))
}

func (b *builder) httpRoute(d document, hr httpRoute) {
	obj, ns := d.ref(), d.namespace()
	if d.APIVersion != "gateway.networking.k8s.io/v1" {
		b.issue(obj, "apiVersion", "read as gateway.networking.k8s.io/v1")
	}
	b.annotations(d, "annotations are not imported")
	groups, at, ok := b.routeAttachment(d, hr.Spec.ParentRefs, hr.Spec.Hostnames)
	if !ok {
		return
	}
	for ri, rule := range hr.Spec.Rules {
		rp := fmt.Sprintf("spec.rules[%d]", ri)
		action, ok := b.ruleAction(obj, ns, rp, rule, at)
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
			key := specificity{method: m.Method != "", headers: len(m.Headers), queries: len(m.QueryParams),
				tie: []string{ns, d.Metadata.Name}, tiePos: []int{ri, mi}}
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
			act := action
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
				act = prefixReplacement(act, value)
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
			b.addPerHost(d, groups, at, ri, mi, key, cs, act)
		}
	}
}

// addPerHost adds the route of match mi of rule ri once per hostname group.
func (b *builder) addPerHost(d document, groups []hostGroup, at attachment, ri, mi int, key specificity, cs []model.Condition, act model.Action) {
	for gi, g := range groups {
		when := cs
		if g.has {
			when = append([]model.Condition{g.cond}, cs...)
		}
		b.routes = append(b.routes, candidate{key: g.key(key), route: model.Route{
			Meta:        model.Meta{Name: b.matchName(d, groups, gi, ri, mi)},
			Gateway:     b.gateway,
			Listeners:   slices.Clone(at.names),
			Description: fmt.Sprintf("imported from %s %s/%s, rule %d, match %d", d.Kind, d.namespace(), d.Metadata.Name, ri, mi),
			When:        all(when),
			Then:        act,
		}})
	}
}

// prefixReplacement gives a ReplacePrefixMatch its Gateway API meaning for
// the matched prefix. Envoy's prefix rewrite replaces the characters of
// the prefix only, so "/" for the prefix /strip would send /strip/three
// as //three; the specification wants /three (and / for /strip itself).
// The matched segments and the slashes after them are replaced by a
// regular expression instead. A replacement with a trailing slash has it
// trimmed for the same reason.
func prefixReplacement(a model.Action, matched string) model.Action {
	fix := func(repl string) (prefix string, regex *model.RegexSub) {
		if matched == "/" {
			// Every path matches "/": the replacement goes in front.
			return repl, nil
		}
		if repl == "/" {
			return "", &model.RegexSub{Pattern: "^" + regexp.QuoteMeta(matched) + "/*", Substitution: "/"}
		}
		return strings.TrimSuffix(repl, "/"), nil
	}
	if rw := a.Rewrite; rw != nil && rw.PathPrefix != "" {
		c := *rw
		c.PathPrefix, c.PathRegex = fix(rw.PathPrefix)
		a.Rewrite = &c
	}
	if rd := a.Redirect; rd != nil && rd.PathPrefix != "" {
		c := *rd
		p, re := fix(rd.PathPrefix)
		if re != nil {
			// A redirect has no regex rewrite in routedeck; "/" replaces
			// the prefix, which leaves the slash that follows it.
			p = "/"
		}
		c.PathPrefix = p
		a.Redirect = &c
	}
	return a
}

// corsPolicy maps a CORS filter. An origin with a '*' in its host (as in
// https://*.example.com) becomes a regular expression; maxAge defaults to
// the specification's 5 seconds.
func corsPolicy(origins, methods, headers, expose []string, maxAge *int, creds *bool) *model.CORS {
	c := &model.CORS{AllowMethods: methods, AllowHeaders: headers, ExposeHeaders: expose,
		MaxAge: model.Duration(5 * time.Second), AllowCredentials: creds != nil && *creds}
	if maxAge != nil {
		c.MaxAge = model.Duration(time.Duration(*maxAge) * time.Second)
	}
	for _, o := range origins {
		if o != "*" && strings.Contains(o, "*") {
			o = "regex:" + strings.ReplaceAll(regexp.QuoteMeta(o), `\*`, `[^/]*`)
		}
		c.AllowOrigins = append(c.AllowOrigins, o)
	}
	return c
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
func (b *builder) ruleAction(obj, ns, rp string, rule httpRule, at attachment) (model.Action, bool) {
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
			if a.Redirect.Status == 0 {
				a.Redirect.Status = 302 // the Gateway API default; Envoy's is 301
			}
			if r.Port == 0 && r.Scheme == "" && r.Hostname != "" {
				// A new hostname replaces the Host header with its port;
				// the specification keeps the listener's port then.
				if p := at.listenerPort(); p != 0 && p != 80 && p != 443 {
					a.Redirect.Port = p
				}
			}
			if r.Path != nil {
				a.Redirect.Path, a.Redirect.PathPrefix = r.Path.ReplaceFullPath, r.Path.ReplacePrefixMatch
				if r.Path.Type == "ReplacePrefixMatch" && r.Path.ReplacePrefixMatch == "/" {
					b.issue(obj, fp+".requestRedirect.path", "a redirect replaces the matched prefix by \"/\" and keeps the slash after it (/prefix/x redirects to //x), where the specification gives /x")
				}
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
		case f.Type == "CORS" && f.CORS != nil:
			a.CORS = corsPolicy(f.CORS.AllowOrigins, f.CORS.AllowMethods, f.CORS.AllowHeaders, f.CORS.ExposeHeaders, f.CORS.MaxAge, f.CORS.AllowCredentials)
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
			// The timeout of each request to a backend: Envoy's per-try
			// timeout, which bounds the first try too.
			if d, err := time.ParseDuration(t.BackendRequest); err == nil {
				a.Retries = &model.Retries{PerTryTimeout: model.Duration(d)}
			} else {
				b.issue(obj, rp+".timeouts.backendRequest", "cannot read duration %q: not imported", t.BackendRequest)
			}
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
		a.Rewrite, a.Mirror, a.Timeout, a.Retries = nil, nil, 0, nil
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
	if b.services != nil && !b.services[ns+"/"+ref.Name] {
		// The input holds the Services: one it lacks does not exist, and
		// the reference does not resolve.
		b.issue(obj, path, "Service %s/%s is not in the input: skipped", ns, ref.Name)
		return "", false
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
