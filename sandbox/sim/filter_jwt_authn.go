package sim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// jwtAuthnDef is the JWT authentication filter: its config holds the
// providers and named requirements, and a route's PerRouteConfig says
// which requirement applies (none: the request passes).
var jwtAuthnDef = filterDef{
	kind:    filterJWT,
	types:   []string{"type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"},
	perType: "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig",
	compile: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &jwtv3.JwtAuthentication{})
		if err != nil {
			return nil, err
		}
		return compileJWT(m)
	},
	compileRoute: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &jwtv3.PerRouteConfig{})
		if err != nil {
			return nil, err
		}
		return &jwtRoute{disabled: m.GetDisabled(), requirement: m.GetRequirementName()}, nil
	},
}

// jwtFilter is the JwtAuthentication filter: providers, and requirements by
// name for routes that name one.
type jwtFilter struct {
	providers    map[string]*jwtProvider
	requirements map[string]*jwtRequirement
}

// jwtRoute is a route's PerRouteConfig.
type jwtRoute struct {
	disabled    bool
	requirement string
}

func (jwtRoute) decode(*filterCtx) *localReply { return nil }

type jwtRequirement struct {
	provider     string
	any, all     []*jwtRequirement
	allowMissing bool // allow_missing
	allowFailed  bool // allow_missing_or_failed
}

type jwtProvider struct {
	name           string
	issuer         string
	audiences      []string
	forward        bool
	payloadHeader  string
	fromHeaders    []*jwtv3.JwtHeader
	fromParams     []string
	clockSkew      time.Duration
	local          *jwks
	remoteCluster  string
	remoteURI      string
	remoteTimeout  time.Duration
	remoteCacheFor time.Duration

	mu      sync.Mutex
	fetched *jwks
	at      time.Time
}

type jwks struct {
	keys []jwk
}

type jwk struct {
	kid string
	alg string
	pub crypto.PublicKey
}

func compileJWT(m *jwtv3.JwtAuthentication) (filterImpl, error) {
	f := &jwtFilter{providers: map[string]*jwtProvider{}, requirements: map[string]*jwtRequirement{}}
	for _, name := range sortedKeys(m.GetProviders()) {
		p := m.GetProviders()[name]
		jp := &jwtProvider{
			name: name, issuer: p.GetIssuer(), audiences: p.GetAudiences(), forward: p.GetForward(),
			payloadHeader: p.GetForwardPayloadHeader(), fromHeaders: p.GetFromHeaders(), fromParams: p.GetFromParams(),
			clockSkew: time.Duration(p.GetClockSkewSeconds()) * time.Second,
		}
		if jp.clockSkew == 0 {
			jp.clockSkew = 60 * time.Second
		}
		switch src := p.GetJwksSourceSpecifier().(type) {
		case *jwtv3.JwtProvider_LocalJwks:
			keys, err := parseJWKS([]byte(src.LocalJwks.GetInlineString() + string(src.LocalJwks.GetInlineBytes())))
			if err != nil {
				return nil, fmt.Errorf("provider %q local_jwks: %w", name, err)
			}
			jp.local = keys
		case *jwtv3.JwtProvider_RemoteJwks:
			u := src.RemoteJwks.GetHttpUri()
			jp.remoteCluster, jp.remoteURI = u.GetCluster(), u.GetUri()
			jp.remoteTimeout = u.GetTimeout().AsDuration()
			jp.remoteCacheFor = src.RemoteJwks.GetCacheDuration().AsDuration()
			if jp.remoteCacheFor == 0 {
				jp.remoteCacheFor = 5 * time.Minute
			}
			if _, err := url.Parse(jp.remoteURI); err != nil {
				return nil, fmt.Errorf("provider %q remote_jwks uri: %w", name, err)
			}
		default:
			return nil, fmt.Errorf("provider %q: a JWKS source is required", name)
		}
		f.providers[name] = jp
	}
	for _, name := range sortedKeys(m.GetRequirementMap()) {
		r, err := compileRequirement(m.GetRequirementMap()[name], f.providers)
		if err != nil {
			return nil, fmt.Errorf("requirement %q: %w", name, err)
		}
		f.requirements[name] = r
	}
	if len(m.GetRules()) > 0 {
		return nil, fmt.Errorf("rules (path-matched requirements) are not supported; use requirement_map with per-route requirement_name")
	}
	return f, nil
}

