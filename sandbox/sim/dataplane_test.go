package sim

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// TestDataPlaneForwards covers the plain proxy path over a real ADS stream:
// routing, rewrites, load balancing, no route, no endpoints.
func TestDataPlaneForwards(t *testing.T) {
	h := newHarness(t)
	a1, a2 := mock(t, "web", upstream.Profile{}), mock(t, "web", upstream.Profile{})
	rewrite := prefixRoute("rule/api/0", "/api/", "web")
	rewrite.GetRoute().PrefixRewrite = "/v2/"
	rewrite.ResponseHeadersToAdd = []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-route", Value: "api"}}}
	h.set(t, "1",
		listener(t),
		routeConfig(rewrite, prefixRoute("rule/empty/0", "/empty", "empty"), prefixRoute("rule/web/0", "/", "web")),
		edsCluster("web", clusterv3.Cluster_ROUND_ROBIN), edsCluster("empty", clusterv3.Cluster_ROUND_ROBIN),
		loadAssignment("web", a1, a2), loadAssignment("empty"))

	resp, body := h.do(t, "GET", "http://shop.example.com:8080/api/cart?x=1")
	e := echoOf(t, body)
	if resp.StatusCode != 200 || e.Received.Path != "/v2/cart?x=1" || e.Received.Headers["host"][0] != "shop.example.com" || resp.Header.Get("x-route") != "api" {
		t.Errorf("rewrite: %d %+v %v", resp.StatusCode, e, resp.Header)
	}
	seen := map[string]int{}
	for range 4 {
		_, body := h.do(t, "GET", "http://x/")
		seen[echoOf(t, body).Endpoint]++
	}
	if seen[a1.Addr()] != 2 || seen[a2.Addr()] != 2 {
		t.Errorf("round robin spread %v", seen)
	}
	if resp, body := h.do(t, "GET", "http://x/empty"); resp.StatusCode != 503 || body != "no healthy upstream" {
		t.Errorf("no endpoints: %d %q", resp.StatusCode, body)
	}
	h.set(t, "2", listener(t), routeConfig(prefixRoute("rule/only/0", "/only", "web")), edsCluster("web", clusterv3.Cluster_ROUND_ROBIN), loadAssignment("web", a1))
	if resp, _ := h.do(t, "GET", "http://x/other"); resp.StatusCode != 404 {
		t.Errorf("no route: %d", resp.StatusCode)
	}
}

// TestDataPlaneNacks checks that what the simulator does not understand is
// refused with an error_detail, and that the previous configuration keeps
// serving.
func TestDataPlaneNacks(t *testing.T) {
	a := mock(t, "web", upstream.Profile{})
	badRegex := prefixRoute("r", "/", "web")
	badRegex.Match.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "("}}
	lua := &hcmv3.HttpFilter{Name: "lua", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: &anypb.Any{TypeUrl: "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"}}}
	unknownPerRoute := prefixRoute("r", "/", "web")
	unknownPerRoute.TypedPerFilterConfig = map[string]*anypb.Any{"lua": {TypeUrl: "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute"}}
	tests := map[string]struct {
		filters []*hcmv3.HttpFilter
		route   *routev3.Route
		typeURL string
		want    string
	}{
		"unknown http filter":           {filters: []*hcmv3.HttpFilter{lua}, route: prefixRoute("r", "/", "web"), typeURL: TypeListener, want: "lua.v3.Lua"},
		"route config sim.New refuses":  {route: badRegex, typeURL: TypeRoute, want: "regex"},
		"unknown per-route filter type": {route: unknownPerRoute, typeURL: TypeRoute, want: "LuaPerRoute"},
		"router before another filter": {filters: []*hcmv3.HttpFilter{httpFilterOf(t, "first-router", &routerv3.Router{})}, route: prefixRoute("r", "/", "web"),
			typeURL: TypeListener, want: `terminal filter "first-router" must be the last filter`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "web")), edsCluster("web", clusterv3.Cluster_ROUND_ROBIN), loadAssignment("web", a))
			snap, err := cache.NewSnapshot("2", map[resource.Type][]types.Resource{
				resource.ListenerType: {listener(t, tc.filters...)}, resource.RouteType: {routeConfig(tc.route)},
				resource.ClusterType: {edsCluster("web", clusterv3.Cluster_ROUND_ROBIN)}, resource.EndpointType: {loadAssignment("web", a)},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.cache.SetSnapshot(t.Context(), "n1", snap); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			st, err := h.dp.WaitFor(ctx, func(st Status) bool { return len(st.Nacks) > 0 })
			if err != nil {
				t.Fatal(err)
			}
			if n := st.Nacks[0]; n.TypeURL != tc.typeURL || !strings.Contains(n.Error, tc.want) || n.Version != "2" {
				t.Errorf("nack %+v, want %s mentioning %q", n, tc.typeURL, tc.want)
			}
			// The server saw the NACK: the request carries the old
			// version and the error.
			deadline := time.Now().Add(5 * time.Second)
			for {
				h.mu.Lock()
				n := len(h.nacks)
				var got string
				if n > 0 {
					got = h.nacks[0].GetTypeUrl() + " " + h.nacks[0].GetVersionInfo() + " " + h.nacks[0].GetErrorDetail().GetMessage()
				}
				h.mu.Unlock()
				if n > 0 {
					if !strings.HasPrefix(got, tc.typeURL+" 1 ") || !strings.Contains(got, tc.want) {
						t.Errorf("server got NACK %q", got)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the server saw no NACK")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if st.Versions[tc.typeURL] != "1" {
				t.Errorf("%s version %q after the NACK, want 1", tc.typeURL, st.Versions[tc.typeURL])
			}
			if resp, _ := h.do(t, "GET", "http://x/"); resp.StatusCode != 200 {
				t.Errorf("the old configuration stopped serving: %d", resp.StatusCode)
			}
		})
	}
}

