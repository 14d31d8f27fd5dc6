// Package openapimodel writes the JSON schemas of the model's objects
// (backend/model) into the API's OpenAPI document, derived from the Go
// types and their json tags, so the document describes every field the
// API reads and writes and the frontend's TypeScript types, generated from
// the document, follow the model. Update rewrites only the schemas it
// owns (marked x-go-type) and the model fields of the four object
// schemas, leaving the rest of the hand-written document byte for byte.
package openapimodel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// objects are the API's object schemas and their model types. They keep
// their hand-written parts (kind, warnings, descriptions); their model
// fields are generated.
var objects = []struct {
	name string
	typ  reflect.Type
}{
	{"Secret", reflect.TypeFor[model.Secret]()},
	{"Gateway", reflect.TypeFor[model.Gateway]()},
	{"Upstream", reflect.TypeFor[model.Upstream]()},
	{"Route", reflect.TypeFor[model.Route]()},
}

// renamed gives nested model types whose Go name another schema of the
// document already has a schema name of their own.
var renamed = map[reflect.Type]string{
	reflect.TypeFor[model.Endpoint](): "UpstreamEndpoint",
}

var (
	durationType  = reflect.TypeFor[model.Duration]()
	timeType      = reflect.TypeFor[time.Time]()
	conditionType = reflect.TypeFor[model.Condition]()
)

// schema is a JSON schema object with ordered keys.
type schema = *ordered

// generator collects the named schemas of nested types.
type generator struct {
	named map[string]schema
	order []string
}

// Schemas returns the object schemas' model properties (by object name)
// and the named schemas of the nested types, in a stable order.
func Schemas() (objectProps map[string]schema, objectRequired map[string][]string, named []string, defs map[string]schema) {
	g := &generator{named: map[string]schema{}}
	objectProps, objectRequired = map[string]schema{}, map[string][]string{}
	for _, o := range objects {
		props, required := g.fields(o.typ)
		objectProps[o.name], objectRequired[o.name] = props, required
	}
	slices.Sort(g.order)
	return objectProps, objectRequired, g.order, g.named
}

