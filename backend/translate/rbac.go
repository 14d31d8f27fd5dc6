package translate

import (
	"net/netip"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacconfigv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/model"
)

// rbacPolicy enforces client address lists (then.access) and API keys
// (then.auth.apiKey) with Envoy's RBAC filter: both are principals of the
// one per-route policy.
var rbacPolicy = httpPolicy{
	filter: "envoy.filters.http.rbac",
	perRoute: func(r *model.Route, _ map[string]*model.Upstream, problems *model.Problems) (validatable, string, any) {
		var key *model.APIKeyAuth
		if r.Then.Auth != nil {
			key = r.Then.Auth.APIKey
		}
		if r.Then.Access == nil && key == nil {
			return nil, "", nil
		}
		return rbacPerRoute(r.Then.Access, key, problems), "then", nil
	},
	hcm: func(map[string]any) (validatable, bool) { return &rbacv3.RBAC{}, false },
	key: func(e *keyEncoder, a *model.Action) {
		if ac := a.Access; e.present(ac != nil) {
			e.strs(ac.Allow)
			e.strs(ac.Deny)
		}
		var k *model.APIKeyAuth
		if a.Auth != nil {
			k = a.Auth.APIKey
		}
		if e.present(k != nil) {
			e.str(k.Header)
			e.strs(k.Keys)
		}
	},
}

// rbacPerRoute allows a request only when its direct peer address passes the
// access lists (deny first) and it carries an accepted API key. A refused
// request gets Envoy's RBAC 403.
func rbacPerRoute(access *model.Access, key *model.APIKeyAuth, problems *model.Problems) *rbacv3.RBACPerRoute {
	var ids []*rbacconfigv3.Principal
	if access != nil {
		if len(access.Deny) > 0 {
			ids = append(ids, &rbacconfigv3.Principal{Identifier: &rbacconfigv3.Principal_NotId{
				NotId: anyOfIPs(cidrs(access.Deny, "then.access.deny", problems))}})
		}
		if len(access.Allow) > 0 {
			ids = append(ids, anyOfIPs(cidrs(access.Allow, "then.access.allow", problems)))
		}
		if len(access.Allow) == 0 && len(access.Deny) == 0 {
			problems.Add("then.access", "set allow, deny or both")
		}
	}
	if key != nil {
		if key.Header == "" {
			problems.Add("then.auth.apiKey.header", "is required")
		}
		if len(key.Keys) == 0 {
			problems.Add("then.auth.apiKey.keys", "list at least one key")
		}
		var keys []*rbacconfigv3.Principal
		for _, k := range key.Keys {
			keys = append(keys, &rbacconfigv3.Principal{Identifier: &rbacconfigv3.Principal_Header{Header: &routev3.HeaderMatcher{
				Name:                 strings.ToLower(key.Header),
				HeaderMatchSpecifier: stringMatch(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: k}}),
			}}})
		}
		ids = append(ids, orIDs(keys))
	}
	principal := &rbacconfigv3.Principal{Identifier: &rbacconfigv3.Principal_AndIds{AndIds: &rbacconfigv3.Principal_Set{Ids: ids}}}
	if len(ids) == 1 {
		principal = ids[0]
	}
	return &rbacv3.RBACPerRoute{Rbac: &rbacv3.RBAC{Rules: &rbacconfigv3.RBAC{
		Action: rbacconfigv3.RBAC_ALLOW,
		Policies: map[string]*rbacconfigv3.Policy{"rule": {
			Permissions: []*rbacconfigv3.Permission{{Rule: &rbacconfigv3.Permission_Any{Any: true}}},
			Principals:  []*rbacconfigv3.Principal{principal},
		}},
	}}}
}

func cidrs(list []string, path string, problems *model.Problems) []*corev3.CidrRange {
	var out []*corev3.CidrRange
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				problems.Add(model.Index(path, i), "%q is not an IP address or CIDR", s)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p = p.Masked()
		out = append(out, &corev3.CidrRange{AddressPrefix: p.Addr().String(), PrefixLen: wrapperspb.UInt32(uint32(p.Bits()))})
	}
	return out
}

func anyOfIPs(ranges []*corev3.CidrRange) *rbacconfigv3.Principal {
	ids := make([]*rbacconfigv3.Principal, len(ranges))
	for i, r := range ranges {
		ids[i] = &rbacconfigv3.Principal{Identifier: &rbacconfigv3.Principal_DirectRemoteIp{DirectRemoteIp: r}}
	}
	return orIDs(ids)
}

func orIDs(ids []*rbacconfigv3.Principal) *rbacconfigv3.Principal {
	if len(ids) == 1 {
		return ids[0]
	}
	return &rbacconfigv3.Principal{Identifier: &rbacconfigv3.Principal_OrIds{OrIds: &rbacconfigv3.Principal_Set{Ids: ids}}}
}
