// Package apidoc documents a gateway's routes as an OpenAPI 3.1 document:
// the hosts its rules match as servers, their paths and methods as
// operations, the headers and query parameters they require as parameters
// and their authentication as security schemes. SDK generators and API
// portals read it; what a rule does that OpenAPI cannot say is reported.
package apidoc

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// Issue is something of a rule the document cannot carry.
type Issue struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	// Skipped means the rule is not in the document at all.
	Skipped bool `json:"skipped"`
}

// Options name the document.
type Options struct {
	// Version is the document's info.version ("3" for published version 3,
	// "draft").
	Version string
}

// anyMethod is what a rule without a method condition is documented with.
var anyMethod = []string{"get", "put", "post", "delete", "options", "head", "patch"}

// Document builds the OpenAPI document of gateway's enabled rules in ws, in
// evaluation order: where two rules document the same path and method, the
// one that takes the requests (the earlier) is kept.
func Document(ws model.Workspace, gateway string, opts Options) (map[string]any, []Issue, error) {
	var gw *model.Gateway
	for i := range ws.Gateways {
		if ws.Gateways[i].Name == gateway {
			gw = &ws.Gateways[i]
		}
	}
	if gw == nil {
		return nil, nil, model.Errorf(model.ENOTFOUND, "gateway %q not found", gateway)
	}
	var routes []*model.Route
	for i := range ws.Routes {
		r := ws.Routes[i]
		if r.Gateway != gateway || r.Disabled {
			continue
		}
		r.When = r.When.Clone()
		if err := rules.Resolve(&r); err != nil {
			continue
		}
		routes = append(routes, &r)
	}
	sort.SliceStable(routes, func(i, j int) bool { return model.CompareRoutes(routes[i], routes[j]) < 0 })

	d := &doc{gw: gw, paths: map[string]map[string]any{}, schemes: map[string]any{}, hosts: map[string]bool{},
		owners: map[string]string{}, opIDs: map[string]bool{}}
	for _, r := range routes {
		d.route(r)
	}
	version := opts.Version
	if version == "" {
		version = "draft"
	}
	out := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Gateway " + gateway,
			"version":     version,
			"description": "The routes of gateway " + gateway + ", documented from its rules.",
		},
		"servers": servers(gw, d.hosts),
		"paths":   d.pathsOut(),
	}
	if len(d.schemes) > 0 {
		out["components"] = map[string]any{"securitySchemes": d.schemes}
	}
	return out, d.issues, nil
}

type doc struct {
	gw      *model.Gateway
	paths   map[string]map[string]any // path -> method -> operation
	owners  map[string]string         // path+method -> rule
	schemes map[string]any
	hosts   map[string]bool
	issues  []Issue
	opIDs   map[string]bool
}

func (d *doc) issue(rule string, skipped bool, format string, args ...any) {
	d.issues = append(d.issues, Issue{Rule: rule, Skipped: skipped, Reason: fmt.Sprintf(format, args...)})
}

// top returns the predicates at the top level of c: c itself, or the
// members of a root all.
func top(c model.Condition) []model.Condition {
	if len(c.All) > 0 {
		return c.All
	}
	if c.IsPredicate() {
		return []model.Condition{c}
	}
	return nil
}

