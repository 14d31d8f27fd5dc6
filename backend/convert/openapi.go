package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
)

// OpenAPIOptions says where the routes imported from an OpenAPI document go.
type OpenAPIOptions struct {
	// Gateway the routes belong to; it must exist when they are applied.
	Gateway string
	// Upstream every route forwards to. It is only referenced: it must
	// exist on the server or be applied together with the routes.
	Upstream string
	// Host, when set, adds `host == Host` to every route.
	Host string
	// Prefix is prepended to every path. Empty means "the path of
	// servers[0].url"; "/" means no prefix at all.
	Prefix string
}

// openAPIDoc is the part of an OpenAPI 3.x document the importer reads.
type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Swagger string `json:"swagger"`
	Servers []struct {
		URL       string `json:"url"`
		Variables map[string]struct {
			Default string `json:"default"`
		} `json:"variables"`
	} `json:"servers"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

// openAPIMethods are the operation keys of a Path Item, in the order the
// specification lists them; the method condition keeps this order.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIPathItemFields are the other keys a Path Item may hold; they carry
// documentation or parameter schemas, which routing does not need.
var openAPIPathItemFields = []string{"summary", "description", "parameters", "servers"}

var templateVarInvalid = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// OpenAPI turns the paths of an OpenAPI 3.x document (YAML or JSON) into
// one Route per path, forwarding to opts.Upstream. The mapping:
//
//   - a path's operations become `method in [GET, POST, ...]`;
//   - a path without parameters becomes an exact path match, a templated
//     path (`/pets/{petId}`) a path template, each `{param}` a template
//     variable whose name is made valid (letters, digits, '_', starting
//     with a letter, at most 16 characters); from the sixth parameter on
//     (Envoy allows five variables) a parameter becomes an anonymous '*';
//   - paths a template cannot express (`/report.{format}`: text before a
//     parameter inside a segment) are reported and skipped;
//   - opts.Prefix, or else the path of servers[0].url, is prepended.
//
// Priorities follow OpenAPI's matching rule that concrete paths win over
// templated ones: exact paths first, then templates; within each group the
// longer literal text (the path without its parameters) first, then the
// path in byte order. So `/pets/mine` is tried before `/pets/{petId}`.
func OpenAPI(data []byte, opts OpenAPIOptions) (Result, error) {
	// Held to the input limits first: the decoder below expands every
	// alias into a copy.
	if err := input.CheckYAML("", data); input.IsLimit(err) {
		return Result{}, err
	} else if err != nil {
		return Result{}, fmt.Errorf("read OpenAPI document: %w", err)
	}
	var top any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return Result{}, fmt.Errorf("read OpenAPI document: %w", err)
	}
	var doc openAPIDoc
	if err := remarshal(top, &doc); err != nil {
		var p model.Problems
		decodeProblem(&p, "", err)
		return Result{}, p.Err()
	}
	switch {
	case doc.Swagger != "":
		return Result{}, fmt.Errorf("swagger %s documents are not supported: convert to OpenAPI 3 first", doc.Swagger)
	case !strings.HasPrefix(doc.OpenAPI, "3."):
		return Result{}, fmt.Errorf("not an OpenAPI 3.x document (openapi: %q)", doc.OpenAPI)
	}
	if opts.Gateway == "" || opts.Upstream == "" {
		return Result{}, fmt.Errorf("a gateway and an upstream are required")
	}
	b := newBuilder(opts.Gateway)
	prefix := opts.Prefix
	if prefix == "" {
		prefix = b.serverPrefix(doc)
	}
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}

	paths := slices.Sorted(maps.Keys(doc.Paths))
	names := map[string]string{} // route name -> path, to keep names unique
	for _, p := range paths {
		obj := "path " + p
		item := doc.Paths[p]
		var methods []string
		for _, m := range openAPIMethods {
			if _, ok := item[m]; ok {
				methods = append(methods, strings.ToUpper(m))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(item)) {
			if k == "$ref" {
				b.issue(obj, "$ref", "path item references are not resolved: path skipped")
				methods = nil
				break
			}
			if !slices.Contains(openAPIMethods, k) && !slices.Contains(openAPIPathItemFields, k) && !strings.HasPrefix(k, "x-") {
				b.issue(obj, k, "unknown path item field: ignored")
			}
		}
		if len(methods) == 0 {
			if _, ref := item["$ref"]; !ref {
				b.issue(obj, "", "no operations: path skipped")
			}
			continue
		}
		if !strings.HasPrefix(p, "/") {
			b.issue(obj, "", "paths must start with '/': path skipped")
			continue
		}
		full := prefix + p
		if p == "/" && prefix != "" {
			full = prefix
		}
		pathCond, literal, templated, ok := b.openAPIPath(obj, full)
		if !ok {
			continue
		}
		cs := []model.Condition{}
		if opts.Host != "" {
			cs = append(cs, model.Pred(model.FieldHost, model.OpEquals, opts.Host))
		}
		cs = append(cs, pathCond, model.Condition{Field: model.FieldMethod, Op: model.OpIn, Values: methods})

		name := openAPIRouteName(opts.Upstream, full)
		for i := 2; names[name] != ""; i++ {
			name = Name(fmt.Sprintf("%s-%d", openAPIRouteName(opts.Upstream, full), i))
		}
		names[name] = full
		b.routes = append(b.routes, candidate{
			key: specificity{exactPath: !templated, pathLen: len(literal), tie: []string{full}},
			route: model.Route{
				Meta:        model.Meta{Name: name},
				Gateway:     opts.Gateway,
				Description: "imported from OpenAPI path " + p,
				When:        all(cs),
				Then:        model.Action{Forward: []model.Backend{{Upstream: opts.Upstream}}},
			},
		})
	}
	return b.result(), nil
}

// serverPrefix returns the path of servers[0].url, server variables
// replaced by their defaults, and reports that it is used.
func (b *builder) serverPrefix(doc openAPIDoc) string {
	if len(doc.Servers) == 0 {
		return ""
	}
	s := doc.Servers[0]
	raw := s.URL
	for name, v := range s.Variables {
		raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
	}
	u, err := url.Parse(raw)
	if err != nil || strings.ContainsAny(u.Path, "{}") {
		b.issue("servers[0]", "url", "cannot read the path of %q: no prefix used (give --prefix)", s.URL)
		return ""
	}
	p := strings.TrimRight(u.Path, "/")
	if p == "" {
		return ""
	}
	b.issue("servers[0]", "url", "path %s of %q is used as the prefix of every route (--prefix / for none)", p, s.URL)
	return p
}

// openAPIPath converts a full path into a path condition. literal is the
// path without its parameters, for precedence; templated says whether it
// became a template.
func (b *builder) openAPIPath(obj, full string) (cond model.Condition, literal string, templated, ok bool) {
	if !strings.Contains(full, "{") {
		// An exact path must still be something a template literal can
		// spell, or the proxy would see a different path than the spec.
		if _, err := model.ParsePathTemplate(full); err != nil {
			b.issue(obj, "", "cannot be matched as %q: %v: path skipped", full, err)
			return model.Condition{}, "", false, false
		}
		return model.Pred(model.FieldPath, model.OpExact, full), full, false, true
	}
	var tmpl, lit strings.Builder
	used := map[string]bool{}
	vars := 0
	rest := full
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			tmpl.WriteString(rest)
			lit.WriteString(rest)
			break
		}
		tmpl.WriteString(rest[:i])
		lit.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.issue(obj, "", "unclosed '{': path skipped")
			return model.Condition{}, "", false, false
		}
		param := rest[i+1 : i+j]
		rest = rest[i+j+1:]
		if vars == 5 {
			// Envoy binds at most five variables; a bare '*' matches the
			// same single segment without naming it.
			b.issue(obj, "", "parameter {%s} matched as '*': a template has at most 5 variables", param)
			tmpl.WriteString("*")
			continue
		}
		v := templateVarName(param, used)
		if v != param {
			b.issue(obj, "", "parameter {%s} is the template variable {%s}", param, v)
		}
		used[v] = true
		vars++
		tmpl.WriteString("{" + v + "}")
	}
	t := tmpl.String()
	if _, err := model.ParsePathTemplate(t); err != nil {
		b.issue(obj, "", "cannot be written as a path template (%s: %v): path skipped", t, err)
		return model.Condition{}, "", false, false
	}
	return model.Pred(model.FieldPath, model.OpTemplate, t), lit.String(), true, true
}

// templateVarName makes an OpenAPI parameter name a valid, unused template
// variable name.
func templateVarName(param string, used map[string]bool) string {
	v := templateVarInvalid.ReplaceAllString(param, "_")
	if v == "" || !(v[0] >= 'a' && v[0] <= 'z' || v[0] >= 'A' && v[0] <= 'Z') {
		v = "p" + v
	}
	const maxLen = 16
	if len(v) > maxLen {
		v = v[:maxLen]
	}
	for i := 2; used[v]; i++ {
		suffix := strconv.Itoa(i)
		v = v[:min(len(v), maxLen-len(suffix))] + suffix
	}
	return v
}

// openAPIRouteName is "<upstream>-<segments>", parameters without braces:
// /pets/{petId} of upstream petstore is petstore-pets-petid.
func openAPIRouteName(upstream, full string) string {
	s := strings.NewReplacer("{", "", "}", "").Replace(strings.Trim(full, "/"))
	if s == "" {
		s = "root"
	}
	return Name(upstream + "-" + s)
}
