package translate

import (
	"maps"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/routedeck/routedeck/backend/model"
)

// jwtPolicy checks bearer tokens (then.auth.jwt) with Envoy's jwt_authn
// filter. Providers live in the HCM filter, one per rule, keyed by the
// rule's name; a route names its requirement.
var jwtPolicy = httpPolicy{
	filter: "envoy.filters.http.jwt_authn",
	perRoute: func(r *model.Route, ups map[string]*model.Upstream, problems *model.Problems) (validatable, string, any) {
		if r.Then.Auth == nil || r.Then.Auth.JWT == nil {
			return nil, "", nil
		}
		provider := jwtProvider(r.Then.Auth.JWT, ups, problems)
		return &jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: r.Name}},
			"then.auth.jwt", provider
	},
	hcm: func(parts map[string]any) (validatable, bool) {
		jwt := &jwtv3.JwtAuthentication{Providers: map[string]*jwtv3.JwtProvider{}, RequirementMap: map[string]*jwtv3.JwtRequirement{}}
		for _, rule := range slices.Sorted(maps.Keys(parts)) {
			jwt.Providers[rule] = parts[rule].(*jwtv3.JwtProvider)
			jwt.RequirementMap[rule] = &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: rule}}
		}
		return jwt, false
	},
	key: func(e *keyEncoder, a *model.Action) {
		if a.Auth == nil {
			e.present(false)
			return
		}
		if j := a.Auth.JWT; e.present(j != nil) {
			e.str(j.Issuer)
			e.strs(j.Audiences)
			e.str(j.JWKSURI)
			e.str(j.JWKS)
			e.str(j.JWKSUpstream)
			e.str(j.ForwardPayloadHeader)
		}
	},
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