// fields is the properties of struct t (embedded structs inlined) and
// the names of the required ones (no omitempty or omitzero).
func (g *generator) fields(t reflect.Type) (schema, []string) {
	props := newOrdered()
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			inner, req := g.fields(f.Type)
			for _, k := range inner.keys {
				props.set(k, inner.vals[k])
			}
			required = append(required, req...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := g.typeSchema(f.Type)
		if t == reflect.TypeFor[model.Meta]() && (name == "updatedAt" || name == "updatedBy") {
			s = s.with("readOnly", true)
		}
		if f.Type == conditionType {
			s = newOrdered().with("description", "condition tree, or condition text").
				with("oneOf", []any{newOrdered().with("type", "string"), ref("Condition")})
		}
		props.set(name, s)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	return props, required
}

func ref(name string) schema { return newOrdered().with("$ref", "#/components/schemas/"+name) }

func (g *generator) typeSchema(t reflect.Type) schema {
	switch t {
	case durationType:
		return newOrdered().with("type", "string").with("description", `duration text such as "5s" or "1m30s"; a bare number is read as seconds`)
	case timeType:
		return newOrdered().with("type", "string").with("format", "date-time")
	case conditionType:
		g.condition()
		return ref("Condition")
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeSchema(t.Elem())
	case reflect.String:
		return newOrdered().with("type", "string")
	case reflect.Bool:
		return newOrdered().with("type", "boolean")
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return newOrdered().with("type", "integer")
	case reflect.Float32, reflect.Float64:
		return newOrdered().with("type", "number")
	case reflect.Slice:
		return newOrdered().with("type", "array").with("items", g.typeSchema(t.Elem()))
	case reflect.Map:
		return newOrdered().with("type", "object").with("additionalProperties", g.typeSchema(t.Elem()))
	case reflect.Struct:
		name := t.Name()
		if n, ok := renamed[t]; ok {
			name = n
		}
		if _, done := g.named[name]; !done {
			g.named[name] = nil // placeholder against recursion
			props, required := g.fields(t)
			s := newOrdered().with("type", "object").with("x-go-type", "model."+t.Name())
			if len(required) > 0 {
				s = s.with("required", required)
			}
			g.named[name] = s.with("additionalProperties", false).with("properties", props)
			g.order = append(g.order, name)
		}
		return ref(name)
	}
	panic(fmt.Sprintf("openapimodel: no schema for %s", t))
}

// condition is the tree form of a condition; its operators come from the
// model's operator table.
func (g *generator) condition() {
	if _, done := g.named["Condition"]; done {
		return
	}
	var ops []any
	for _, op := range model.Operators {
		ops = append(ops, op.Name)
	}
	list := newOrdered().with("type", "array").with("items", ref("Condition"))
	g.named["Condition"] = newOrdered().with("type", "object").with("x-go-type", "model.Condition").
		with("description", "a node of a rule's condition tree: one of all, any, not, or a predicate (field, op and value or values); the empty object matches everything").
		with("additionalProperties", false).
		with("properties", newOrdered().
			with("all", list).
			with("any", list).
			with("not", ref("Condition")).
			with("field", newOrdered().with("type", "string").with("description", `host, path, method, scheme, grpc, grpc.service, grpc.method, header[NAME], query[NAME] or cookie[NAME]`)).
			with("op", newOrdered().with("type", "string").with("enum", ops)).
			with("value", newOrdered().with("type", "string")).
			with("values", newOrdered().with("type", "array").with("items", newOrdered().with("type", "string"))).
			with("ignoreCase", newOrdered().with("type", "boolean")))
	g.order = append(g.order, "Condition")
}

// Update returns doc (the OpenAPI document's text) with the generated
// schemas in place.
func Update(doc []byte) ([]byte, error) {
	root, err := parse(doc)
	if err != nil {
		return nil, err
	}
	schemas := root.get("components").get("schemas")
	if schemas == nil {
		return nil, fmt.Errorf("openapi document has no components.schemas")
	}
	props, required, names, defs := Schemas()
	for _, o := range objects {
		obj := schemas.get(o.name)
		if obj == nil {
			return nil, fmt.Errorf("openapi document has no %s schema", o.name)
		}
		have := obj.get("properties")
		merged := newOrdered()
		gen := props[o.name]
		for _, k := range gen.keys {
			s := gen.vals[k].(schema)
			old := have.get(k)
			keepWords(s, old)
			if r, _ := s.vals["$ref"].(string); r != "" && old != nil {
				// An inline object that became a named schema hands its
				// fields' words on to it.
				keepFieldWords(defs[strings.TrimPrefix(r, "#/components/schemas/")], old)
			}
			merged.set(k, s)
		}
		// What the API adds to the model's fields (kind, warnings, ...).
		for _, k := range have.keys {
			if _, ok := merged.vals[k]; !ok {
				merged.set(k, have.vals[k])
			}
		}
		obj.set("required", required[o.name])
		obj.set("additionalProperties", false)
		obj.set("properties", merged)
	}
	// Generated schemas: replaced in place, new ones appended, stale ones
	// dropped.
	for _, k := range slices.Clone(schemas.keys) {
		if s, ok := schemas.vals[k].(schema); ok && s.vals["x-go-type"] != nil && defs[k] == nil {
			schemas.del(k)
		}
	}
	for _, name := range names {
		keepWords(defs[name], schemas.get(name))
		keepFieldWords(defs[name], schemas.get(name))
		schemas.set(name, defs[name])
	}
	return root.encode(doc)
}

// keepWords copies the hand-written parts of an old schema (its
// description, readOnly, writeOnly) onto the generated one.
func keepWords(s, old schema) {
	if s == nil || old == nil {
		return
	}
	for _, k := range []string{"description", "readOnly", "writeOnly"} {
		if v, ok := old.vals[k]; ok {
			s.set(k, v)
		}
	}
}

// keepFieldWords does keepWords for each property of s.
func keepFieldWords(s, old schema) {
	props := s.get("properties")
	if props == nil {
		return
	}
	for _, k := range props.keys {
		keepWords(props.get(k), old.get("properties").get(k))
	}
}

// ordered is a JSON object that keeps its keys' order, and for an object
// read from the document the text it was read from, written back as it
// was unless changed.
type ordered struct {
	keys []string
	vals map[string]any
	// raw is the source text of an unchanged object read from the document.
	raw     []byte
	changed bool
}

func newOrdered() *ordered { return &ordered{vals: map[string]any{}, changed: true} }

func (o *ordered) get(k string) *ordered {
	if o == nil {
		return nil
	}
	v, _ := o.vals[k].(*ordered)
	return v
}

func (o *ordered) with(k string, v any) *ordered { o.set(k, v); return o }

func (o *ordered) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	o.changed = true
}

