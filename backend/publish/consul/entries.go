package consul

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/publish/export"
)

// EntriesExport is a gateway's routes as Consul config entries, and what
// did not translate.
//
// The gateway becomes a service-router named after it: each rule is a
// route of that router, in priority order (Consul also takes the first
// matching route). A weighted forward becomes a service-splitter of its
// own (<gateway>-<rule>), an upstream with tags a service-resolver subset
// of its Consul service, and every service involved gets service-defaults
// with protocol http, without which Consul refuses L7 routing.
type EntriesExport struct {
	Entries []api.ConfigEntry `json:"entries"`
	Report  []export.Issue    `json:"report"`
}

// ExportEntries renders gateway's rules in ws as config entries.
func ExportEntries(ws model.Workspace, gateway string) EntriesExport {
	var rep export.Report
	router := &api.ServiceRouterConfigEntry{Kind: api.ServiceRouter, Name: gateway,
		Meta: map[string]string{"managed-by": "routedeck"}}
	services := map[string]bool{gateway: true}
	resolvers := map[string]*api.ServiceResolverConfigEntry{}
	var splitters []api.ConfigEntry

	for _, r := range export.SortedRules(ws, gateway) {
		if export.Guarded(&rep, r) || export.ListenerBound(&rep, r) {
			continue
		}
		dest, ok := destination(ws, r, gateway, &rep, services, resolvers, &splitters)
		if !ok {
			continue
		}
		alts, err := export.Alternatives(r.When)
		if err != nil {
			rep.Skip(r.Name, "when", "%v", err)
			continue
		}
		var routes []api.ServiceRoute
		skipped := false
		for _, alt := range alts {
			m, ok := httpMatch(r.Name, alt, &rep)
			if !ok {
				skipped = true
				break
			}
			routes = append(routes, api.ServiceRoute{Match: m, Destination: dest})
		}
		if !skipped {
			router.Routes = append(router.Routes, routes...)
		}
	}

	out := EntriesExport{Report: rep.Issues}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		out.Entries = append(out.Entries, &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: name, Protocol: "http",
			Meta: map[string]string{"managed-by": "routedeck"}})
	}
	for _, name := range slices.Sorted(maps.Keys(resolvers)) {
		out.Entries = append(out.Entries, resolvers[name])
	}
	out.Entries = append(out.Entries, splitters...)
	out.Entries = append(out.Entries, router)
	if out.Report == nil {
		out.Report = []export.Issue{}
	}
	return out
}

