package translate

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacconfigv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultcommonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/model"
)

// HTTP filter names, as keys of typed_per_filter_config and in the HCM chain.
const (
	filterCORS      = "envoy.filters.http.cors"
	filterRBAC      = "envoy.filters.http.rbac"
	filterJWT       = "envoy.filters.http.jwt_authn"
	filterBasicAuth = "envoy.filters.http.basic_auth"
	filterRateLimit = "envoy.filters.http.local_ratelimit"
	filterFault     = "envoy.filters.http.fault"
	filterRouter    = "envoy.filters.http.router"
)

// filterUse records which HTTP filters a rule needs in the listener chain.
type filterUse struct {
	cors, rbac, basic, rateLimit, fault bool
	// jwt is the rule's JWT provider; the jwt_authn filter config lists the
	// providers of every rule, keyed by rule name.
	jwt *jwtv3.JwtProvider
}

func (u *filterUse) merge(o filterUse, rule string, providers map[string]*jwtv3.JwtProvider) {
	u.cors = u.cors || o.cors
	u.rbac = u.rbac || o.rbac
	u.basic = u.basic || o.basic
	u.rateLimit = u.rateLimit || o.rateLimit
	u.fault = u.fault || o.fault
	if o.jwt != nil {
		providers[rule] = o.jwt
	}
}

// perRouteFilters maps the rule's filter policies to typed_per_filter_config.
func perRouteFilters(r *model.Route, ups map[string]*model.Upstream, use *filterUse) (map[string]*anypb.Any, error) {
	a := &r.Then
	var problems model.Problems
	var out map[string]*anypb.Any
	put := func(name, path string, msg validatable) {
		cfg, err := anyOf(msg)
		if err != nil {
			problems.Add(path, "%v", err)
			return
		}
		if out == nil {
			out = map[string]*anypb.Any{}
		}
		out[name] = cfg
	}
	if a.RateLimit != nil {
		use.rateLimit = true
		put(filterRateLimit, "then.rateLimit", rateLimit(a.RateLimit, &problems))
	}
	if a.Fault != nil {
		use.fault = true
		put(filterFault, "then.fault", fault(a.Fault, &problems))
	}
	if a.CORS != nil {
		use.cors = true
		put(filterCORS, "then.cors", cors(a.CORS, &problems))
	}
	var apiKey *model.APIKeyAuth
	if au := a.Auth; au != nil {
		n := 0
		if au.JWT != nil {
			n++
			p := jwtProvider(au.JWT, ups, &problems)
			use.jwt = p
			put(filterJWT, "then.auth.jwt", &jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: r.Name}})
		}
		if au.Basic != nil {
			n++
			use.basic = true
			put(filterBasicAuth, "then.auth.basic", basicAuth(au.Basic, &problems))
		}
		if au.APIKey != nil {
			n++
			apiKey = au.APIKey
		}
		if n != 1 {
			problems.Add("then.auth", "exactly one of jwt, apiKey and basic must be set")
		}
	}
	if a.Access != nil || apiKey != nil {
		use.rbac = true
		put(filterRBAC, "then", rbacPerRoute(a.Access, apiKey, &problems))
	}
	return out, problems.Err()
}

func rateLimit(rl *model.RateLimit, problems *model.Problems) *ratelimitv3.LocalRateLimit {
	if rl.Requests <= 0 {
		problems.Add("then.rateLimit.requests", "must be positive")
	}
	if rl.Per <= 0 {
		problems.Add("then.rateLimit.per", "must be a positive duration")
	} else if rl.Per.Std() < 50*time.Millisecond {
		problems.Add("then.rateLimit.per", "must be at least 50ms (Envoy's token bucket limit)")
	}
	burst := rl.Burst
	if burst == 0 {
		burst = rl.Requests
	}
	status := rl.Status
	if status == 0 {
		status = 429
	}
	if status < 400 || status > 599 {
		problems.Add("then.rateLimit.status", "must be a 4xx or 5xx status")
	}
	always := func(key string) *corev3.RuntimeFractionalPercent {
		return &corev3.RuntimeFractionalPercent{
			RuntimeKey:   key,
			DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED},
		}
	}
	return &ratelimitv3.LocalRateLimit{
		StatPrefix: "route_rate_limit",
		Status:     &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		TokenBucket: &typev3.TokenBucket{
			MaxTokens:     uint32(max(burst, 1)),
			TokensPerFill: wrapperspb.UInt32(uint32(max(rl.Requests, 1))),
			FillInterval:  duration(rl.Per),
		},
		// Both default to 0%: without them the limit would never apply.
		FilterEnabled:  always("local_rate_limit_enabled"),
		FilterEnforced: always("local_rate_limit_enforced"),
	}
}