func perRoute(t *testing.T, r *routev3.Route, filter string, m proto.Message) *routev3.Route {
	if r.TypedPerFilterConfig == nil {
		r.TypedPerFilterConfig = map[string]*anypb.Any{}
	}
	r.TypedPerFilterConfig[filter] = mustAny(t, m)
	return r
}

func cidrPolicy(prefix string, bits uint32) *rbacfilterv3.RBACPerRoute {
	return &rbacfilterv3.RBACPerRoute{Rbac: &rbacfilterv3.RBAC{Rules: &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{
		"rule": {Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_Any{Any: true}}},
			Principals: []*rbacv3.Principal{{Identifier: &rbacv3.Principal_DirectRemoteIp{DirectRemoteIp: &corev3.CidrRange{AddressPrefix: prefix, PrefixLen: u32(bits)}}}}},
	}}}}
}

// signJWT makes a compact JWS over claims with an RSA or EC key.
func signJWT(t *testing.T, alg, kid string, key crypto.Signer, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	cb, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:]); err != nil {
			t.Fatal(err)
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestDataPlaneFilters runs each HTTP filter the translator emits through
// the proxy: RBAC, JWT (RS256 and ES256, inline and remote keys), local
// rate limit, CORS and fault injection.
func TestDataPlaneFilters(t *testing.T) {
	h := newHarness(t)
	web := mock(t, "web", upstream.Profile{})
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwksDoc := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"r1","n":%q,"e":%q},{"kty":"EC","kid":"e1","crv":"P-256","x":%q,"y":%q}]}`,
		b64(rsaKey.N.Bytes()), b64(big.NewInt(int64(rsaKey.E)).Bytes()), b64(ecKey.X.FillBytes(make([]byte, 32))), b64(ecKey.Y.FillBytes(make([]byte, 32))))
	var jwksFetches atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" || r.Host != "idp.example.com" {
			http.NotFound(w, r)
			return
		}
		jwksFetches.Add(1)
		io.WriteString(w, jwksDoc)
	}))
	defer idp.Close()
	jwtCfg := &jwtv3.JwtAuthentication{
		Providers: map[string]*jwtv3.JwtProvider{
			"remote": {Issuer: "https://idp.example.com",
				JwksSourceSpecifier: &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: &jwtv3.RemoteJwks{CacheDuration: durationpb.New(time.Minute),
					HttpUri: &corev3.HttpUri{Uri: "https://idp.example.com/.well-known/jwks.json", HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: "idp"}, Timeout: durationpb.New(5 * time.Second)}}}},
			"local": {Issuer: "https://idp.example.com", Audiences: []string{"shop"}, ForwardPayloadHeader: "x-jwt-payload",
				JwksSourceSpecifier: &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: jwksDoc}}}},
		},
		RequirementMap: map[string]*jwtv3.JwtRequirement{
			"local":  {RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "local"}},
			"remote": {RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "remote"}},
		},
	}
	limit := &ratelimitv3.LocalRateLimit{StatPrefix: "rl", TokenBucket: &typev3.TokenBucket{MaxTokens: 2, TokensPerFill: u32(2), FillInterval: durationpb.New(time.Hour)},
		FilterEnabled:           &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100}},
		FilterEnforced:          &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100}},
		EnableXRatelimitHeaders: 1, Status: &typev3.HttpStatus{Code: typev3.StatusCode_TooManyRequests}}
	cors := &corsv3.CorsPolicy{AllowOriginStringMatch: []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "https://app.example.com"}}},
		AllowMethods: "GET,POST", AllowHeaders: "authorization", MaxAge: "600", AllowCredentials: wrapperspb.Bool(true)}
	fault := &faultv3.HTTPFault{Abort: &faultv3.FaultAbort{ErrorType: &faultv3.FaultAbort_HttpStatus{HttpStatus: 418}, Percentage: &typev3.FractionalPercent{Numerator: 100}}}
	h.set(t, "1",
		listener(t,
			httpFilterOf(t, "envoy.filters.http.rbac", &rbacfilterv3.RBAC{}),
			httpFilterOf(t, "envoy.filters.http.jwt_authn", jwtCfg),
			httpFilterOf(t, "envoy.filters.http.local_ratelimit", &ratelimitv3.LocalRateLimit{StatPrefix: "x"}),
			httpFilterOf(t, "envoy.filters.http.cors", &corsv3.Cors{}),
			httpFilterOf(t, "envoy.filters.http.fault", &faultv3.HTTPFault{}),
			// Disabled at the listener, switched on by a route's config,
			// as the translator emits it.
			disabled(httpFilterOf(t, "envoy.filters.http.basic_auth", &basicauthv3.BasicAuth{Users: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "unused:{SHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}))),
		routeConfig(
			perRoute(t, prefixRoute("rule/deny/0", "/deny", "web"), "envoy.filters.http.rbac", cidrPolicy("10.0.0.0", 8)),
			perRoute(t, prefixRoute("rule/allow/0", "/allow", "web"), "envoy.filters.http.rbac", cidrPolicy("127.0.0.0", 8)),
			perRoute(t, prefixRoute("rule/jwt/0", "/jwt", "web"), "envoy.filters.http.jwt_authn", &jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: "local"}}),
			perRoute(t, prefixRoute("rule/jwt-remote/0", "/remote", "web"), "envoy.filters.http.jwt_authn", &jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: "remote"}}),
			perRoute(t, prefixRoute("rule/limited/0", "/limited", "web"), "envoy.filters.http.local_ratelimit", limit),
			perRoute(t, prefixRoute("rule/cors/0", "/cors", "web"), "envoy.filters.http.cors", cors),
			perRoute(t, prefixRoute("rule/fault/0", "/fault", "web"), "envoy.filters.http.fault", fault),
			perRoute(t, prefixRoute("rule/admin/0", "/admin", "web"), "envoy.filters.http.basic_auth", &basicauthv3.BasicAuthPerRoute{Users: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "alice:" + shaPassword("secret")}}}),
			prefixRoute("rule/web/0", "/", "web")),
		edsCluster("web", clusterv3.Cluster_ROUND_ROBIN), loadAssignment("web", web),
		edsCluster("idp", clusterv3.Cluster_ROUND_ROBIN), loadAssignmentOf("idp", strings.TrimPrefix(idp.URL, "http://")))

	good := map[string]any{"iss": "https://idp.example.com", "aud": "shop", "exp": time.Now().Add(time.Hour).Unix()}
	expired := map[string]any{"iss": "https://idp.example.com", "aud": "shop", "exp": time.Now().Add(-time.Hour).Unix()}
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	type step struct {
		method, path string
		hdr          []string
		status       int
		body         string
		respHeader   [2]string
		upstreamHdr  string // a header the upstream must have received
	}
	tests := map[string][]step{
		"rbac denies":   {{path: "/deny", status: 403, body: "RBAC: access denied"}},
		"rbac allows":   {{path: "/allow", status: 200}},
		"jwt missing":   {{path: "/jwt", status: 401, body: "Jwt is missing"}},
		"jwt RS256":     {{path: "/jwt", hdr: []string{"Authorization", "Bearer " + signJWT(t, "RS256", "r1", rsaKey, good)}, status: 200, upstreamHdr: "x-jwt-payload"}},
		"jwt ES256":     {{path: "/jwt", hdr: []string{"Authorization", "Bearer " + signJWT(t, "ES256", "e1", ecKey, good)}, status: 200}},
		"jwt wrong key": {{path: "/jwt", hdr: []string{"Authorization", "Bearer " + signJWT(t, "RS256", "r1", otherKey, good)}, status: 401, body: "Jwt verification fails"}},
		"jwt remote JWKS": {
			{path: "/remote", hdr: []string{"Authorization", "Bearer " + signJWT(t, "ES256", "e1", ecKey, good)}, status: 200},
			{path: "/remote", hdr: []string{"Authorization", "Bearer " + signJWT(t, "RS256", "r1", otherKey, good)}, status: 401, body: "Jwt verification fails"},
		},
		"jwt expired":              {{path: "/jwt", hdr: []string{"Authorization", "Bearer " + signJWT(t, "RS256", "r1", rsaKey, expired)}, status: 401, body: "Jwt is expired"}},
		"rate limit":               {{path: "/limited", status: 200, respHeader: [2]string{"x-ratelimit-remaining", "1"}}, {path: "/limited", status: 200}, {path: "/limited", status: 429, body: "local_rate_limited", respHeader: [2]string{"x-ratelimit-limit", "2"}}},
		"cors preflight":           {{method: "OPTIONS", path: "/cors", hdr: []string{"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST"}, status: 200, respHeader: [2]string{"access-control-allow-methods", "GET,POST"}}},
		"cors actual":              {{path: "/cors", hdr: []string{"Origin", "https://app.example.com"}, status: 200, respHeader: [2]string{"access-control-allow-origin", "https://app.example.com"}}},
		"cors other origin":        {{path: "/cors", hdr: []string{"Origin", "https://evil.example.com"}, status: 200, respHeader: [2]string{"access-control-allow-origin", ""}}},
		"basic auth missing":       {{path: "/admin", status: 401, body: "User authentication failed. Missing username and password."}},
		"basic auth wrong":         {{path: "/admin", hdr: []string{"Authorization", basic("alice", "nope")}, status: 401, body: "User authentication failed. Invalid username/password combination."}},
		"basic auth ok":            {{path: "/admin", hdr: []string{"Authorization", basic("alice", "secret")}, status: 200}},
		"basic auth elsewhere off": {{path: "/plain", status: 200}},
		"fault abort":              {{path: "/fault", status: 418, body: "fault filter abort"}},
		"no filter on route":       {{path: "/plain", status: 200}},
	}
	for name, steps := range tests {
		t.Run(name, func(t *testing.T) {
			for i, s := range steps {
				if s.method == "" {
					s.method = "GET"
				}
				resp, body := h.do(t, s.method, "http://shop.example.com"+s.path, s.hdr...)
				if resp.StatusCode != s.status {
					t.Fatalf("step %d: status %d, want %d (%q)", i, resp.StatusCode, s.status, body)
				}
				if s.body != "" && body != s.body {
					t.Errorf("step %d: body %q, want %q", i, body, s.body)
				}
				if s.respHeader[0] != "" && resp.Header.Get(s.respHeader[0]) != s.respHeader[1] {
					t.Errorf("step %d: %s = %q, want %q", i, s.respHeader[0], resp.Header.Get(s.respHeader[0]), s.respHeader[1])
				}
				if s.upstreamHdr != "" {
					if e := echoOf(t, body); len(e.Received.Headers[s.upstreamHdr]) == 0 || len(e.Received.Headers["authorization"]) != 0 {
						t.Errorf("step %d: upstream headers %v", i, e.Received.Headers)
					}
				}
			}
		})
	}
	// Two requests used the remote key set; it was fetched once and cached.
	if n := jwksFetches.Load(); n != 1 {
		t.Errorf("remote JWKS fetched %d times, want 1", n)
	}
}

func disabled(f *hcmv3.HttpFilter) *hcmv3.HttpFilter {
	f.Disabled = true
	return f
}

func shaPassword(p string) string {
	sum := sha1.Sum([]byte(p))
	return "{SHA}" + base64.StdEncoding.EncodeToString(sum[:])
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestDataPlaneRetriesAndTimeouts covers retry_on, the retry budget and
// the route timeout covering every try.
func TestDataPlaneRetriesAndTimeouts(t *testing.T) {
	h := newHarness(t)
	bad := mock(t, "flaky", upstream.Profile{ErrorPercent: 100, ErrorStatus: 503})
	good := mock(t, "flaky", upstream.Profile{})
	slow := mock(t, "slow", upstream.Profile{Latency: 2 * time.Second})
	retry := func(r *routev3.Route, n uint32) *routev3.Route {
		r.GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx,reset,connect-failure", NumRetries: u32(n),
			RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(time.Millisecond)}}
		return r
	}
	timeout := prefixRoute("rule/slow/0", "/slow", "slow")
	timeout.GetRoute().Timeout = durationpb.New(100 * time.Millisecond)
	nobudget := edsCluster("nobudget", clusterv3.Cluster_ROUND_ROBIN)
	nobudget.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
		RetryBudget: &clusterv3.CircuitBreakers_Thresholds_RetryBudget{BudgetPercent: &typev3.Percent{Value: 0}, MinRetryConcurrency: u32(0)}}}}
	h.set(t, "1", listener(t),
		routeConfig(retry(prefixRoute("rule/flaky/0", "/flaky", "flaky"), 3), retry(prefixRoute("rule/nobudget/0", "/nobudget", "nobudget"), 3), timeout),
		edsCluster("flaky", clusterv3.Cluster_ROUND_ROBIN), nobudget, edsCluster("slow", clusterv3.Cluster_ROUND_ROBIN),
		loadAssignment("flaky", bad, good), loadAssignment("nobudget", bad, good), loadAssignment("slow", slow))

	capture := func(path string) (*Exchange, int) {
		t.Helper()
		id, wait := h.dp.Capture()
		resp, _ := h.do(t, "GET", "http://x"+path, HeaderCapture, id)
		ex, err := wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return ex, resp.StatusCode
	}
	// Round robin starts at the failing endpoint, so the first try fails
	// and the retry reaches the good one.
	ex, status := capture("/flaky")
	if status != 200 || len(ex.Attempts) != 2 || ex.Attempts[0].Status != 503 || ex.Endpoint != good.Addr() {
		t.Errorf("retry: status %d attempts %+v", status, ex.Attempts)
	}
	ex, status = capture("/nobudget")
	if status != 503 || len(ex.Attempts) != 1 || !strings.Contains(strings.Join(ex.Notes, ";"), "budget") {
		t.Errorf("budget: status %d attempts %+v notes %v", status, ex.Attempts, ex.Notes)
	}
	start := time.Now()
	ex, status = capture("/slow")
	if status != 504 || time.Since(start) > time.Second {
		t.Errorf("timeout: status %d after %v", status, time.Since(start))
	}
	if ex.Decision == nil || ex.Decision.Route != "rule/slow/0" || len(ex.Decision.Trace) == 0 {
		t.Errorf("captured decision %+v", ex.Decision)
	}
}

// TestDataPlaneUpgradesMirrorsAndHashing covers websocket tunnels, request
// mirroring and ring-hash stickiness.
func TestDataPlaneUpgradesMirrorsAndHashing(t *testing.T) {
	h := newHarness(t)
	ws := mock(t, "ws", upstream.Profile{})
	web := mock(t, "web", upstream.Profile{})
	shadow := mock(t, "shadow", upstream.Profile{})
	rings := []*upstream.Server{mock(t, "ring", upstream.Profile{}), mock(t, "ring", upstream.Profile{}), mock(t, "ring", upstream.Profile{})}
	wsRoute := prefixRoute("rule/ws/0", "/ws", "ws")
	wsRoute.GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket"}}
	mirrored := prefixRoute("rule/mirror/0", "/mirror", "web")
	mirrored.GetRoute().RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: "shadow"}}
	ring := prefixRoute("rule/ring/0", "/ring", "ring")
	ring.GetRoute().HashPolicy = []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: "x-user"}}}}
	h.set(t, "1", listener(t),
		routeConfig(wsRoute, mirrored, ring, prefixRoute("rule/web/0", "/", "web")),
		edsCluster("ws", clusterv3.Cluster_ROUND_ROBIN), edsCluster("web", clusterv3.Cluster_LEAST_REQUEST), edsCluster("shadow", clusterv3.Cluster_RANDOM), edsCluster("ring", clusterv3.Cluster_RING_HASH),
		loadAssignment("ws", ws), loadAssignment("web", web), loadAssignment("shadow", shadow), loadAssignment("ring", rings...))

	t.Run("websocket tunnel", func(t *testing.T) {
		conn, err := net.Dial("tcp", h.dp.Status().Listeners["http"])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET /ws/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || resp.Header.Get(upstream.HeaderUpstream) != "ws" {
			t.Fatalf("upgrade answered %d %v", resp.StatusCode, resp.Header)
		}
		fmt.Fprint(conn, "hello")
		buf := make([]byte, 5)
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("tunnel echoed %q, %v", buf, err)
		}
	})
	t.Run("upgrade refused without upgrade_configs", func(t *testing.T) {
		if resp, _ := h.do(t, "GET", "http://x/", "Connection", "Upgrade", "Upgrade", "websocket"); resp.StatusCode != 403 {
			t.Errorf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("mirror", func(t *testing.T) {
		// The shadow answers after the response has reached the client,
		// so only the completion event says when it has the copy.
		shadow.SetProfile(upstream.Profile{Latency: 200 * time.Millisecond})
		defer shadow.SetProfile(upstream.Profile{})
		before, mirrors, start := shadow.Stats().Requests, h.dp.Mirrors(), time.Now()
		if resp, _ := h.do(t, "POST", "http://x/mirror"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got := h.dp.Mirrors()
		if got.Sent != mirrors.Sent+1 {
			t.Fatalf("mirrors sent %d, want %d once the response is in", got.Sent, mirrors.Sent+1)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := h.dp.WaitMirrors(ctx, got.Sent); err != nil {
			t.Fatalf("waiting for the mirror: %v", err)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Fatalf("the wait ended after %v, before the shadow answered", d)
		}
		if n := shadow.Stats().Requests; n != before+1 {
			t.Fatalf("the shadow cluster got %d copies, want 1", n-before)
		}
	})
	t.Run("ring hash by header", func(t *testing.T) {
		for _, user := range []string{"alice", "bob", "carol"} {
			first := ""
			for range 5 {
				_, body := h.do(t, "GET", "http://x/ring", "x-user", user)
				ep := echoOf(t, body).Endpoint
				if first == "" {
					first = ep
				} else if ep != first {
					t.Errorf("user %s moved from %s to %s", user, first, ep)
				}
			}
		}
	})
}

// TestBuildKeepsCompiledListeners checks that an endpoints-only update keeps
// the compiled listener (and the filters' state), while a cluster or route
// change recompiles it.
func TestBuildKeepsCompiledListeners(t *testing.T) {
	a := mock(t, "web", upstream.Profile{})
	s := &resources{
		listeners: map[string]*listenerv3.Listener{"http": listener(t)},
		routes:    map[string]*routev3.RouteConfiguration{"rc": routeConfig(prefixRoute("r", "/", "web"))},
		clusters:  map[string]*clusterv3.Cluster{"web": edsCluster("web", clusterv3.Cluster_ROUND_ROBIN)},
		endpoints: map[string]*endpointv3.ClusterLoadAssignment{"web": loadAssignment("web")},
		versions:  map[string]string{},
	}
	first, errs := build(s, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tests := map[string]struct {
		change func(*resources)
		reused bool
	}{
		"endpoints only": {func(r *resources) {
			r.endpoints = map[string]*endpointv3.ClusterLoadAssignment{"web": loadAssignment("web", a)}
		}, true},
		"clusters": {func(r *resources) { r.clusterGen++ }, false},
		"routes": {func(r *resources) {
			r.routes = map[string]*routev3.RouteConfiguration{"rc": routeConfig(prefixRoute("r", "/", "web"))}
		}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			next := s.clone()
			tc.change(next)
			cfg, errs := build(next, first)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := cfg.listeners["http"] == first.listeners["http"]; got != tc.reused {
				t.Errorf("listener reused = %v, want %v", got, tc.reused)
			}
			if n := len(cfg.clusters["web"].endpoints); tc.reused && n != 1 {
				t.Errorf("cluster has %d endpoints after the update", n)
			}
		})
	}
}