func (o *ordered) del(k string) {
	delete(o.vals, k)
	o.keys = slices.DeleteFunc(o.keys, func(x string) bool { return x == k })
	o.changed = true
}

// parse reads a JSON document into ordered objects; other values stay raw.
func parse(doc []byte) (*ordered, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readValue(dec, doc)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*ordered)
	if !ok {
		return nil, fmt.Errorf("openapi document is not an object")
	}
	return o, nil
}

func readValue(dec *json.Decoder, doc []byte) (any, error) {
	start := skipSpace(doc, int(dec.InputOffset()))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok || d != '{' {
		if ok { // an array: kept as its raw text
			depth := 1
			for depth > 0 {
				t, err := dec.Token()
				if err != nil {
					return nil, err
				}
				if dd, ok := t.(json.Delim); ok {
					if dd == '[' || dd == '{' {
						depth++
					} else {
						depth--
					}
				}
			}
		}
		return json.RawMessage(bytes.TrimSpace(doc[start:dec.InputOffset()])), nil
	}
	o := &ordered{vals: map[string]any{}}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		v, err := readValue(dec, doc)
		if err != nil {
			return nil, err
		}
		k := kt.(string)
		o.keys = append(o.keys, k)
		o.vals[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	o.raw = doc[start:dec.InputOffset()]
	return o, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r' || b[i] == ',' || b[i] == ':') {
		i++
	}
	return i
}

// encode writes the document: unchanged objects as their source text,
// changed ones with two-space indentation like the rest of the file.
func (o *ordered) encode(_ []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := write(&b, o, 0); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func write(b *bytes.Buffer, v any, indent int) error {
	switch v := v.(type) {
	case *ordered:
		if !v.dirty() {
			b.Write(v.raw)
			return nil
		}
		if len(v.keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i, k := range v.keys {
			b.WriteString(strings.Repeat("  ", indent+1))
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteString(": ")
			if err := write(b, v.vals[k], indent+1); err != nil {
				return err
			}
			if i < len(v.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("  ", indent) + "}")
		return nil
	case json.RawMessage:
		// Read from the document at this same depth: written as it was.
		b.Write(v)
		return nil
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[\n")
		for i, x := range v {
			b.WriteString(strings.Repeat("  ", indent+1))
			if err := write(b, x, indent+1); err != nil {
				return err
			}
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("  ", indent) + "]")
		return nil
	case []string:
		xs := make([]any, len(v))
		for i, s := range v {
			xs[i] = s
		}
		return write(b, xs, indent)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(raw)
		return nil
	}
}

// dirty reports whether o or anything in it changed.
func (o *ordered) dirty() bool {
	if o.changed || o.raw == nil {
		return true
	}
	for _, v := range o.vals {
		if c, ok := v.(*ordered); ok && c.dirty() {
			return true
		}
	}
	return false
}
