package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// plugins applies the plugins that act on a route: per plugin name, the
// route's instance, else its service's, else the global one (Kong's rule
// for instances that are not consumer-scoped).
func (k *kongImporter) plugins(in *kongRouteIn, a *model.Action) {
	chosen := map[string]kongPlugin{}
	for _, set := range [][]kongPlugin{k.global, in.svc.plugins, in.plugins} {
		for _, p := range set {
			if p.Consumer != nil {
				if obj := pluginObj(p); !k.pluginSeen[obj] {
					k.pluginSeen[obj] = true
					k.issue(obj, "consumer", "consumer-scoped plugins are not imported: routedeck has no consumers")
				}
				continue
			}
			chosen[p.Name] = p
		}
	}
	// Credentials come from the consumers, narrowed by an acl plugin on
	// the same route; one authentication per route in routedeck.
	var acl *kongPlugin
	if p, ok := chosen["acl"]; ok && (p.Enabled == nil || *p.Enabled) {
		acl = &p
	}
	authed := ""
	for _, name := range slices.Sorted(maps.Keys(chosen)) {
		p := chosen[name]
		if name == "key-auth" || name == "basic-auth" {
			if authed != "" {
				k.issue(pluginObj(p)+" (route "+in.name+")", "", "not imported: routedeck takes one authentication per route, and %s is already imported", authed)
				continue
			}
			if k.credentialAuth(p, acl, a) {
				authed = name
			}
			continue
		}
		if name == "acl" && (chosen["key-auth"].Name != "" || chosen["basic-auth"].Name != "") {
			continue // applied to the credentials above
		}
		k.plugin(p, a)
	}
}

// credentialAuth maps key-auth or basic-auth onto a.Auth with the
// credentials of every consumer acl lets through (all of them without an
// acl plugin). It reports whatever Kong would do differently and says
// whether the route now authenticates.
func (k *kongImporter) credentialAuth(p kongPlugin, acl *kongPlugin, a *model.Action) bool {
	issue, enabled := k.pluginIssues(p)
	if !enabled {
		return false
	}
	var c struct {
		KeyNames        []string `json:"key_names"`
		KeyInQuery      *bool    `json:"key_in_query"`
		KeyInBody       bool     `json:"key_in_body"`
		HideCredentials bool     `json:"hide_credentials"`
		Anonymous       string   `json:"anonymous"`
	}
	if len(p.Config) > 0 {
		if err := json.Unmarshal(p.Config, &c); err != nil {
			issue("config", "cannot read: %v: not imported; the imported route does not authenticate", err)
			return false
		}
	}
	if c.Anonymous != "" {
		issue("config.anonymous", "anonymous access is not imported: requests without credentials are refused")
	}
	if c.HideCredentials {
		issue("config.hide_credentials", "the credentials are not removed before the upstream")
	}
	allowed, denied := map[string]bool{}, map[string]bool{}
	if acl != nil {
		var ac struct {
			Allow []string `json:"allow"`
			Deny  []string `json:"deny"`
		}
		_ = json.Unmarshal(acl.Config, &ac)
		for _, g := range ac.Allow {
			allowed[g] = true
		}
		for _, g := range ac.Deny {
			denied[g] = true
		}
	}
	lets := func(con kongConsumer) bool {
		if acl == nil {
			return true
		}
		in := false
		for _, g := range con.ACLs {
			if denied[g.Group] {
				return false
			}
			in = in || allowed[g.Group]
		}
		return in || len(allowed) == 0
	}
	switch p.Name {
	case "key-auth":
		header := "apikey"
		if len(c.KeyNames) > 0 {
			header = c.KeyNames[0]
		}
		if len(c.KeyNames) > 1 {
			issue("config.key_names", "only the first key name (%s) is imported", header)
		}
		if c.KeyInQuery == nil || *c.KeyInQuery {
			issue("config.key_in_query", "keys are read from the %s header only, not from the query string", header)
		}
		if c.KeyInBody {
			issue("config.key_in_body", "keys are read from the %s header only, not from the body", header)
		}
		var keys []string
		for _, con := range k.consumers {
			if !lets(con) {
				continue
			}
			for _, kc := range con.Keys {
				if kc.Key != "" {
					keys = append(keys, kc.Key)
				}
			}
		}
		if len(keys) == 0 {
			issue("", "no consumer it lets in has a key-auth key: not imported. The imported route does not authenticate")
			return false
		}
		slices.Sort(keys)
		a.Auth = &model.Auth{APIKey: &model.APIKeyAuth{Header: header, Keys: slices.Compact(keys)}}
	case "basic-auth":
		users := map[string]string{}
		for _, con := range k.consumers {
			if !lets(con) {
				continue
			}
			for _, bc := range con.Basic {
				if isSHA1Hex(bc.Password) {
					issue("", "consumer %s: the password of %s is stored hashed by Kong and cannot be imported", con.name(), bc.Username)
					continue
				}
				if bc.Username != "" && bc.Password != "" {
					users[bc.Username] = bc.Password
				}
			}
		}
		if len(users) == 0 {
			issue("", "no consumer it lets in has a usable basic-auth password: not imported. The imported route does not authenticate")
			return false
		}
		a.Auth = &model.Auth{Basic: &model.BasicAuth{Users: users}}
	}
	return true
}