func (d *doc) route(r *model.Route) {
	var (
		path, match string
		methods     []string
		params      []any
		hosts       []string
		pathSet     bool
	)
	for _, p := range top(r.When) {
		kind, key, ok := model.ParseField(p.Field)
		if !ok {
			continue
		}
		switch kind {
		case model.FieldPath:
			switch p.Op {
			case model.OpEquals, model.OpExact:
				path, match = p.Value, "exact"
			case model.OpPrefix, model.OpSegmentPrefix:
				path, match = strings.TrimRight(p.Value, "/"), "prefix"
				if path == "" {
					path = "/"
				}
			case model.OpTemplate:
				var vars []string
				path, vars = template(p.Value)
				match = "template"
				for _, v := range vars {
					params = append(params, map[string]any{"name": v, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
				}
			default:
				continue
			}
			pathSet = true
		case model.FieldMethod:
			switch p.Op {
			case model.OpEquals:
				methods = []string{strings.ToLower(p.Value)}
			case model.OpIn:
				methods = nil
				for _, v := range p.Values {
					methods = append(methods, strings.ToLower(v))
				}
			}
		case model.FieldHost:
			switch p.Op {
			case model.OpEquals:
				hosts = []string{p.Value}
			case model.OpIn:
				hosts = slices.Clone(p.Values)
			}
		case model.FieldHeader, model.FieldQuery:
			in := "header"
			if kind == model.FieldQuery {
				in = "query"
			}
			if p.Op == model.OpAbsent {
				continue
			}
			schema := map[string]any{"type": "string"}
			switch p.Op {
			case model.OpEquals:
				schema["const"] = p.Value
			case model.OpIn:
				schema["enum"] = p.Values
			case model.OpPrefix:
				schema["pattern"] = "^" + regexp.QuoteMeta(p.Value)
			case model.OpRegex:
				schema["pattern"] = "^(?:" + p.Value + ")$"
			}
			params = append(params, map[string]any{"name": key, "in": in, "required": true, "schema": schema})
		}
	}
	switch {
	case r.Then.Redirect == nil && r.Then.Respond == nil && len(r.Then.Forward) == 0:
		d.issue(r.Name, true, "no action to document")
		return
	case !pathSet && len(top(r.When)) != len(flat(r.When)):
		d.issue(r.Name, true, "its condition has alternatives (||, !) OpenAPI operations cannot express")
		return
	case !pathSet:
		path, match = "/", "prefix"
	}
	if match == "prefix" {
		d.issue(r.Name, false, "matches every path under %s; documented as %s", orRoot(path), path)
	}
	if len(methods) == 0 {
		methods = anyMethod
	}
	for _, h := range hosts {
		if !strings.Contains(h, "*") {
			d.hosts[strings.ToLower(h)] = true
		}
	}
	if d.paths[path] == nil {
		d.paths[path] = map[string]any{}
	}
	security := d.security(r)
	for _, m := range methods {
		if !slices.Contains(anyMethod, m) && m != "trace" {
			d.issue(r.Name, false, "method %s is not one OpenAPI documents", strings.ToUpper(m))
			continue
		}
		if owner, taken := d.owners[path+" "+m]; taken {
			d.issue(r.Name, false, "%s %s is documented from rule %q, which comes first", strings.ToUpper(m), path, owner)
			continue
		}
		d.owners[path+" "+m] = r.Name
		op := map[string]any{
			"operationId":      d.opID(r.Name, m, len(methods) > 1),
			"summary":          summary(r),
			"responses":        responses(r),
			"x-routedeck-rule": r.Name,
		}
		if r.Description != "" {
			op["description"] = r.Description
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if security != nil {
			op["security"] = security
		}
		if len(hosts) > 0 {
			// The rule answers on these hosts only.
			op["servers"] = serverList(d.gw, hosts)
		}
		d.paths[path][m] = op
	}
}

// flat counts the predicates of c wherever they are.
func flat(c model.Condition) []model.Condition {
	if c.IsPredicate() {
		return []model.Condition{c}
	}
	var out []model.Condition
	for _, k := range append(append(slices.Clone(c.All), c.Any...), derefs(c.Not)...) {
		out = append(out, flat(k)...)
	}
	return out
}

func derefs(c *model.Condition) []model.Condition {
	if c == nil {
		return nil
	}
	return []model.Condition{*c}
}

func orRoot(p string) string {
	if p == "/" {
		return "/"
	}
	return p + "/"
}

var templateParam = regexp.MustCompile(`\{([^}=]*)(=[^}]*)?\}`)

// template turns a routedeck path template ("/users/{id}", "/files/**")
// into an OpenAPI path and its parameter names.
func template(t string) (string, []string) {
	var vars []string
	out := templateParam.ReplaceAllStringFunc(t, func(m string) string {
		name := templateParam.FindStringSubmatch(m)[1]
		vars = append(vars, name)
		return "{" + name + "}"
	})
	for i := 1; strings.Contains(out, "**"); i++ {
		name := "rest"
		if i > 1 {
			name += strconv.Itoa(i)
		}
		out = strings.Replace(out, "**", "{"+name+"}", 1)
		vars = append(vars, name)
	}
	for i := 1; strings.Contains(out, "*"); i++ {
		name := "segment" + strconv.Itoa(i)
		out = strings.Replace(out, "*", "{"+name+"}", 1)
		vars = append(vars, name)
	}
	return out, vars
}

func (d *doc) opID(rule, method string, several bool) string {
	id := rule
	if several {
		id += "_" + method
	}
	for base, i := id, 2; d.opIDs[id]; i++ {
		id = base + "_" + strconv.Itoa(i)
	}
	d.opIDs[id] = true
	return id
}

func summary(r *model.Route) string {
	if r.Description != "" {
		if line, _, _ := strings.Cut(r.Description, "\n"); len(line) <= 120 {
			return line
		}
	}
	return "Rule " + r.Name
}

func responses(r *model.Route) map[string]any {
	a := r.Then
	switch {
	case a.Respond != nil:
		resp := map[string]any{"description": "Answered by the gateway"}
		if a.Respond.Body != "" {
			resp["content"] = map[string]any{"text/plain": map[string]any{"example": a.Respond.Body}}
		}
		return map[string]any{strconv.Itoa(a.Respond.Status): resp}
	case a.Redirect != nil:
		status := a.Redirect.Status
		if status == 0 {
			status = 301
		}
		return map[string]any{strconv.Itoa(status): map[string]any{"description": "Redirect",
			"headers": map[string]any{"Location": map[string]any{"schema": map[string]any{"type": "string"}}}}}
	}
	var ups []string
	for _, b := range a.Forward {
		ups = append(ups, b.Upstream)
	}
	return map[string]any{"default": map[string]any{"description": "The response of upstream " + strings.Join(ups, " or ")}}
}

// security adds the rule's authentication to the schemes and returns the
// operation's security requirement (nil without authentication).
func (d *doc) security(r *model.Route) []any {
	au := r.Then.Auth
	if au == nil {
		return nil
	}
	req := map[string]any{}
	if au.JWT != nil {
		name := "jwt"
		if au.JWT.Issuer != "" {
			name = "jwt-" + sanitize(au.JWT.Issuer)
		}
		d.schemes[name] = map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
			"description": "A JWT issued by " + au.JWT.Issuer}
		req[name] = []any{}
	}
	if au.APIKey != nil {
		name := "apiKey-" + sanitize(strings.ToLower(au.APIKey.Header))
		d.schemes[name] = map[string]any{"type": "apiKey", "in": "header", "name": au.APIKey.Header}
		req[name] = []any{}
	}
	if au.Basic != nil {
		d.schemes["basic"] = map[string]any{"type": "http", "scheme": "basic"}
		req["basic"] = []any{}
	}
	if len(req) == 0 {
		return nil
	}
	return []any{req}
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func sanitize(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	return strings.Trim(unsafe.ReplaceAllString(s, "-"), "-")
}

func (d *doc) pathsOut() map[string]any {
	out := map[string]any{}
	for p, ops := range d.paths {
		if len(ops) == 0 {
			continue
		}
		item := map[string]any{}
		for m, op := range ops {
			item[m] = op
		}
		out[p] = item
	}
	return out
}

// servers lists a server per exact host the rules name and listener.
func servers(gw *model.Gateway, hosts map[string]bool) []any {
	names := slices.Sorted(maps.Keys(hosts))
	if len(names) == 0 {
		names = []string{"localhost"}
	}
	return serverList(gw, names)
}

// serverList is a server per host and listener: the listener's scheme, its
// port when not the scheme's default; a wildcard host's "*" becomes a
// variable.
func serverList(gw *model.Gateway, hosts []string) []any {
	out := []any{}
	for _, l := range gw.Listeners {
		scheme := "http"
		if strings.EqualFold(l.Protocol, "HTTPS") {
			scheme = "https"
		}
		port := ""
		if !(scheme == "http" && l.Port == 80 || scheme == "https" && l.Port == 443) {
			port = ":" + strconv.Itoa(l.Port)
		}
		for _, h := range hosts {
			srv := map[string]any{"url": scheme + "://" + strings.Replace(strings.ToLower(h), "*", "{subdomain}", 1) + port,
				"description": "listener " + l.Name}
			if strings.Contains(h, "*") {
				srv["variables"] = map[string]any{"subdomain": map[string]any{"default": "www"}}
			}
			out = append(out, srv)
		}
	}
	return out
}