// destination maps a rule's action to a router destination, adding the
// splitter and resolver entries it needs.
func destination(ws model.Workspace, r *model.Route, gateway string, rep *export.Report, services map[string]bool,
	resolvers map[string]*api.ServiceResolverConfigEntry, splitters *[]api.ConfigEntry) (*api.ServiceRouteDestination, bool) {
	a := r.Then
	switch {
	case a.Respond != nil:
		rep.Skip(r.Name, "then.respond", "Consul routers cannot answer by themselves")
		return nil, false
	case a.Redirect != nil:
		rep.Skip(r.Name, "then.redirect", "Consul routers cannot redirect")
		return nil, false
	}
	type target struct {
		service, subset string
		weight          int
	}
	var targets []target
	for i, b := range a.Forward {
		field := fmt.Sprintf("then.forward[%d]", i)
		u := export.Upstream(ws, b.Upstream)
		if u == nil || u.Consul == nil {
			rep.Add(r.Name, field, "upstream %q is not a Consul service", b.Upstream)
			continue
		}
		t := target{service: u.Consul.Service, weight: max(b.Weight, 0)}
		if len(a.Forward) == 1 && t.weight == 0 {
			t.weight = 1
		}
		if len(u.Consul.Tags) > 0 {
			t.subset = subsetName(u.Consul.Tags)
			res := resolvers[t.service]
			if res == nil {
				res = &api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: t.service,
					Subsets: map[string]api.ServiceResolverSubset{}, Meta: map[string]string{"managed-by": "routedeck"}}
				resolvers[t.service] = res
			}
			var filters []string
			for _, tag := range u.Consul.Tags {
				filters = append(filters, fmt.Sprintf("%q in Service.Tags", tag))
			}
			res.Subsets[t.subset] = api.ServiceResolverSubset{Filter: strings.Join(filters, " and ")}
		}
		if u.Consul.Datacenter != "" {
			rep.Add(r.Name, field, "datacenter %q is not exported; add a failover or redirect to the resolver", u.Consul.Datacenter)
		}
		if b.Headers != nil {
			rep.Add(r.Name, field+".headers", "per-backend header changes are not exported")
		}
		services[t.service] = true
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		rep.Skip(r.Name, "then.forward", "no Consul service to send to")
		return nil, false
	}
	dest := &api.ServiceRouteDestination{}
	if len(targets) == 1 {
		dest.Service, dest.ServiceSubset = targets[0].service, targets[0].subset
	} else {
		total := 0
		for _, t := range targets {
			total += t.weight
		}
		if total == 0 {
			rep.Skip(r.Name, "then.forward", "every backend has weight 0")
			return nil, false
		}
		name := gateway + "-" + r.Name
		sp := &api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: name, Meta: map[string]string{"managed-by": "routedeck"}}
		for _, t := range targets {
			sp.Splits = append(sp.Splits, api.ServiceSplit{Weight: float32(t.weight) * 100 / float32(total),
				Service: t.service, ServiceSubset: t.subset})
		}
		services[name] = true
		*splitters = append(*splitters, sp)
		dest.Service = name
	}
	if rw := a.Rewrite; rw != nil {
		switch {
		case rw.PathPrefix != "":
			dest.PrefixRewrite = rw.PathPrefix
		case rw.PathRegex != nil, rw.PathTemplate != "":
			rep.Add(r.Name, "then.rewrite", "only prefix rewrites have a Consul equivalent")
		}
		if rw.Host != "" || rw.HostFromHeader != "" || rw.AutoHost {
			rep.Add(r.Name, "then.rewrite", "host rewrites have no Consul router equivalent")
		}
	}
	if a.Timeout > 0 {
		dest.RequestTimeout = time.Duration(a.Timeout)
	}
	if rt := a.Retries; rt != nil {
		dest.NumRetries = uint32(rt.Attempts)
		for _, on := range rt.On {
			switch on {
			case model.Retry5xx, model.RetryGatewayError, model.RetryReset, model.RetryConnectFailure,
				model.RetryRefusedStream, model.RetryRetriable4xx:
				dest.RetryOn = append(dest.RetryOn, on)
			case model.RetryStatusCodes:
				for _, c := range rt.StatusCodes {
					dest.RetryOnStatusCodes = append(dest.RetryOnStatusCodes, uint32(c))
				}
			default:
				rep.Add(r.Name, "then.retries.on", "retry condition %q has no Consul equivalent", on)
			}
		}
		if rt.PerTryTimeout > 0 {
			dest.RequestTimeout = max(dest.RequestTimeout, time.Duration(rt.PerTryTimeout))
			rep.Add(r.Name, "then.retries.perTryTimeout", "Consul has no per-try timeout; the request timeout stays")
		}
	}
	if h := a.Headers; h != nil {
		dest.RequestHeaders = headerModifiers(r.Name, "then.headers.request", h.Request, rep)
		dest.ResponseHeaders = headerModifiers(r.Name, "then.headers.response", h.Response, rep)
	}
	export.UnsupportedPolicies(rep, r)
	return dest, true
}

func subsetName(tags []string) string {
	var b strings.Builder
	for i, t := range tags {
		if i > 0 {
			b.WriteByte('-')
		}
		for _, c := range strings.ToLower(t) {
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
				b.WriteRune(c)
			} else {
				b.WriteByte('-')
			}
		}
	}
	return b.String()
}

func headerModifiers(rule, field string, m *model.HeaderMutation, rep *export.Report) *api.HTTPHeaderModifiers {
	if m == nil {
		return nil
	}
	if len(m.AddIfAbsent) > 0 {
		rep.Add(rule, field+".addIfAbsent", "adding only when absent has no Consul equivalent")
	}
	return &api.HTTPHeaderModifiers{Add: m.Add, Set: m.Set, Remove: m.Remove}
}

