package model

import (
	"math"
	"strings"
)

// AccessLog says what a gateway's proxies report to routedeck about each
// request they serve (Envoy's gRPC access log service). A nil AccessLog on
// a gateway logs every request with no request headers kept.
type AccessLog struct {
	// Disabled turns request logging off for the gateway.
	Disabled bool `json:"disabled,omitempty"`
	// Sampling is the percentage of requests logged, 0 to 100 with up to
	// four decimals; nil means 100.
	Sampling *float64 `json:"sampling,omitempty"`
	// RequestHeaders are request headers kept with each entry. Headers
	// that carry credentials (Authorization, Cookie, API keys, including
	// the header any route of the gateway takes API keys from) are
	// refused: the request log is readable by every viewer and must not
	// become a store of credentials.
	RequestHeaders []string `json:"requestHeaders,omitempty"`
}

// MaxAccessLogHeaders bounds AccessLog.RequestHeaders: each is stored with
// every entry.
const MaxAccessLogHeaders = 32

// SamplingPercent is the sampling percentage in effect (100 without a
// setting).
func (a *AccessLog) SamplingPercent() float64 {
	if a == nil || a.Sampling == nil {
		return 100
	}
	return *a.Sampling
}

// credentialHeaders are request headers that carry credentials by
// convention; AccessLog.RequestHeaders may not keep them.
var credentialHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true,
	"x-api-key": true, "api-key": true, "apikey": true, "x-auth-token": true,
	"x-amz-security-token": true, "x-csrf-token": true,
}

// IsCredentialHeader reports whether a header name conventionally carries
// credentials (case-insensitive).
func IsCredentialHeader(name string) bool { return credentialHeaders[strings.ToLower(name)] }

func validateAccessLog(p *Problems, path string, a *AccessLog) {
	if a.Sampling != nil {
		s := *a.Sampling
		switch {
		case s != s || s < 0 || s > 100:
			p.Add(path+".sampling", "must be a percentage between 0 and 100")
		case math.Abs(s*10000-math.Round(s*10000)) > 1e-6:
			p.Add(path+".sampling", "at most four decimals (%v)", s)
		}
	}
	if len(a.RequestHeaders) > MaxAccessLogHeaders {
		p.Add(path+".requestHeaders", "at most %d headers (this has %d)", MaxAccessLogHeaders, len(a.RequestHeaders))
		return
	}
	seen := map[string]int{}
	for i, h := range a.RequestHeaders {
		hp := Index(path+".requestHeaders", i)
		if h == "" || len(h) > MaxHeaderNameBytes || strings.HasPrefix(h, ":") || !isToken(h) {
			validateHeaderName(p, hp, h, false)
			continue
		}
		lower := strings.ToLower(h)
		if IsCredentialHeader(lower) {
			p.Add(hp, "%q carries credentials and is never kept in the request log", lower)
		}
		if j, dup := seen[lower]; dup {
			p.Add(hp, "duplicate header %q (also requestHeaders[%d])", lower, j)
		} else {
			seen[lower] = i
		}
	}
}

// validateAccessLogKeys refuses to keep, in a gateway's request log, the
// header any of its routes takes API keys from.
func validateAccessLogKeys(p *Problems, ws *Workspace) {
	keyHeaders := map[string]map[string]string{} // gateway -> header -> route
	for _, r := range ws.Routes {
		if a := r.Then.Auth; a != nil && a.APIKey != nil && a.APIKey.Header != "" {
			if keyHeaders[r.Gateway] == nil {
				keyHeaders[r.Gateway] = map[string]string{}
			}
			keyHeaders[r.Gateway][strings.ToLower(a.APIKey.Header)] = r.Name
		}
	}
	for i, g := range ws.Gateways {
		if g.AccessLog == nil {
			continue
		}
		for j, h := range g.AccessLog.RequestHeaders {
			if route, ok := keyHeaders[g.Name][strings.ToLower(h)]; ok {
				p.Add(Index("gateways", i)+"."+Index("accessLog.requestHeaders", j),
					"%q carries the API keys of route %q and is never kept in the request log", strings.ToLower(h), route)
			}
		}
	}
}