func compileRequirement(r *jwtv3.JwtRequirement, providers map[string]*jwtProvider) (*jwtRequirement, error) {
	out := &jwtRequirement{}
	switch s := r.GetRequiresType().(type) {
	case *jwtv3.JwtRequirement_ProviderName:
		if providers[s.ProviderName] == nil {
			return nil, fmt.Errorf("unknown provider %q", s.ProviderName)
		}
		out.provider = s.ProviderName
	case *jwtv3.JwtRequirement_RequiresAny:
		for _, sub := range s.RequiresAny.GetRequirements() {
			c, err := compileRequirement(sub, providers)
			if err != nil {
				return nil, err
			}
			out.any = append(out.any, c)
		}
	case *jwtv3.JwtRequirement_RequiresAll:
		for _, sub := range s.RequiresAll.GetRequirements() {
			c, err := compileRequirement(sub, providers)
			if err != nil {
				return nil, err
			}
			out.all = append(out.all, c)
		}
	case *jwtv3.JwtRequirement_AllowMissing:
		out.allowMissing = true
	case *jwtv3.JwtRequirement_AllowMissingOrFailed:
		out.allowFailed = true
	default:
		return nil, fmt.Errorf("requirement %T is not supported", s)
	}
	return out, nil
}

func (f *jwtFilter) decode(fc *filterCtx) *localReply { return nil }

// check verifies the request against the named requirement.
func (f *jwtFilter) check(fc *filterCtx, requirement string) *localReply {
	r := f.requirements[requirement]
	if r == nil {
		// Envoy refuses such a route at load time; answer as it would
		// for a request that cannot be verified.
		return &localReply{status: 401, body: "Jwt verification fails", by: "jwt_authn"}
	}
	if msg := f.verify(fc, r); msg != "" {
		fc.note("jwt_authn: %s", msg)
		return &localReply{status: 401, body: msg, by: "jwt_authn", headers: Headers{{"www-authenticate", "Bearer realm=\"" + fc.url() + "\""}}}
	}
	return nil
}

func (fc *filterCtx) url() string {
	host, _ := fc.req.Headers.Get(":authority")
	path, _ := fc.req.Headers.Get(":path")
	scheme, _ := fc.req.Headers.Get(":scheme")
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + host + pathOnly(path)
}