// httpMatch maps one alternative; ok false means the rule was skipped.
func httpMatch(rule string, alt []export.Predicate, rep *export.Report) (*api.ServiceRouteMatch, bool) {
	h := &api.ServiceRouteHTTPMatch{}
	for _, p := range alt {
		field, key, ok := model.ParseField(p.Field)
		if !ok {
			rep.Skip(rule, p.Path, "unknown field %q", p.Field)
			return nil, false
		}
		if p.IgnoreCase && field != model.FieldMethod {
			rep.Skip(rule, p.Path, "case-insensitive matching is not expressible")
			return nil, false
		}
		bad := func() (*api.ServiceRouteMatch, bool) {
			rep.Skip(rule, p.Path, "%s %s is not expressible in a Consul service-router", field, p.Op)
			return nil, false
		}
		switch field {
		case model.FieldHost:
			// Dropping the test would widen the rule to every host.
			rep.Skip(rule, p.Path, "Consul routers do not match hosts (hosts belong to the ingress gateway's listener)")
			return nil, false
		case model.FieldPath:
			if h.PathExact != "" || h.PathPrefix != "" || h.PathRegex != "" {
				return bad()
			}
			switch p.Op {
			case model.OpEquals, model.OpExact:
				h.PathExact = p.Value
			case model.OpPrefix:
				h.PathPrefix = p.Value
			case model.OpRegex:
				h.PathRegex = p.Value
			default:
				return bad()
			}
		case model.FieldMethod:
			if p.Op != model.OpEquals {
				return bad()
			}
			h.Methods = append(h.Methods, strings.ToUpper(p.Value))
		case model.FieldHeader:
			hm := api.ServiceRouteHTTPMatchHeader{Name: key}
			switch p.Op {
			case model.OpEquals:
				hm.Exact = p.Value
			case model.OpNotEquals:
				hm.Exact, hm.Invert = p.Value, true
			case model.OpPrefix:
				hm.Prefix = p.Value
			case model.OpSuffix:
				hm.Suffix = p.Value
			case model.OpRegex:
				hm.Regex = p.Value
			case model.OpPresent:
				hm.Present = true
			case model.OpAbsent:
				hm.Present, hm.Invert = true, true
			default:
				return bad()
			}
			h.Header = append(h.Header, hm)
		case model.FieldQuery:
			qm := api.ServiceRouteHTTPMatchQueryParam{Name: key}
			switch p.Op {
			case model.OpEquals:
				qm.Exact = p.Value
			case model.OpRegex:
				qm.Regex = p.Value
			case model.OpPresent:
				qm.Present = true
			default:
				return bad()
			}
			h.QueryParam = append(h.QueryParam, qm)
		default:
			rep.Skip(rule, p.Path, "%s conditions are not expressible in a Consul service-router", field)
			return nil, false
		}
	}
	if h.PathExact == "" && h.PathPrefix == "" && h.PathRegex == "" && h.Methods == nil && h.Header == nil && h.QueryParam == nil {
		// Consul needs some match; "/" as a prefix matches every request.
		h.PathPrefix = "/"
	}
	return &api.ServiceRouteMatch{HTTP: h}, true
}

// ApplyEntries writes entries to the agent in order (defaults, resolvers,
// splitters, then the router that refers to them) and reads each back.
func ApplyEntries(ctx context.Context, client *api.Client, entries []api.ConfigEntry) ([]api.ConfigEntry, error) {
	ce := client.ConfigEntries()
	var out []api.ConfigEntry
	for _, e := range entries {
		what := e.GetKind() + " " + e.GetName()
		ok, _, err := ce.Set(e, (&api.WriteOptions{}).WithContext(ctx))
		// The agent answers validation failures with 500 as well as 400;
		// either way it answered, and its reason is for the operator.
		var status api.StatusError
		if errors.As(err, &status) {
			return out, model.Errorf(model.EINVALID, "consul refused config entry %s: %s", what, strings.TrimSpace(status.Body))
		}
		if err != nil {
			return out, fmt.Errorf("write config entry %s: %w", what, err)
		}
		if !ok {
			return out, fmt.Errorf("consul did not write config entry %s", what)
		}
		got, _, err := ce.Get(e.GetKind(), e.GetName(), (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return out, fmt.Errorf("read back config entry %s: %w", what, err)
		}
		out = append(out, got)
	}
	return out, nil
}