func fault(f *model.Fault, problems *model.Problems) *faultv3.HTTPFault {
	out := &faultv3.HTTPFault{}
	if f.Delay == nil && f.Abort == nil {
		problems.Add("then.fault", "set delay, abort or both")
	}
	if d := f.Delay; d != nil {
		if d.Duration <= 0 {
			problems.Add("then.fault.delay.duration", "must be positive")
		}
		checkPercent(problems, "then.fault.delay.percent", d.Percent)
		out.Delay = &faultcommonv3.FaultDelay{
			FaultDelaySecifier: &faultcommonv3.FaultDelay_FixedDelay{FixedDelay: duration(d.Duration)},
			Percentage:         fraction(d.Percent),
		}
	}
	if ab := f.Abort; ab != nil {
		if ab.Status < 200 || ab.Status > 599 {
			problems.Add("then.fault.abort.status", "must be between 200 and 599")
		}
		checkPercent(problems, "then.fault.abort.percent", ab.Percent)
		out.Abort = &faultv3.FaultAbort{
			ErrorType:  &faultv3.FaultAbort_HttpStatus{HttpStatus: uint32(ab.Status)},
			Percentage: fraction(ab.Percent),
		}
	}
	return out
}

func checkPercent(problems *model.Problems, path string, p float64) {
	if p < 0 || p > 100 {
		problems.Add(path, "must be between 0 and 100")
	}
}

func cors(c *model.CORS, problems *model.Problems) *corsv3.CorsPolicy {
	out := &corsv3.CorsPolicy{
		AllowMethods:  strings.Join(c.AllowMethods, ","),
		AllowHeaders:  strings.Join(c.AllowHeaders, ","),
		ExposeHeaders: strings.Join(c.ExposeHeaders, ","),
	}
	if len(c.AllowOrigins) == 0 {
		problems.Add("then.cors.allowOrigins", "list at least one origin (or \"*\")")
	}
	for i, o := range c.AllowOrigins {
		if re, ok := strings.CutPrefix(o, "regex:"); ok {
			if err := checkRegex(re); err != nil {
				problems.Add(model.Index("then.cors.allowOrigins", i), "%v", err)
			}
			out.AllowOriginStringMatch = append(out.AllowOriginStringMatch, regexString(re))
			continue
		}
		// Envoy's CORS filter treats an exact "*" as "any origin".
		out.AllowOriginStringMatch = append(out.AllowOriginStringMatch, &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_Exact{Exact: o},
		})
	}
	if c.MaxAge > 0 {
		out.MaxAge = fmt.Sprint(int64(c.MaxAge.Std().Seconds()))
	}
	if c.AllowCredentials {
		out.AllowCredentials = wrapperspb.Bool(true)
	}
	return out
}

func jwtProvider(j *model.JWTAuth, ups map[string]*model.Upstream, problems *model.Problems) *jwtv3.JwtProvider {
	p := &jwtv3.JwtProvider{
		Issuer:               j.Issuer,
		Audiences:            j.Audiences,
		ForwardPayloadHeader: strings.ToLower(j.ForwardPayloadHeader),
	}
	switch {
	case j.JWKS != "" && j.JWKSURI != "":
		problems.Add("then.auth.jwt", "set one of jwks and jwksUri, not both")
	case j.JWKS != "":
		p.JwksSourceSpecifier = &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: j.JWKS}}}
	case j.JWKSURI != "":
		if j.JWKSUpstream == "" {
			problems.Add("then.auth.jwt.jwksUpstream", "name the upstream that serves jwksUri: Envoy fetches keys through a cluster")
		} else if _, ok := ups[j.JWKSUpstream]; !ok {
			problems.Add("then.auth.jwt.jwksUpstream", "unknown upstream %q", j.JWKSUpstream)
		}
		p.JwksSourceSpecifier = &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: &jwtv3.RemoteJwks{
			HttpUri: &corev3.HttpUri{
				Uri:              j.JWKSURI,
				HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: j.JWKSUpstream},
				Timeout:          durationpb.New(5 * time.Second),
			},
			CacheDuration: durationpb.New(5 * time.Minute),
		}}
	default:
		problems.Add("then.auth.jwt", "set jwks or jwksUri")
	}
	if j.Issuer == "" {
		problems.Add("then.auth.jwt.issuer", "is required")
	}
	return p
}

// basicAuth renders users as htpasswd lines. Envoy accepts only SHA-1
// ("{SHA}base64") hashes, so clear-text passwords are hashed here.
func basicAuth(b *model.BasicAuth, problems *model.Problems) *basicauthv3.BasicAuthPerRoute {
	if len(b.Users) == 0 {
		problems.Add("then.auth.basic.users", "list at least one user")
	}
	var lines []string
	for _, user := range slices.Sorted(maps.Keys(b.Users)) {
		if strings.ContainsAny(user, ":\n") {
			problems.Add("then.auth.basic.users."+user, "user names must not contain ':' or newlines")
			continue
		}
		lines = append(lines, user+":"+htpasswdHash(b.Users[user]))
	}
	return &basicauthv3.BasicAuthPerRoute{Users: &corev3.DataSource{
		Specifier: &corev3.DataSource_InlineString{InlineString: strings.Join(lines, "\n")},
	}}
}

// htpasswdHash is the htpasswd form of a basic-auth password: as given when
// it is already a "{SHA}" hash, else its SHA-1 hash in that form.
func htpasswdHash(pw string) string {
	if strings.HasPrefix(pw, "{SHA}") {
		return pw
	}
	sum := sha1.Sum([]byte(pw))
	return "{SHA}" + base64.StdEncoding.EncodeToString(sum[:])
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
