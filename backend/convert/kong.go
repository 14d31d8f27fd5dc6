package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
)

// kongRef names another entity by name or id: a bare string or {name, id}.
type kongRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (r *kongRef) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		r.Name = s
		return nil
	}
	type plain kongRef
	return json.Unmarshal(b, (*plain)(r))
}

func (r *kongRef) key() string {
	if r == nil {
		return ""
	}
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

type kongService struct {
	ID                string          `json:"id"`
	Name              string          `json:"name"`
	URL               string          `json:"url"`
	Protocol          string          `json:"protocol"`
	Host              string          `json:"host"`
	Port              int             `json:"port"`
	Path              string          `json:"path"`
	Retries           *int            `json:"retries"`
	ConnectTimeout    *int            `json:"connect_timeout"`
	ReadTimeout       *int            `json:"read_timeout"`
	WriteTimeout      *int            `json:"write_timeout"`
	TLSVerify         *bool           `json:"tls_verify"`
	TLSVerifyDepth    *int            `json:"tls_verify_depth"`
	CACertificates    []string        `json:"ca_certificates"`
	ClientCertificate json.RawMessage `json:"client_certificate"`
	Enabled           *bool           `json:"enabled"`
	Routes            []kongRoute     `json:"routes"`
	Plugins           []kongPlugin    `json:"plugins"`
}

type kongRoute struct {
	ID                      string              `json:"id"`
	Name                    string              `json:"name"`
	Service                 *kongRef            `json:"service"`
	Protocols               []string            `json:"protocols"`
	Methods                 []string            `json:"methods"`
	Hosts                   []string            `json:"hosts"`
	Paths                   []string            `json:"paths"`
	Headers                 map[string][]string `json:"headers"`
	SNIs                    []string            `json:"snis"`
	Sources                 []json.RawMessage   `json:"sources"`
	Destinations            []json.RawMessage   `json:"destinations"`
	StripPath               *bool               `json:"strip_path"`
	PreserveHost            bool                `json:"preserve_host"`
	RegexPriority           int                 `json:"regex_priority"`
	PathHandling            string              `json:"path_handling"`
	HTTPSRedirectStatusCode int                 `json:"https_redirect_status_code"`
	RequestBuffering        *bool               `json:"request_buffering"`
	ResponseBuffering       *bool               `json:"response_buffering"`
	CreatedAt               *int64              `json:"created_at"`
	Expression              string              `json:"expression"`
	Plugins                 []kongPlugin        `json:"plugins"`
}

type kongUpstream struct {
	Name         string          `json:"name"`
	Algorithm    string          `json:"algorithm"`
	HashOn       string          `json:"hash_on"`
	HashOnHeader string          `json:"hash_on_header"`
	HashOnCookie string          `json:"hash_on_cookie"`
	HashFallback string          `json:"hash_fallback"`
	HostHeader   string          `json:"host_header"`
	Healthchecks *kongHealth     `json:"healthchecks"`
	Targets      []kongTarget    `json:"targets"`
	ClientCert   json.RawMessage `json:"client_certificate"`
}

type kongTarget struct {
	Target string `json:"target"`
	Weight *int   `json:"weight"`
}

type kongHealth struct {
	Active *struct {
		Type     string  `json:"type"`
		HTTPPath string  `json:"http_path"`
		Timeout  float64 `json:"timeout"`
		Healthy  struct {
			Interval     float64 `json:"interval"`
			Successes    int     `json:"successes"`
			HTTPStatuses []int   `json:"http_statuses"`
		} `json:"healthy"`
		Unhealthy struct {
			Interval     float64 `json:"interval"`
			HTTPFailures int     `json:"http_failures"`
		} `json:"unhealthy"`
	} `json:"active"`
	Passive *struct {
		Unhealthy struct {
			HTTPFailures int `json:"http_failures"`
			TCPFailures  int `json:"tcp_failures"`
			Timeouts     int `json:"timeouts"`
		} `json:"unhealthy"`
	} `json:"passive"`
}

// kongConsumer is a consumer with the credentials routedeck can use: its
// key-auth keys, basic-auth users and ACL groups.
type kongConsumer struct {
	Username string `json:"username"`
	ID       string `json:"id"`
	Keys     []struct {
		Key string `json:"key"`
	} `json:"keyauth_credentials"`
	Basic []struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"basicauth_credentials"`
	ACLs []struct {
		Group string `json:"group"`
	} `json:"acls"`
}

func (c kongConsumer) name() string {
	if c.Username != "" {
		return c.Username
	}
	return c.ID
}

type kongPlugin struct {
	Name     string          `json:"name"`
	Enabled  *bool           `json:"enabled"`
	Config   json.RawMessage `json:"config"`
	Service  *kongRef        `json:"service"`
	Route    *kongRef        `json:"route"`
	Consumer *kongRef        `json:"consumer"`
}

// Known fields per entity; anything else is reported instead of dropped.
var (
	kongServiceFields = []string{"id", "name", "url", "protocol", "host", "port", "path", "retries",
		"connect_timeout", "read_timeout", "write_timeout", "tls_verify", "tls_verify_depth",
		"ca_certificates", "client_certificate", "enabled", "routes", "plugins", "tags", "created_at", "updated_at"}
	kongRouteFields = []string{"id", "name", "service", "protocols", "methods", "hosts", "paths", "headers",
		"snis", "sources", "destinations", "strip_path", "preserve_host", "regex_priority", "path_handling",
		"https_redirect_status_code", "request_buffering", "response_buffering", "created_at", "updated_at",
		"expression", "plugins", "tags", "priority"}
	kongUpstreamFields = []string{"name", "id", "algorithm", "hash_on", "hash_on_header", "hash_on_cookie",
		"hash_on_cookie_path", "hash_fallback", "hash_fallback_header", "hash_on_query_arg",
		"hash_fallback_query_arg", "hash_on_uri_capture", "hash_fallback_uri_capture", "host_header",
		"healthchecks", "targets", "slots", "tags", "client_certificate", "use_srv_name", "created_at"}
	kongPluginFields = []string{"id", "name", "enabled", "config", "service", "route", "consumer",
		"protocols", "tags", "instance_name", "ordering", "created_at", "updated_at"}
)

// Kong's defaults (kong.conf and the entity schemas).
const (
	kongDefaultTimeoutMs = 60000
	kongDefaultRetries   = 5
	kongDefaultPort      = 80
	kongTargetPort       = 8000
	kongTargetWeight     = 100
)

// kongPlainPath is what Kong 1.x/2.x treated as a plain prefix; any other
// character made a path a regex.
var kongPlainPath = regexp.MustCompile(`^[a-zA-Z0-9.\-_~/%]*$`)

// kongPlainOrigin is a CORS origin Kong compares literally; any other
// character makes the origin a regex.
var kongPlainOrigin = regexp.MustCompile(`^[A-Za-z0-9.:/-]+$`)

// kongFile is the decoded file, with each entity's raw keys kept for the
// unknown-field check.
type kongFile struct {
	FormatVersion string           `json:"_format_version"`
	Consumers     []kongConsumer   `json:"consumers"`
	Services      []map[string]any `json:"services"`
	Routes        []map[string]any `json:"routes"`
	Upstreams     []map[string]any `json:"upstreams"`
	Plugins       []map[string]any `json:"plugins"`
}

// kongRouteIn is a route with where it came from.
type kongRouteIn struct {
	r       kongRoute
	svc     *kongServiceIn
	obj     string // "route orders-api"
	name    string // routedeck base name
	order   int
	plugins []kongPlugin
}

type kongServiceIn struct {
	s       kongService
	obj     string
	name    string
	plugins []kongPlugin
	used    bool
	target  *kongTargetInfo // resolved on first use
}

// kongTargetInfo is where a service's traffic goes, resolved once.
type kongTargetInfo struct {
	ok        bool
	upstream  string
	host      string // Host header when preserve_host is false ("" with autoHost)
	autoHost  bool
	basePath  string
	grpc      bool
	websocket bool
	timeout   model.Duration
	retries   *model.Retries
}

// kongCandidate is one routedeck Route (plus its https companion) with
// Kong's sort key.
type kongCandidate struct {
	routes []model.Route
	key    kongKey
}

// kongKey is Kong's router order; see the package comment.
type kongKey struct {
	matchWeight   int
	category      int
	submatch      int
	headers       int
	regex         bool
	regexPriority int
	uriLen        int
	createdAt     *int64
	order         int
	pathIdx       int
}

// Kong's match categories and sub-categories, as bits so that comparing
// the numbers ranks them the way Kong does.
const (
	kongHost   = 0x40
	kongHeader = 0x20
	kongURI    = 0x10
	kongMethod = 0x08
	kongSNI    = 0x04
	kongSrc    = 0x02
	kongDst    = 0x01

	kongSubRegex        = 0x01
	kongSubPlainHosts   = 0x02
	kongSubWildcardPort = 0x04
)

// compareKong orders a before b when Kong tries a first.
func compareKong(a, b kongKey) int {
	for _, c := range []int{b.matchWeight - a.matchWeight, b.category - a.category, b.submatch - a.submatch, b.headers - a.headers} {
		if c != 0 {
			return c
		}
	}
	if a.regex && a.regexPriority != b.regexPriority {
		return b.regexPriority - a.regexPriority
	}
	if c := b.uriLen - a.uriLen; c != 0 {
		return c
	}
	if a.createdAt != nil && b.createdAt != nil && *a.createdAt != *b.createdAt {
		if *a.createdAt < *b.createdAt {
			return -1
		}
		return 1
	}
	if c := a.order - b.order; c != 0 {
		return c
	}
	return a.pathIdx - b.pathIdx
}

type kongImporter struct {
	*builder
	legacy     bool // format 1.x/2.x path rules
	upstreams  map[string]kongUpstream
	upObj      map[string]string
	services   []*kongServiceIn
	byKey      map[string]*kongServiceIn
	global     []kongPlugin
	routes     []*kongRouteIn
	routeNames map[string]bool
	cands      []kongCandidate
	pluginSeen map[string]bool
	upUsed     map[string]string // routedeck upstream name -> settings signature
	consumers  []kongConsumer
}

// Kong converts a Kong declarative configuration (decK / kong.yml, YAML or
// JSON, _format_version 1.1, 2.1 or 3.0) into routes and upstreams of
// gateway; everything without a routedeck equivalent is in the report.
//
// Every Kong route becomes one routedeck Route per path (a route without
// paths becomes one Route), because Kong itself sorts a route with several
// paths as if each path were its own route, and because a prefix rewrite
// needs exactly one matched path.
//
// Precedence follows Kong's traditional router, whose order the
// traditional_compatible flavour is meant to keep. Kong first groups routes by
// which attributes they match on and then sorts inside each group, so the
// priorities are computed from this key, most significant first:
//
//  1. the number of attribute kinds the route matches on (hosts, headers,
//     paths, methods, snis, sources, destinations): more first;
//  2. which kinds, ranked host > header > path > method > sni > source >
//     destination (a route with hosts beats one with headers, and so on);
//  3. the host and path kind: a wildcard host with a port, then plain
//     hosts only, then a regular-expression path (these are bits, so plain
//     hosts with a regex path rank above plain hosts with a prefix path);
//  4. more header matches first;
//  5. for regex paths, the higher regex_priority first;
//  6. the longer prefix path first (regex paths count as length 0);
//  7. creation order: created_at when both routes have it, else the order
//     of the file (services in order, their nested routes, then top-level
//     routes).
//
// Kong's router also narrows the candidates through indexes before it
// walks this order; in rare combinations (issue reports about
// regex_priority on prefix routes) that shortcut picks differently. The
// import follows the documented order.
//
// Hosts: plain names and leading wildcards (*.example.com) map to host
// conditions; trailing wildcards (example.*) become a host regex; ports in
// hosts are dropped (routedeck ignores the port). Paths: a plain path is a
// string prefix (Kong's /foo also matches /foobar); a path starting with ~
// (format 3.0) is a regex anchored at the start only, written as
// "(?:R).*" because routedeck regexes match the whole path. In format 1.x
// and 2.x files Kong guessed: a path with any character outside
// [A-Za-z0-9.-_~/%] was a regex. That guess is repeated and reported.
//
// Upstream path: Kong builds it from the service path B and, with
// strip_path, the request path minus the matched part (see kongRewrite for
// each case of path_handling v0 and v1). preserve_host false sets Host to
// the service host (with its port when it is not the scheme's default), or
// to an upstream's host_header, or to the picked target (auto host rewrite).
//
// Protocols: a route for https (or grpcs) only is two rules in one
// precedence slot, because Kong matches it for plain HTTP too and then
// refuses: the https rule forwards, the http rule answers 426 or redirects
// (https_redirect_status_code). A grpc-only route also requires a gRPC
// request. Stream routes (tcp, tls, udp) are reported and skipped.
//
// Services: one Upstream per service (a static endpoint for an IP, DNS for
// a name) or per Kong upstream (its targets as weighted static endpoints,
// hashing, health checks); https/grpcs turn on upstream TLS;
// connect_timeout is the upstream's, read_timeout the route's timeout and
// retries retry connect failures and resets.
//
// Plugins: per plugin name the route's instance wins over the service's,
// which wins over the global one, as in Kong. rate-limiting, cors,
// ip-restriction and the header parts of request-transformer and
// response-transformer map to policies. key-auth and basic-auth become the
// route's auth with the credentials of the consumers (narrowed to the
// groups an acl plugin on the same route allows); passwords Kong stores
// hashed cannot be, and are reported. The other authentication plugins
// are reported, and the route is then imported without authentication,
// which the report says.
func Kong(data []byte, gateway string) (Result, error) {
	if gateway == "" {
		return Result{}, fmt.Errorf("a gateway is required")
	}
	// Held to the input limits first: the decoder below expands every
	// alias into a copy.
	if err := input.CheckYAML("", data); input.IsLimit(err) {
		return Result{}, err
	} else if err != nil {
		return Result{}, fmt.Errorf("read Kong configuration: %w", err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return Result{}, fmt.Errorf("read Kong configuration: %w", err)
	}
	var f kongFile
	if err := remarshal(top, &f); err != nil {
		var p model.Problems
		decodeProblem(&p, "", err)
		return Result{}, p.Err()
	}
	k := &kongImporter{builder: newBuilder(gateway), upstreams: map[string]kongUpstream{}, upObj: map[string]string{},
		byKey: map[string]*kongServiceIn{}, routeNames: map[string]bool{}, pluginSeen: map[string]bool{}, upUsed: map[string]string{}}
	switch v := f.FormatVersion; {
	case v == "":
		return Result{}, fmt.Errorf("not a Kong declarative configuration: _format_version is missing")
	case strings.HasPrefix(v, "3."):
	case strings.HasPrefix(v, "1.") || strings.HasPrefix(v, "2."):
		k.legacy = true
	default:
		return Result{}, fmt.Errorf("unsupported _format_version %q (1.1, 2.1 or 3.0)", v)
	}
	k.topLevel(top)
	if err := k.read(f); err != nil {
		return Result{}, err
	}
	for _, r := range k.routes {
		k.route(r)
	}
	for _, s := range k.services {
		switch {
		case s.used || s.s.Enabled != nil && !*s.s.Enabled:
		case k.countRoutes(s) == 0:
			k.issue(s.obj, "", "no routes: not imported")
		default:
			k.issue(s.obj, "", "none of its routes was imported: not imported")
		}
	}
	return k.result(), nil
}

// topLevel reports the top-level sections that are not imported.
func (k *kongImporter) topLevel(top map[string]any) {
	why := map[string]string{
		"consumer_groups": "consumer groups are not imported",
		"certificates":    "certificates are not imported: add each as a routedeck Secret and list it in the gateway's HTTPS listener (a gateway is not changed by an import)",
		"ca_certificates": "CA certificates are not imported: add them as Secrets and set the upstream's tls.caSecret",
		"snis":            "SNIs are not imported: certificates are chosen by the gateway listener's certificate hosts",
		"vaults":          "vaults are not imported",
		"keys":            "keys are not imported",
		"key_sets":        "key sets are not imported",
	}
	if cs, ok := top["consumers"].([]any); ok && len(cs) > 0 {
		k.issue("consumers", "", "consumers are not imported as such: their key-auth keys and basic-auth users become the auth of the routes those plugins protect")
		for i, c := range cs {
			cm, _ := c.(map[string]any)
			name, _ := cm["username"].(string)
			if name == "" {
				name, _ = cm["id"].(string)
			}
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			for _, field := range slices.Sorted(maps.Keys(cm)) {
				switch field {
				case "username", "id", "custom_id", "tags", "keyauth_credentials", "basicauth_credentials", "acls":
				case "plugins":
					k.issue("consumer "+name, "plugins", "consumer-scoped plugins are not imported: routedeck has no consumers")
				default:
					k.issue("consumer "+name, field, "not imported")
				}
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(top)) {
		switch key {
		case "_format_version", "_info", "_transform", "_workspace", "_konnect", "services", "routes", "upstreams", "plugins", "consumers":
			continue
		}
		msg, ok := why[key]
		if !ok {
			msg = "section is not imported"
		}
		k.issue(key, "", "%s", msg)
	}
}

// read decodes the entities and indexes them.
func (k *kongImporter) read(f kongFile) error {
	var p model.Problems
	k.consumers = f.Consumers
	for i, raw := range f.Upstreams {
		var u kongUpstream
		if err := remarshal(raw, &u); err != nil {
			decodeProblem(&p, model.Index("upstreams", i), err)
			continue
		}
		obj := "upstream " + u.Name
		k.unknownFields(obj, "", raw, kongUpstreamFields)
		k.upstreams[u.Name] = u
		k.upObj[u.Name] = obj
	}
	order := 0
	addRoute := func(r kongRoute, svc *kongServiceIn, raw map[string]any, n int) {
		name := r.Name
		if name == "" {
			name = r.ID
		}
		if name == "" && svc != nil {
			name = fmt.Sprintf("%s-route-%d", svc.name, n)
		}
		if name == "" {
			name = fmt.Sprintf("route-%d", order+1)
		}
		obj := "route " + name
		k.unknownFields(obj, "", raw, kongRouteFields)
		in := &kongRouteIn{r: r, svc: svc, obj: obj, name: k.uniqueName(Name(name)), order: order}
		order++
		for _, p := range r.Plugins {
			p.Route = &kongRef{Name: in.routeKey()}
			in.plugins = append(in.plugins, p)
		}
		k.routes = append(k.routes, in)
	}
	for i, raw := range f.Services {
		var s kongService
		if err := remarshal(raw, &s); err != nil {
			decodeProblem(&p, model.Index("services", i), err)
			continue
		}
		name := s.Name
		if name == "" {
			name = s.ID
		}
		if name == "" {
			name = fmt.Sprintf("service-%d", i+1)
		}
		in := &kongServiceIn{s: s, obj: "service " + name, name: Name(name)}
		for _, p := range s.Plugins {
			p.Service = &kongRef{Name: name}
			in.plugins = append(in.plugins, p)
		}
		k.unknownFields(in.obj, "", raw, kongServiceFields)
		k.services = append(k.services, in)
		for _, key := range []string{s.Name, s.ID} {
			if key != "" {
				k.byKey[key] = in
			}
		}
		rawRoutes, _ := raw["routes"].([]any)
		for j, r := range s.Routes {
			rm, _ := rawRoutes[j].(map[string]any)
			addRoute(r, in, rm, j+1)
		}
	}
	for i, raw := range f.Routes {
		var r kongRoute
		if err := remarshal(raw, &r); err != nil {
			decodeProblem(&p, model.Index("routes", i), err)
			continue
		}
		svc := k.byKey[r.Service.key()]
		n := 0
		if svc != nil {
			n = k.countRoutes(svc) + 1
		}
		addRoute(r, svc, raw, n)
	}
	for i, raw := range f.Plugins {
		var pl kongPlugin
		if err := remarshal(raw, &pl); err != nil {
			decodeProblem(&p, model.Index("plugins", i), err)
			continue
		}
		k.unknownFields(pluginObj(pl), "", raw, kongPluginFields)
		switch {
		case pl.Consumer != nil:
			k.issue(pluginObj(pl), "consumer", "consumer-scoped plugins are not imported: routedeck has no consumers")
		case pl.Route != nil:
			if r := k.routeByKey(pl.Route.key()); r != nil {
				r.plugins = append(r.plugins, pl)
			} else {
				k.issue(pluginObj(pl), "route", "route %q not found: plugin not imported", pl.Route.key())
			}
		case pl.Service != nil:
			if s := k.byKey[pl.Service.key()]; s != nil {
				s.plugins = append(s.plugins, pl)
			} else {
				k.issue(pluginObj(pl), "service", "service %q not found: plugin not imported", pl.Service.key())
			}
		default:
			k.global = append(k.global, pl)
		}
	}
	return p.Err()
}

func (k *kongImporter) countRoutes(svc *kongServiceIn) int {
	n := 0
	for _, r := range k.routes {
		if r.svc == svc {
			n++
		}
	}
	return n
}

func (r *kongRouteIn) routeKey() string {
	if r.r.Name != "" {
		return r.r.Name
	}
	if r.r.ID != "" {
		return r.r.ID
	}
	return r.name
}

func (k *kongImporter) routeByKey(key string) *kongRouteIn {
	for _, r := range k.routes {
		if key != "" && (r.r.Name == key || r.r.ID == key) {
			return r
		}
	}
	return nil
}

// uniqueName returns name, or name with a numeric suffix when it is taken.
func (k *kongImporter) uniqueName(name string) string {
	out := name
	for i := 2; k.routeNames[out]; i++ {
		out = Name(fmt.Sprintf("%s-%d", name, i))
	}
	k.routeNames[out] = true
	return out
}

func pluginObj(p kongPlugin) string {
	switch {
	case p.Route != nil:
		return fmt.Sprintf("plugin %s (route %s)", p.Name, p.Route.key())
	case p.Service != nil:
		return fmt.Sprintf("plugin %s (service %s)", p.Name, p.Service.key())
	case p.Consumer != nil:
		return fmt.Sprintf("plugin %s (consumer %s)", p.Name, p.Consumer.key())
	}
	return fmt.Sprintf("plugin %s (global)", p.Name)
}

// unknownFields reports keys of raw that the importer does not know.
func (k *kongImporter) unknownFields(obj, prefix string, raw map[string]any, known []string) {
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(known, key) && raw[key] != nil {
			k.issue(obj, prefix+key, "unknown field: not imported")
		}
	}
}

// route converts one Kong route into candidates.
func (k *kongImporter) route(in *kongRouteIn) {
	r, obj := in.r, in.obj
	if in.svc == nil {
		if r.Service != nil {
			k.issue(obj, "service", "service %q not found: route not imported", r.Service.key())
		} else {
			k.issue(obj, "service", "a route without a service has nowhere to forward: not imported")
		}
		return
	}
	svc := in.svc
	if svc.s.Enabled != nil && !*svc.s.Enabled {
		k.issue(obj, "service", "service %s is disabled: route not imported", svc.name)
		return
	}
	if r.Expression != "" {
		k.issue(obj, "expression", "expressions-router routes are not imported")
		return
	}
	protocols := r.Protocols
	if len(protocols) == 0 {
		protocols = []string{"http", "https"}
	}
	var httpish, grpc, tlsOnly, ws bool
	tlsOnly = true
	for _, p := range protocols {
		switch p {
		case "http", "https":
			httpish = true
		case "grpc", "grpcs":
			grpc = true
		case "ws", "wss":
			ws = true
		default:
			k.issue(obj, "protocols", "%s routes are not imported: routedeck routes HTTP only", p)
			continue
		}
		if p == "http" || p == "grpc" || p == "ws" {
			tlsOnly = false
		}
	}
	if !httpish && !grpc && !ws {
		return
	}
	if grpc && !httpish {
		// Kong treats a grpc route like any other HTTP route; routedeck
		// can say it is for gRPC, which keeps plain HTTP requests out.
		k.issue(obj, "protocols", "gRPC-only route: matched with grpc present, so non-gRPC requests no longer reach it")
	}
	t := k.target(svc)
	if !t.ok {
		return
	}
	svc.used = true

	var base []model.Condition
	key := kongKey{order: in.order, createdAt: r.CreatedAt}
	if len(r.Hosts) > 0 {
		c, sub, ok := k.hosts(obj, r.Hosts)
		if !ok {
			k.issue(obj, "hosts", "no usable host: route not imported (it would match every host)")
			return
		}
		base = append(base, c)
		key.submatch |= sub
		key.matchWeight++
		key.category |= kongHost
	}
	if len(r.Headers) > 0 {
		hs := k.headers(obj, r.Headers)
		if len(hs) > 0 {
			base = append(base, hs...)
			key.matchWeight++
			key.category |= kongHeader
			key.headers = len(hs)
		}
	}
	var methodCond *model.Condition
	if len(r.Methods) > 0 {
		ms := make([]string, len(r.Methods))
		for i, m := range r.Methods {
			ms[i] = strings.ToUpper(m)
		}
		c := model.Condition{Field: model.FieldMethod, Op: model.OpIn, Values: ms}
		if len(ms) == 1 {
			c = model.Pred(model.FieldMethod, model.OpEquals, ms[0])
		}
		methodCond = &c
		key.matchWeight++
		key.category |= kongMethod
	}
	if len(r.SNIs) > 0 {
		key.matchWeight++
		key.category |= kongSNI
		k.issue(obj, "snis", "routedeck cannot match on the TLS server name: not imported, so the route also matches other SNIs (and plain HTTP, as in Kong)")
	}
	if len(r.Sources) > 0 {
		key.matchWeight++
		key.category |= kongSrc
		k.issue(obj, "sources", "source address matching is not imported: the route matches every client")
	}
	if len(r.Destinations) > 0 {
		key.matchWeight++
		key.category |= kongDst
		k.issue(obj, "destinations", "destination address matching is not imported")
	}
	if len(r.Paths) > 0 {
		key.matchWeight++
		key.category |= kongURI
	}
	if key.matchWeight == 0 {
		k.issue(obj, "", "matches on nothing (no hosts, headers, paths, methods, snis): Kong refuses such a route; not imported")
		return
	}

	action := model.Action{Forward: []model.Backend{{Upstream: t.upstream}}, Timeout: t.timeout, Retries: t.retries, Websocket: ws || t.websocket}
	if !r.PreserveHost {
		if t.host != "" || t.autoHost {
			action.Rewrite = &model.Rewrite{Host: t.host, AutoHost: t.autoHost}
		}
	}
	k.plugins(in, &action)
	if r.RequestBuffering != nil && !*r.RequestBuffering || r.ResponseBuffering != nil && !*r.ResponseBuffering {
		k.issue(obj, "request_buffering", "buffering switches are not imported: Envoy streams requests and responses")
	}
	handling := r.PathHandling
	if handling == "" {
		handling = "v0"
	}
	if handling != "v0" && handling != "v1" {
		k.issue(obj, "path_handling", "unknown path_handling %q: read as v0", handling)
		handling = "v0"
	}
	strip := r.StripPath == nil || *r.StripPath

	type pathCase struct {
		cond model.Condition
		rw   rewriteSpec
		idx  int
		key  kongKey
	}
	var cases []pathCase
	if len(r.Paths) == 0 {
		// Without a path Kong keeps the whole request path, strip_path or
		// not.
		cases = append(cases, pathCase{rw: kongRewrite(handling, t.basePath, "", false, false), key: key})
	}
	for pi, p := range r.Paths {
		field := fmt.Sprintf("paths[%d]", pi)
		regex, expr := false, p
		switch {
		case strings.HasPrefix(p, "~"):
			regex, expr = true, p[1:]
			if k.legacy {
				k.issue(obj, field, "a path starting with ~ is a 3.0 regex; read as one in a %s file", "1.x/2.x")
			}
		case k.legacy && !kongPlainPath.MatchString(p):
			regex = true
			k.issue(obj, field, "read as a regex, as Kong 1.x/2.x did for paths with characters outside [A-Za-z0-9.-_~/%%]; mark it with ~ when converting to 3.0")
		}
		ck := key
		ck.pathIdx = pi
		var cond model.Condition
		if regex {
			full := "(?:" + expr + ").*"
			if _, err := regexp.Compile(full); err != nil {
				k.issue(obj, field, "regex %q is not RE2: %v: path not imported", expr, regexErrText(err))
				continue
			}
			cond = model.Pred(model.FieldPath, model.OpRegex, full)
			ck.regex = true
			ck.regexPriority = r.RegexPriority
			ck.submatch |= kongSubRegex
		} else {
			if !strings.HasPrefix(p, "/") {
				k.issue(obj, field, "a path must start with '/': path not imported")
				continue
			}
			cond = model.Pred(model.FieldPath, model.OpPrefix, p)
			ck.uriLen = len(p)
		}
		rw := kongRewrite(handling, t.basePath, expr, regex, strip)
		if rw.note != "" {
			k.issue(obj, field, "%s", rw.note)
		}
		cases = append(cases, pathCase{cond: cond, rw: rw, idx: pi, key: ck})
	}
	if len(cases) == 0 {
		k.issue(obj, "paths", "no usable path: route not imported")
		return
	}
	if r.RegexPriority != 0 && !slices.ContainsFunc(cases, func(c pathCase) bool { return c.key.regex }) {
		// Kong only consults regex_priority for regex paths.
		k.issue(obj, "regex_priority", "only ranks regex paths; this route has none, so it has no effect")
	}

	redirect := r.HTTPSRedirectStatusCode
	if redirect == 0 {
		redirect = 426
	}
	for _, pc := range cases {
		cs := slices.Clone(base)
		if !pc.cond.IsZero() {
			cs = append(cs, pc.cond)
		}
		if methodCond != nil {
			cs = append(cs, *methodCond)
		}
		if grpc && !httpish {
			cs = append(cs, model.Condition{Field: model.FieldGRPC, Op: model.OpPresent})
		}
		name := in.name
		if len(r.Paths) > 1 {
			name = k.uniqueName(Name(fmt.Sprintf("%s-path-%d", in.name, pc.idx+1)))
		}
		a := action
		a.Rewrite = pc.rw.apply(action.Rewrite)
		desc := "imported from Kong " + obj
		if len(r.Paths) > 0 {
			desc += ", path " + r.Paths[pc.idx]
		}
		main := model.Route{Meta: model.Meta{Name: name}, Gateway: k.gateway, Description: desc, Then: a}
		cand := kongCandidate{key: pc.key}
		if tlsOnly {
			// Kong matches the route for plain HTTP too, then refuses it:
			// 426, or a redirect to https.
			main.When = all(append(slices.Clone(cs), model.Pred(model.FieldScheme, model.OpEquals, "https")))
			plain := model.Route{Meta: model.Meta{Name: k.uniqueName(Name(name + "-http"))}, Gateway: k.gateway,
				Description: desc + " (plain HTTP, refused as Kong does)",
				When:        all(append(slices.Clone(cs), model.Pred(model.FieldScheme, model.OpEquals, "http")))}
			switch redirect {
			case 301, 302, 307, 308:
				plain.Then = model.Action{Redirect: &model.Redirect{Scheme: "https", Status: redirect}}
			default:
				plain.Then = model.Action{Respond: &model.Respond{Status: redirect, Body: "Please use HTTPS protocol"}}
			}
			cand.routes = []model.Route{main, plain}
		} else {
			main.When = all(cs)
			cand.routes = []model.Route{main}
		}
		k.cands = append(k.cands, cand)
	}
}

// hosts builds the host condition and Kong's host sub-category bits.
func (k *kongImporter) hosts(obj string, hosts []string) (model.Condition, int, bool) {
	var cs []model.Condition
	wildcard, wildcardPort := false, false
	for i, h := range hosts {
		field := fmt.Sprintf("hosts[%d]", i)
		h = strings.ToLower(h)
		name, port, hasPort := splitHostPort(h)
		if strings.Contains(h, "*") {
			wildcard = true
			wildcardPort = wildcardPort || hasPort
		}
		if hasPort {
			k.issue(obj, field, "port %s dropped: routedeck matches hosts without their port, so any port matches", port)
		}
		switch {
		case strings.HasPrefix(name, "*."):
			cs = append(cs, model.Pred(model.FieldHost, model.OpEquals, name))
		case strings.HasSuffix(name, ".*") && !strings.Contains(name[:len(name)-2], "*"):
			re := regexp.QuoteMeta(name[:len(name)-1]) + ".+"
			k.issue(obj, field, "routedeck host patterns have no trailing wildcard: %s is matched as the host regex %s", name, re)
			cs = append(cs, model.Pred(model.FieldHost, model.OpRegex, re))
		case strings.Contains(name, "*"):
			k.issue(obj, field, "wildcard %s is neither leading nor trailing: not imported", name)
		default:
			cs = append(cs, model.Pred(model.FieldHost, model.OpEquals, name))
		}
	}
	sub := 0
	if !wildcard {
		sub |= kongSubPlainHosts
	}
	if wildcardPort {
		sub |= kongSubWildcardPort
	}
	switch len(cs) {
	case 0:
		return model.Condition{}, 0, false
	case 1:
		return cs[0], sub, true
	}
	return model.Or(cs...), sub, true
}

// splitHostPort splits "name:port" (digits only), leaving IPv6 literals
// and names without a port alone.
func splitHostPort(h string) (name, port string, ok bool) {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.HasSuffix(h, "]") {
		return h, "", false
	}
	if _, err := strconv.Atoi(h[i+1:]); err != nil {
		return h, "", false
	}
	return h[:i], h[i+1:], true
}

// headers builds one condition per header: any of the values, compared
// case-insensitively (Kong lowercases both sides); a single "~*" value is
// a regex Kong searches for anywhere in the lowercased value.
func (k *kongImporter) headers(obj string, hs map[string][]string) []model.Condition {
	var out []model.Condition
	for _, name := range slices.Sorted(maps.Keys(hs)) {
		field := "headers." + name
		lname := strings.ToLower(name)
		vals := hs[name]
		switch {
		case lname == "host":
			k.issue(obj, field, "use hosts to match the host: not imported")
			continue
		case len(vals) == 0:
			k.issue(obj, field, "no values: not imported")
			continue
		case len(vals) == 1 && strings.HasPrefix(vals[0], "~*"):
			re := ".*(?:" + vals[0][2:] + ").*"
			if _, err := regexp.Compile(re); err != nil {
				k.issue(obj, field, "regex %q is not RE2: %v: not imported", vals[0][2:], regexErrText(err))
				continue
			}
			k.issue(obj, field, "Kong searches the lowercased value; matched as the regex %s on the value as sent", re)
			out = append(out, model.Pred(model.KeyedField(model.FieldHeader, lname), model.OpRegex, re))
			continue
		}
		c := model.Condition{Field: model.KeyedField(model.FieldHeader, lname), IgnoreCase: true}
		if len(vals) == 1 {
			c.Op, c.Value = model.OpEquals, vals[0]
		} else {
			c.Op, c.Values = model.OpIn, slices.Clone(vals)
		}
		out = append(out, c)
	}
	return out
}

// rewriteSpec is the path part of a route's rewrite.
type rewriteSpec struct {
	prefix string
	regex  *model.RegexSub
	note   string // how Kong differs, for the report
}

func (s rewriteSpec) apply(host *model.Rewrite) *model.Rewrite {
	if s.prefix == "" && s.regex == nil {
		return host
	}
	out := &model.Rewrite{PathPrefix: s.prefix, PathRegex: s.regex}
	if host != nil {
		out.Host, out.AutoHost = host.Host, host.AutoHost
	}
	return out
}

// kongRewrite computes the upstream path rule for service path base,
// matched path p (a prefix, or a regex without its ~) and strip_path.
// Kong's rules, with S the request path after the matched part:
//
//	v1, strip:    base + S, dropping one '/' when base ends and S starts with one
//	v0, strip:    S empty -> base (without its trailing '/', unless the
//	              request ends in '/'); otherwise base and S joined by exactly one '/'
//	no strip:     v1: base + the request path without its leading '/';
//	              v0: the same when base ends in '/', else base + request path
//	              ("/" alone becomes base)
//
// Each case maps to a prefix or regex rewrite; the few requests where no
// single rewrite can follow Kong (continuing the last segment of a prefix,
// as /ordersX for /orders) are named in the note.
func kongRewrite(handling, base, p string, regex, strip bool) rewriteSpec {
	if base == "" {
		base = "/"
	}
	endsSlash := strings.HasSuffix(base, "/")
	if !strip || p == "" {
		switch {
		case base == "/":
			return rewriteSpec{}
		case handling == "v1" || endsSlash:
			return rewriteSpec{regex: &model.RegexSub{Pattern: "^/", Substitution: envoyLiteral(base)}}
		default:
			// "/" alone becomes base; everything else is appended to it.
			return rewriteSpec{regex: &model.RegexSub{Pattern: "^(?:/$)?", Substitution: envoyLiteral(base)}}
		}
	}
	matched := regexp.QuoteMeta(p)
	if regex {
		matched = "(?:" + p + ")"
	}
	switch {
	case base == "/" || handling == "v1" && endsSlash:
		// One optional '/' after the match is eaten, so "base/" never
		// doubles it; with base "/" v0 and v1 agree.
		return rewriteSpec{regex: &model.RegexSub{Pattern: "^" + matched + "/?", Substitution: envoyLiteral(base)}}
	case handling == "v1":
		if regex {
			return rewriteSpec{regex: &model.RegexSub{Pattern: "^" + matched, Substitution: envoyLiteral(base)}}
		}
		return rewriteSpec{prefix: base}
	}
	// v0 with a service path other than "/".
	if regex {
		v1 := kongRewrite("v1", base, p, regex, strip)
		v1.note = fmt.Sprintf("path_handling v0 with a regex path: rewritten with v1 rules, which differ from v0 in the '/' between %s and the rest of the path", base)
		return v1
	}
	pEnds := strings.HasSuffix(p, "/")
	switch {
	case !endsSlash && pEnds:
		return rewriteSpec{prefix: base + "/"}
	case endsSlash && pEnds:
		return rewriteSpec{prefix: base}
	case !endsSlash:
		return rewriteSpec{prefix: base, note: fmt.Sprintf("path_handling v0: a request continuing the last segment (%sx) goes to %sx, where Kong sends %s/x", p, base, base)}
	default:
		trimmed := strings.TrimSuffix(base, "/")
		return rewriteSpec{prefix: trimmed, note: fmt.Sprintf("path_handling v0: a request continuing the last segment (%sx) goes to %sx, where Kong sends %sx", p, trimmed, base)}
	}
}

// envoyLiteral escapes a substitution so Envoy (and the evaluator) insert
// it literally.
func envoyLiteral(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }

func regexErrText(err error) string { return strings.TrimPrefix(err.Error(), "error parsing regexp: ") }

// result sorts the candidates in Kong's order and numbers them.
func (k *kongImporter) result() Result {
	slices.SortStableFunc(k.cands, func(x, y kongCandidate) int { return compareKong(x.key, y.key) })
	var ws model.Workspace
	for i, c := range k.cands {
		for _, r := range c.routes {
			r.Priority = (len(k.cands) - i) * 10
			ws.Routes = append(ws.Routes, r)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(k.builder.upstreams)) {
		ws.Upstreams = append(ws.Upstreams, k.builder.upstreams[name])
	}
	return Result{Workspace: ws, Report: k.report}
}