// verify returns "" when the requirement is met, else Envoy's message.
func (f *jwtFilter) verify(fc *filterCtx, r *jwtRequirement) string {
	switch {
	case r.provider != "":
		return f.providers[r.provider].verify(fc)
	case r.allowMissing, r.allowFailed:
		// Verify every provider's token if present; a missing one is
		// fine, a bad one only for allow_missing_or_failed.
		for _, name := range sortedKeys(f.providers) {
			msg := f.providers[name].verify(fc)
			if msg != "" && msg != "Jwt is missing" && !r.allowFailed {
				return msg
			}
		}
		return ""
	case len(r.any) > 0:
		first := ""
		for _, sub := range r.any {
			msg := f.verify(fc, sub)
			if msg == "" {
				return ""
			}
			// Envoy reports the most telling failure: a token that
			// failed beats one that is missing.
			if first == "" || first == "Jwt is missing" {
				first = msg
			}
		}
		return first
	case len(r.all) > 0:
		for _, sub := range r.all {
			if msg := f.verify(fc, sub); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// token finds the provider's token: the configured headers and query
// parameters, else "Authorization: Bearer" and access_token.
func (p *jwtProvider) token(fc *filterCtx) (string, string) {
	if len(p.fromHeaders) == 0 && len(p.fromParams) == 0 {
		if v, ok := fc.req.Headers.Get("authorization"); ok {
			if t, ok := cutPrefixFold(v, "Bearer "); ok {
				return t, "authorization"
			}
		}
		path, _ := fc.req.Headers.Get(":path")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			if v, ok := firstQueryValue(path[i+1:], "access_token"); ok {
				return v, ""
			}
		}
		return "", ""
	}
	for _, h := range p.fromHeaders {
		name := strings.ToLower(h.GetName())
		if v, ok := fc.req.Headers.Get(name); ok {
			if t, ok := strings.CutPrefix(v, h.GetValuePrefix()); ok {
				return strings.TrimSpace(t), name
			}
		}
	}
	path, _ := fc.req.Headers.Get(":path")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		for _, q := range p.fromParams {
			if v, ok := firstQueryValue(path[i+1:], q); ok {
				return v, ""
			}
		}
	}
	return "", ""
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return strings.TrimSpace(s[len(prefix):]), true
	}
	return "", false
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

type jwtClaims struct {
	Iss string          `json:"iss"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Nbf *float64        `json:"nbf"`
}

func (p *jwtProvider) verify(fc *filterCtx) string {
	tok, header := p.token(fc)
	if tok == "" {
		return "Jwt is missing"
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	var h jwtHeader
	var c jwtClaims
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(pb, &c) != nil {
		return "Jwt header is an invalid JSON"
	}
	if p.issuer != "" && c.Iss != p.issuer {
		return "Jwt issuer is not configured"
	}
	if len(p.audiences) > 0 && !audienceAllowed(c.Aud, p.audiences) {
		return "Audiences in Jwt are not allowed"
	}
	now := time.Now()
	if c.Exp != nil && now.After(time.Unix(int64(*c.Exp), 0).Add(p.clockSkew)) {
		return "Jwt is expired"
	}
	if c.Nbf != nil && now.Add(p.clockSkew).Before(time.Unix(int64(*c.Nbf), 0)) {
		return "Jwt not yet valid"
	}
	keys, err := p.keys(fc)
	if err != nil {
		fc.note("jwt_authn: fetch JWKS: %v", err)
		return "Jwks remote fetch is failed"
	}
	signed := []byte(parts[0] + "." + parts[1])
	ok := false
	for _, k := range keys.keys {
		if h.Kid != "" && k.kid != "" && k.kid != h.Kid {
			continue
		}
		if verifySignature(h.Alg, k.pub, signed, sig) {
			ok = true
			break
		}
	}
	if !ok {
		return "Jwt verification fails"
	}
	if p.payloadHeader != "" {
		fc.reqAdd.Add(strings.ToLower(p.payloadHeader), parts[1])
	}
	if !p.forward && header != "" {
		fc.reqDel = append(fc.reqDel, header)
	}
	return ""
}

func audienceAllowed(raw json.RawMessage, allowed []string) bool {
	var auds []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		auds = []string{one}
	} else if json.Unmarshal(raw, &auds) != nil {
		return false
	}
	for _, a := range auds {
		for _, want := range allowed {
			if a == want {
				return true
			}
		}
	}
	return false
}

func verifySignature(alg string, pub crypto.PublicKey, signed, sig []byte) bool {
	var hash crypto.Hash
	switch alg {
	case "RS256", "ES256", "PS256":
		hash = crypto.SHA256
	case "RS384", "ES384", "PS384":
		hash = crypto.SHA384
	case "RS512", "ES512", "PS512":
		hash = crypto.SHA512
	default:
		return false
	}
	var digest []byte
	switch hash {
	case crypto.SHA256:
		d := sha256.Sum256(signed)
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(signed)
		digest = d[:]
	default:
		d := sha512.Sum512(signed)
		digest = d[:]
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "PS") {
			return rsa.VerifyPSS(k, hash, digest, sig, nil) == nil
		}
		return strings.HasPrefix(alg, "RS") && rsa.VerifyPKCS1v15(k, hash, digest, sig) == nil
	case *ecdsa.PublicKey:
		if !strings.HasPrefix(alg, "ES") || len(sig)%2 != 0 {
			return false
		}
		// JWS ECDSA signatures are r||s, not ASN.1.
		n := len(sig) / 2
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}

type jwkJSON struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads a JSON Web Key Set with RSA and EC (P-256/384/521) keys.
func parseJWKS(b []byte) (*jwks, error) {
	var doc struct {
		Keys []jwkJSON `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	out := &jwks{}
	for i, k := range doc.Keys {
		switch k.Kty {
		case "RSA":
			n, err1 := base64.RawURLEncoding.DecodeString(k.N)
			e, err2 := base64.RawURLEncoding.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 {
				return nil, fmt.Errorf("keys[%d]: bad RSA modulus or exponent", i)
			}
			out.keys = append(out.keys, jwk{kid: k.Kid, alg: k.Alg, pub: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}})
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			case "P-521":
				curve = elliptic.P521()
			default:
				return nil, fmt.Errorf("keys[%d]: curve %q is not supported", i, k.Crv)
			}
			x, err1 := base64.RawURLEncoding.DecodeString(k.X)
			y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("keys[%d]: bad EC point", i)
			}
			out.keys = append(out.keys, jwk{kid: k.Kid, alg: k.Alg, pub: &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}})
		default:
			return nil, fmt.Errorf("keys[%d]: key type %q is not supported", i, k.Kty)
		}
	}
	return out, nil
}

// keys returns the provider's key set, fetching a remote one from its
// cluster through the data plane and caching it for cache_duration.
func (p *jwtProvider) keys(fc *filterCtx) (*jwks, error) {
	if p.local != nil {
		return p.local, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fetched != nil && time.Since(p.at) < p.remoteCacheFor {
		return p.fetched, nil
	}
	body, err := fc.dp.fetchFromCluster(p.remoteCluster, p.remoteURI, p.remoteTimeout)
	if err != nil {
		return nil, err
	}
	k, err := parseJWKS(body)
	if err != nil {
		return nil, err
	}
	p.fetched, p.at = k, time.Now()
	return k, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
