package translate

import (
	"fmt"
	"strings"

	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/model"
)

// corsPolicy answers CORS preflights and tags responses (then.cors) with
// Envoy's CORS filter, configured per route.
var corsPolicy = httpPolicy{
	filter: "envoy.filters.http.cors",
	perRoute: func(r *model.Route, _ map[string]*model.Upstream, problems *model.Problems) (validatable, string, any) {
		if r.Then.CORS == nil {
			return nil, "", nil
		}
		return cors(r.Then.CORS, problems), "then.cors", nil
	},
	hcm: func(map[string]any) (validatable, bool) { return &corsv3.Cors{}, false },
	key: func(e *keyEncoder, a *model.Action) {
		if c := a.CORS; e.present(c != nil) {
			e.strs(c.AllowOrigins)
			e.strs(c.AllowMethods)
			e.strs(c.AllowHeaders)
			e.strs(c.ExposeHeaders)
			e.dur(c.MaxAge)
			e.bool(c.AllowCredentials)
		}
	},
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