// isSHA1Hex reports whether a password looks like the salted SHA-1 Kong
// stores and decK dumps: forty hex digits.
func isSHA1Hex(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// pluginIssues returns how to report a problem of plugin instance p: once
// per instance, however many routes it applies to. A disabled instance is
// reported as such and enabled is false.
func (k *kongImporter) pluginIssues(p kongPlugin) (issue func(field, format string, args ...any), enabled bool) {
	obj := pluginObj(p)
	seen := k.pluginSeen[obj]
	k.pluginSeen[obj] = true
	issue = func(field, format string, args ...any) {
		if !seen {
			k.issue(obj, field, format, args...)
		}
	}
	if p.Enabled != nil && !*p.Enabled {
		issue("enabled", "disabled: not imported")
		return issue, false
	}
	return issue, true
}

// plugin maps one plugin instance onto a.
func (k *kongImporter) plugin(p kongPlugin, a *model.Action) {
	issue, enabled := k.pluginIssues(p)
	if !enabled {
		return
	}
	switch p.Name {
	case "rate-limiting":
		var c struct {
			Second, Minute, Hour, Day, Month, Year float64
			Policy                                 string `json:"policy"`
			LimitBy                                string `json:"limit_by"`
			ErrorCode                              int    `json:"error_code"`
		}
		if err := json.Unmarshal(p.Config, &c); err != nil {
			issue("config", "cannot read: %v: not imported", err)
			return
		}
		windows := []struct {
			n    float64
			per  time.Duration
			name string
		}{{c.Second, time.Second, "second"}, {c.Minute, time.Minute, "minute"}, {c.Hour, time.Hour, "hour"},
			{c.Day, 24 * time.Hour, "day"}, {c.Month, 30 * 24 * time.Hour, "month"}, {c.Year, 365 * 24 * time.Hour, "year"}}
		var rl *model.RateLimit
		for _, w := range windows {
			if w.n <= 0 {
				continue
			}
			if rl == nil {
				rl = &model.RateLimit{Requests: int(w.n), Per: model.Duration(w.per), Status: c.ErrorCode}
				if c.ErrorCode == 429 {
					rl.Status = 0
				}
				continue
			}
			issue("config."+w.name, "one limit per route: only the per-%s limit is imported", windowName(rl.Per))
		}
		if rl == nil {
			issue("config", "no limit set: not imported")
			return
		}
		if c.Policy != "" && c.Policy != "local" {
			issue("config.policy", "policy %s counts across Kong nodes; routedeck counts per Envoy instance, like policy local", c.Policy)
		}
		issue("config.limit_by", "Kong counts per %s; routedeck's limit is shared by every client of the route", orDefault(c.LimitBy, "consumer"))
		a.RateLimit = rl
	case "cors":
		var c struct {
			Origins           []string `json:"origins"`
			Methods           []string `json:"methods"`
			Headers           []string `json:"headers"`
			ExposedHeaders    []string `json:"exposed_headers"`
			Credentials       bool     `json:"credentials"`
			MaxAge            *float64 `json:"max_age"`
			PreflightContinue bool     `json:"preflight_continue"`
			PrivateNetwork    bool     `json:"private_network"`
		}
		if err := json.Unmarshal(p.Config, &c); err != nil {
			issue("config", "cannot read: %v: not imported", err)
			return
		}
		cors := &model.CORS{AllowMethods: c.Methods, AllowHeaders: c.Headers, ExposeHeaders: c.ExposedHeaders, AllowCredentials: c.Credentials}
		if len(c.Origins) == 0 {
			cors.AllowOrigins = []string{"*"}
		}
		for _, o := range c.Origins {
			if o == "*" || kongPlainOrigin.MatchString(o) {
				cors.AllowOrigins = append(cors.AllowOrigins, o)
			} else {
				// Kong reads an origin with regex characters as a
				// regex over the whole Origin value.
				cors.AllowOrigins = append(cors.AllowOrigins, "regex:"+o)
			}
		}
		if c.MaxAge != nil {
			cors.MaxAge = seconds(*c.MaxAge)
		}
		if c.PreflightContinue {
			issue("config.preflight_continue", "preflights are always answered by the gateway: not imported")
		}
		if c.PrivateNetwork {
			issue("config.private_network", "not imported")
		}
		a.CORS = cors
	case "ip-restriction":
		var c struct {
			Allow     []string `json:"allow"`
			Deny      []string `json:"deny"`
			Whitelist []string `json:"whitelist"`
			Blacklist []string `json:"blacklist"`
			Status    *int     `json:"status"`
			Message   *string  `json:"message"`
		}
		if err := json.Unmarshal(p.Config, &c); err != nil {
			issue("config", "cannot read: %v: not imported", err)
			return
		}
		acc := &model.Access{}
		for _, ip := range append(slices.Clone(c.Allow), c.Whitelist...) {
			acc.Allow = append(acc.Allow, cidr(ip))
		}
		for _, ip := range append(slices.Clone(c.Deny), c.Blacklist...) {
			acc.Deny = append(acc.Deny, cidr(ip))
		}
		if len(acc.Allow) == 0 && len(acc.Deny) == 0 {
			issue("config", "neither allow nor deny: not imported")
			return
		}
		if c.Status != nil || c.Message != nil {
			issue("config.status", "the refusal's status and message are not imported (routedeck answers 403)")
		}
		a.Access = acc
	case "request-transformer", "response-transformer":
		k.transformer(p, a, issue)
	case "jwt":
		issue("", "not imported: Kong checks tokens against consumers' JWT credentials; routedeck's JWT auth needs an issuer and a JWKS (then.auth.jwt). The imported route does not authenticate")
	case "hmac-auth", "oauth2", "ldap-auth", "openid-connect":
		issue("", "not imported: Kong checks credentials of consumers, which are not imported. The imported route does not authenticate; add then.auth by hand")
	case "acl":
		issue("", "not imported: on a route without key-auth or basic-auth there are no consumers to check groups of. The imported route does not restrict access")
	default:
		issue("", "plugin %s has no routedeck equivalent: not imported", p.Name)
	}
}

func windowName(d model.Duration) string {
	switch time.Duration(d) {
	case time.Second:
		return "second"
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	case 30 * 24 * time.Hour:
		return "month"
	}
	return "year"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cidr writes a lone address as a one-address prefix.
func cidr(ip string) string {
	if strings.Contains(ip, "/") {
		return ip
	}
	if strings.Contains(ip, ":") {
		return ip + "/128"
	}
	return ip + "/32"
}

// transformer maps the header parts of request-transformer and
// response-transformer: remove -> remove, replace -> set (which also adds
// a missing header, unlike Kong), add -> add if absent, append -> add.
func (k *kongImporter) transformer(p kongPlugin, a *model.Action, issue func(field, format string, args ...any)) {
	type part struct {
		Headers     []string `json:"headers"`
		Querystring []string `json:"querystring"`
		Body        []string `json:"body"`
		JSON        []string `json:"json"`
		JSONTypes   []string `json:"json_types"`
		URI         string   `json:"uri"`
	}
	var c struct {
		HTTPMethod string `json:"http_method"`
		Remove     part   `json:"remove"`
		Rename     part   `json:"rename"`
		Replace    part   `json:"replace"`
		Add        part   `json:"add"`
		Append     part   `json:"append"`
	}
	if err := json.Unmarshal(p.Config, &c); err != nil {
		issue("config", "cannot read: %v: not imported", err)
		return
	}
	m := &model.HeaderMutation{}
	put := func(field string, into *map[string]string, entries []string) {
		for i, e := range entries {
			f := fmt.Sprintf("config.%s.headers[%d]", field, i)
			name, value, ok := strings.Cut(e, ":")
			switch {
			case !ok:
				issue(f, "%q is not name:value: not imported", e)
			case strings.Contains(value, "$("):
				issue(f, "template values are not imported")
			case strings.EqualFold(name, "host"):
				issue(f, "the Host header is not imported here: use the route's rewrite.host")
			default:
				if *into == nil {
					*into = map[string]string{}
				}
				(*into)[strings.ToLower(name)] = value
			}
		}
	}
	for i, h := range c.Remove.Headers {
		if strings.EqualFold(h, "host") {
			issue(fmt.Sprintf("config.remove.headers[%d]", i), "the Host header cannot be removed: not imported")
			continue
		}
		m.Remove = append(m.Remove, strings.ToLower(h))
	}
	if len(c.Replace.Headers) > 0 {
		issue("config.replace.headers", "replace only changes headers that are present; imported as set, which also adds missing ones")
	}
	put("replace", &m.Set, c.Replace.Headers)
	put("add", &m.AddIfAbsent, c.Add.Headers)
	put("append", &m.Add, c.Append.Headers)
	if len(c.Rename.Headers) > 0 {
		issue("config.rename.headers", "renaming headers is not imported")
	}
	for _, x := range []struct {
		field string
		set   bool
	}{
		{"http_method", c.HTTPMethod != ""},
		{"replace.uri", c.Replace.URI != ""},
		{"querystring", len(c.Remove.Querystring)+len(c.Rename.Querystring)+len(c.Replace.Querystring)+len(c.Add.Querystring)+len(c.Append.Querystring) > 0},
		{"body", len(c.Remove.Body)+len(c.Rename.Body)+len(c.Replace.Body)+len(c.Add.Body)+len(c.Append.Body) > 0},
		{"json", len(c.Remove.JSON)+len(c.Rename.JSON)+len(c.Replace.JSON)+len(c.Add.JSON)+len(c.Append.JSON) > 0},
	} {
		if x.set {
			issue("config."+x.field, "routedeck rewrites headers only: not imported")
		}
	}
	if len(m.Set)+len(m.Add)+len(m.AddIfAbsent)+len(m.Remove) == 0 {
		return
	}
	h := ensureHeaders(&a.Headers)
	if p.Name == "request-transformer" {
		h.Request = m
	} else {
		h.Response = m
	}
}
