package sim

import (
	"fmt"

	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// corsDef is the CORS filter. Its filter-level config holds nothing: the
// policy is the route's CorsPolicy.
var corsDef = filterDef{
	kind:    filterCORS,
	types:   []string{"type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"},
	perType: "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
	compile: func(a *anypb.Any) (filterImpl, error) {
		_, err := unpackAny(a, &corsv3.Cors{})
		return nil, err
	},
	compileRoute: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &corsv3.CorsPolicy{})
		if err != nil {
			return nil, err
		}
		return compileCORS(m)
	},
}

type corsPolicy struct {
	origins     []*StringMatcher
	methods     string
	headers     string
	expose      string
	maxAge      string
	credentials bool
}

func compileCORS(p *corsv3.CorsPolicy) (filterImpl, error) {
	c := &corsPolicy{
		methods:     p.GetAllowMethods(),
		headers:     p.GetAllowHeaders(),
		expose:      p.GetExposeHeaders(),
		maxAge:      p.GetMaxAge(),
		credentials: p.GetAllowCredentials().GetValue(),
	}
	for i, o := range p.GetAllowOriginStringMatch() {
		m, err := NewStringMatcher(o)
		if err != nil {
			return nil, fmt.Errorf("allow_origin_string_match[%d]: %w", i, err)
		}
		c.origins = append(c.origins, m)
	}
	return c, nil
}

func (c *corsPolicy) allowed(origin string) bool {
	for _, m := range c.origins {
		if m.Match(origin) {
			return true
		}
	}
	return false
}

func (c *corsPolicy) decode(fc *filterCtx) *localReply {
	origin, ok := fc.req.Headers.Get("origin")
	if !ok || origin == "" || !c.allowed(origin) {
		return nil
	}
	method, _ := fc.req.Headers.Get(":method")
	reqMethod, _ := fc.req.Headers.Get("access-control-request-method")
	if method == "OPTIONS" && reqMethod != "" {
		lr := &localReply{status: 200, by: "cors"}
		lr.headers.Add("access-control-allow-origin", origin)
		if c.credentials {
			lr.headers.Add("access-control-allow-credentials", "true")
		}
		if c.methods != "" {
			lr.headers.Add("access-control-allow-methods", c.methods)
		}
		if c.headers != "" {
			lr.headers.Add("access-control-allow-headers", c.headers)
		}
		if c.maxAge != "" {
			lr.headers.Add("access-control-max-age", c.maxAge)
		}
		fc.note("cors: answered the preflight from %s", origin)
		return lr
	}
	fc.respAdd.Add("access-control-allow-origin", origin)
	if c.credentials {
		fc.respAdd.Add("access-control-allow-credentials", "true")
	}
	if c.expose != "" {
		fc.respAdd.Add("access-control-expose-headers", c.expose)
	}
	return nil
}
