package translate

import (
	"fmt"

	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/routedeck/routedeck/backend/model"
)

// httpPolicies are the policies a rule carries that Envoy applies with an
// HTTP filter, in the order of the HTTP connection manager's chain (the
// router comes last). A policy lives in a file of its own: its
// validation, its per-route config and its filter in the chain. Adding one
// is a new file and an entry here.
var httpPolicies = []*httpPolicy{
	&corsPolicy,
	&rbacPolicy,
	&jwtPolicy,
	&basicAuthPolicy,
	&rateLimitPolicy,
	&faultPolicy,
}

// httpPolicy is one HTTP filter policy. Its filter is in the chain only
// when some rule uses it, and then does nothing on routes without their
// own per-route config.
type httpPolicy struct {
	// filter is the Envoy HTTP filter's name, also the key of the route's
	// typed_per_filter_config.
	filter string
	// perRoute reads the rule's policy, reporting problems with the rule's
	// field paths. It returns a nil cfg when the rule does not use the
	// policy; else the per-route config, the field path of the policy, and
	// what the rule adds to the chain filter's config (nil for most).
	perRoute func(r *model.Route, ups map[string]*model.Upstream, problems *model.Problems) (cfg validatable, at string, part any)
	// hcm is the filter's config in the chain, given the part of every rule
	// that uses the policy, keyed by rule name. A disabled filter is
	// switched on by the routes' per-route configs.
	hcm func(parts map[string]any) (cfg validatable, disabled bool)
	// key writes the policy's fields of a rule into the rule's cache key
	// (key.go): a rule is translated again when its key changes.
	key func(e *keyEncoder, a *model.Action)
}

// filterUse lists the policies a rule uses, by position in httpPolicies,
// with each one's part of the chain filter's config.
type filterUse []policyPart

type policyPart struct {
	policy int
	part   any
}

// filterParts gathers, per policy, the parts of the rules that use it.
type filterParts []map[string]any

func (p *filterParts) add(rule string, use filterUse) {
	if *p == nil {
		*p = make(filterParts, len(httpPolicies))
	}
	for _, u := range use {
		if (*p)[u.policy] == nil {
			(*p)[u.policy] = map[string]any{}
		}
		(*p)[u.policy][rule] = u.part
	}
}

// perRouteFilters builds the rule's typed_per_filter_config and lists the
// policies it uses.
//
// problems is scratch space, empty on entry and left empty: the policies
// take it by pointer through function values, so a local one would be
// allocated for every rule.
func perRouteFilters(r *model.Route, ups map[string]*model.Upstream, problems *model.Problems) (map[string]*anypb.Any, filterUse, error) {
	defer func() { *problems = model.Problems{} }()
	if au := r.Then.Auth; au != nil {
		n := 0
		for _, set := range []bool{au.JWT != nil, au.APIKey != nil, au.Basic != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			problems.Add("then.auth", "exactly one of jwt, apiKey and basic must be set")
		}
	}
	var out map[string]*anypb.Any
	var use filterUse
	for i, p := range httpPolicies {
		msg, at, part := p.perRoute(r, ups, problems)
		if msg == nil {
			continue
		}
		use = append(use, policyPart{policy: i, part: part})
		cfg, err := anyOf(msg)
		if err != nil {
			problems.Add(at, "%v", err)
			continue
		}
		if out == nil {
			out = map[string]*anypb.Any{}
		}
		out[p.filter] = cfg
	}
	return out, use, problems.Err()
}

// httpFilters is the HCM chain: the filters of the policies some rule
// uses, then the router.
func httpFilters(parts filterParts) ([]*hcmv3.HttpFilter, error) {
	var out []*hcmv3.HttpFilter
	add := func(name string, msg validatable, disabled bool) error {
		cfg, err := anyOf(msg)
		if err != nil {
			return fmt.Errorf("http filter %s: %w", name, err)
		}
		out = append(out, &hcmv3.HttpFilter{
			Name:       name,
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: cfg},
			Disabled:   disabled,
		})
		return nil
	}
	for i, p := range httpPolicies {
		if i >= len(parts) || parts[i] == nil {
			continue
		}
		msg, disabled := p.hcm(parts[i])
		if err := add(p.filter, msg, disabled); err != nil {
			return nil, err
		}
	}
	if err := add("envoy.filters.http.router", &routerv3.Router{}, false); err != nil {
		return nil, err
	}
	return out, nil
}
