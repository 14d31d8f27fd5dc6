package sim

import (
	"fmt"
	"net/netip"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// rbacDef is the RBAC filter: a per-route RBACPerRoute replaces the
// filter's rules.
var rbacDef = filterDef{
	kind:    filterRBAC,
	types:   []string{"type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"},
	perType: "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute",
	compile: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &rbacfilterv3.RBAC{})
		if err != nil {
			return nil, err
		}
		return compileRBAC(m)
	},
	compileRoute: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &rbacfilterv3.RBACPerRoute{})
		if err != nil {
			return nil, err
		}
		return compileRBAC(m.GetRbac())
	},
}

type rbacFilter struct {
	enforce  bool // false: no rules, allow everything
	allow    bool // action ALLOW (else DENY)
	policies []rbacPolicy
}

type rbacPolicy struct {
	name        string
	permissions []rbacMatcher
	principals  []rbacMatcher
}

type rbacMatcher func(fc *filterCtx) bool

func compileRBAC(m *rbacfilterv3.RBAC) (filterImpl, error) {
	rules := m.GetRules()
	f := &rbacFilter{enforce: rules != nil}
	if rules == nil {
		return f, nil
	}
	switch rules.GetAction() {
	case rbacv3.RBAC_ALLOW:
		f.allow = true
	case rbacv3.RBAC_DENY:
	default:
		return nil, fmt.Errorf("rbac action %s is not supported", rules.GetAction())
	}
	for _, name := range sortedKeys(rules.GetPolicies()) {
		p := rules.GetPolicies()[name]
		pol := rbacPolicy{name: name}
		for i, perm := range p.GetPermissions() {
			pm, err := compilePermission(perm)
			if err != nil {
				return nil, fmt.Errorf("policy %q permissions[%d]: %w", name, i, err)
			}
			pol.permissions = append(pol.permissions, pm)
		}
		for i, pr := range p.GetPrincipals() {
			pm, err := compilePrincipal(pr)
			if err != nil {
				return nil, fmt.Errorf("policy %q principals[%d]: %w", name, i, err)
			}
			pol.principals = append(pol.principals, pm)
		}
		f.policies = append(f.policies, pol)
	}
	return f, nil
}

func anyOfMatchers(ms []rbacMatcher) rbacMatcher {
	return func(fc *filterCtx) bool {
		for _, m := range ms {
			if m(fc) {
				return true
			}
		}
		return false
	}
}

func allOfMatchers(ms []rbacMatcher) rbacMatcher {
	return func(fc *filterCtx) bool {
		for _, m := range ms {
			if !m(fc) {
				return false
			}
		}
		return true
	}
}

func compilePermission(p *rbacv3.Permission) (rbacMatcher, error) {
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return func(*filterCtx) bool { return true }, nil
	case *rbacv3.Permission_AndRules:
		ms, err := compileList(r.AndRules.GetRules(), compilePermission)
		return allOfMatchers(ms), err
	case *rbacv3.Permission_OrRules:
		ms, err := compileList(r.OrRules.GetRules(), compilePermission)
		return anyOfMatchers(ms), err
	case *rbacv3.Permission_NotRule:
		m, err := compilePermission(r.NotRule)
		return func(fc *filterCtx) bool { return !m(fc) }, err
	case *rbacv3.Permission_Header:
		return headerRBAC(r.Header)
	case *rbacv3.Permission_UrlPath:
		sm, err := NewStringMatcher(r.UrlPath.GetPath())
		if err != nil {
			return nil, err
		}
		return func(fc *filterCtx) bool {
			p, _ := fc.req.Headers.Get(":path")
			return sm.Match(pathOnly(p))
		}, nil
	}
	return nil, fmt.Errorf("permission %T is not supported", p.GetRule())
}

func compilePrincipal(p *rbacv3.Principal) (rbacMatcher, error) {
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return func(*filterCtx) bool { return true }, nil
	case *rbacv3.Principal_AndIds:
		ms, err := compileList(id.AndIds.GetIds(), compilePrincipal)
		return allOfMatchers(ms), err
	case *rbacv3.Principal_OrIds:
		ms, err := compileList(id.OrIds.GetIds(), compilePrincipal)
		return anyOfMatchers(ms), err
	case *rbacv3.Principal_NotId:
		m, err := compilePrincipal(id.NotId)
		return func(fc *filterCtx) bool { return !m(fc) }, err
	case *rbacv3.Principal_DirectRemoteIp:
		return cidrRBAC(id.DirectRemoteIp)
	case *rbacv3.Principal_RemoteIp:
		// Without trusted forwarding hops the remote and direct remote
		// addresses are the same.
		return cidrRBAC(id.RemoteIp)
	case *rbacv3.Principal_SourceIp:
		return cidrRBAC(id.SourceIp)
	case *rbacv3.Principal_Header:
		return headerRBAC(id.Header)
	case *rbacv3.Principal_UrlPath:
		return compilePermission(&rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: id.UrlPath}})
	}
	return nil, fmt.Errorf("principal %T is not supported", p.GetIdentifier())
}

func compileList[T any](items []T, f func(T) (rbacMatcher, error)) ([]rbacMatcher, error) {
	out := make([]rbacMatcher, 0, len(items))
	for _, it := range items {
		m, err := f(it)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func headerRBAC(h *routev3.HeaderMatcher) (rbacMatcher, error) {
	hm, err := NewHeaderMatcher(h)
	if err != nil {
		return nil, err
	}
	return func(fc *filterCtx) bool { return hm.Match(fc.req.Headers) }, nil
}

func cidrRBAC(c *corev3.CidrRange) (rbacMatcher, error) {
	addr, err := netip.ParseAddr(c.GetAddressPrefix())
	if err != nil {
		return nil, fmt.Errorf("cidr %q: %w", c.GetAddressPrefix(), err)
	}
	bits := int(c.GetPrefixLen().GetValue())
	if c.GetPrefixLen() == nil {
		bits = addr.BitLen()
	}
	prefix, err := addr.Prefix(bits)
	if err != nil {
		return nil, fmt.Errorf("cidr %s/%d: %w", addr, bits, err)
	}
	return func(fc *filterCtx) bool {
		ip, err := netip.ParseAddr(addrWithoutPort(fc.req.RemoteAddress))
		return err == nil && prefix.Contains(ip.Unmap())
	}, nil
}

func (f *rbacFilter) decode(fc *filterCtx) *localReply {
	if !f.enforce {
		return nil
	}
	matched := ""
	for _, p := range f.policies {
		if anyOfMatchers(p.permissions)(fc) && anyOfMatchers(p.principals)(fc) {
			matched = p.name
			break
		}
	}
	allowed := (matched != "") == f.allow
	if allowed {
		fc.note("rbac: allowed (policy %q)", matched)
		return nil
	}
	fc.note("rbac: denied for %s", addrWithoutPort(fc.req.RemoteAddress))
	return &localReply{status: 403, body: "RBAC: access denied", by: "rbac"}
}
