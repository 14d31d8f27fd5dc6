package sim

import (
	"context"
	"fmt"
	"slices"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// filterKind names the HTTP filters the data plane implements.
type filterKind string

const (
	filterRouter    filterKind = "router"
	filterRBAC      filterKind = "rbac"
	filterJWT       filterKind = "jwt_authn"
	filterRateLimit filterKind = "local_ratelimit"
	filterCORS      filterKind = "cors"
	filterFault     filterKind = "fault"
	filterBasicAuth filterKind = "basic_auth"
)

// filterDef is one HTTP filter the data plane implements: the type URLs
// of its filter-level config (types) and per-route config (perType, ""
// for none) and how each compiles. compileRoute nil compiles the
// per-route config with compile.
type filterDef struct {
	kind         filterKind
	types        []string
	perType      string
	compile      func(a *anypb.Any) (filterImpl, error)
	compileRoute func(a *anypb.Any) (filterImpl, error)
}

// httpFilterDefs are the HTTP filters the data plane implements, one file
// each, in the order Envoy's chain runs them as the translator emits it:
// the router, the terminal filter, last. A listener's chain itself is its
// HCM's http_filters, in their order (see hcmConfig.decodeHeaders).
var httpFilterDefs = []*filterDef{&corsDef, &rbacDef, &jwtAuthnDef, &basicAuthDef, &localRateLimitDef, &faultDef, &routerDef}

// filterTypes maps a typed_config type URL (filter level and per route)
// to the filter it configures.
var filterTypes = func() map[string]*filterDef {
	m := map[string]*filterDef{}
	for _, d := range httpFilterDefs {
		for _, t := range d.types {
			m[t] = d
		}
		if d.perType != "" {
			m[d.perType] = d
		}
	}
	return m
}()

// localReply is an answer a filter or the router gives by itself.
type localReply struct {
	status  int
	body    string
	headers Headers
	// by names who answered, for the sandbox trace.
	by string
	// flag is the Envoy response flag the reply sets ("" for none).
	flag string
}

// filterCtx is what a filter sees of one request.
type filterCtx struct {
	req     *Request
	d       *Decision
	random  uint64
	respAdd *Headers // headers to add to whatever answer goes back
	reqAdd  *Headers // headers to add to the upstream request
	reqDel  []string
	dp      *DataPlane
	notes   *[]string
	// ctx ends with the request: a filter that waits stops waiting.
	ctx context.Context
	// flags are the response flags the filters set (DI: a delay).
	flags string
}

func (fc *filterCtx) note(format string, args ...any) {
	*fc.notes = append(*fc.notes, fmt.Sprintf(format, args...))
}

// filterImpl runs one filter's decode step with its effective config.
type filterImpl interface {
	decode(fc *filterCtx) *localReply
}

// httpFilter is one entry of the connection manager's filter chain.
type httpFilter struct {
	name     string
	kind     filterKind
	disabled bool
	// global is the filter-level config; per-route configs replace it.
	global filterImpl
}

// filterDisabled is a per-route FilterConfig{disabled: true}.
type filterDisabled struct{}

func (filterDisabled) decode(*filterCtx) *localReply { return nil }

// compileFilter compiles an HCM http_filters entry. Unknown filters are an
// error unless marked optional, as in Envoy.
func compileFilter(f interface {
	GetName() string
	GetTypedConfig() *anypb.Any
	GetIsOptional() bool
	GetDisabled() bool
}) (*httpFilter, error) {
	tc := f.GetTypedConfig()
	def, ok := filterTypes[tc.GetTypeUrl()]
	if !ok || !slices.Contains(def.types, tc.GetTypeUrl()) {
		if f.GetIsOptional() {
			return nil, nil
		}
		return nil, fmt.Errorf("http filter %q: typed config %q is not supported", f.GetName(), tc.GetTypeUrl())
	}
	impl, err := def.compile(tc)
	if err != nil {
		return nil, fmt.Errorf("http filter %q: %w", f.GetName(), err)
	}
	return &httpFilter{name: f.GetName(), kind: def.kind, disabled: f.GetDisabled(), global: impl}, nil
}

// compilePerRoute compiles one typed_per_filter_config entry.
func compilePerRoute(name string, a *anypb.Any) (filterImpl, error) {
	if a.GetTypeUrl() == "type.googleapis.com/envoy.config.route.v3.FilterConfig" {
		fc := &routev3.FilterConfig{}
		if err := a.UnmarshalTo(fc); err != nil {
			return nil, fmt.Errorf("typed_per_filter_config %q: %w", name, err)
		}
		if fc.GetDisabled() {
			return filterDisabled{}, nil
		}
		if fc.GetConfig() == nil {
			return nil, nil
		}
		return compilePerRoute(name, fc.GetConfig())
	}
	def, ok := filterTypes[a.GetTypeUrl()]
	if !ok || def.perType != a.GetTypeUrl() {
		return nil, fmt.Errorf("typed_per_filter_config %q: type %q is not supported", name, a.GetTypeUrl())
	}
	compile := def.compileRoute
	if compile == nil {
		compile = def.compile
	}
	impl, err := compile(a)
	if err != nil {
		return nil, fmt.Errorf("typed_per_filter_config %q: %w", name, err)
	}
	return impl, nil
}

func unpackAny[M proto.Message](a *anypb.Any, m M) (M, error) {
	if err := a.UnmarshalTo(m); err != nil {
		return m, err
	}
	if v, ok := any(m).(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return m, err
		}
	}
	return m, nil
}
