package manifest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/backend/model"
)

// report records a problem at a line and field path.
type report func(line int, field, msg string)

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func typeOf(obj model.Object) reflect.Type { return reflect.TypeOf(obj).Elem() }

// convert walks YAML node n against Go type t the way encoding/json would
// decode it, reporting every unknown field and type mismatch with its line,
// and returns a JSON-ready value. Walking the type ourselves (instead of
// decoding and reading the first error) is what lets a file report all its
// problems at once. skip names top-level keys that are not fields (kind).
func convert(n *yaml.Node, t reflect.Type, path string, skip map[string]bool, bad report) any {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode {
		return convertStruct(n, t, path, skip, bad)
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// Types with their own JSON form (durations, condition text): decode
		// the generic value and let the type judge it.
		v := generic(n, t)
		raw, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(raw, reflect.New(t).Interface())
		}
		if err != nil {
			bad(n.Line, path, strings.TrimPrefix(err.Error(), "json: "))
			return nil
		}
		return v
	}
	switch t.Kind() {
	case reflect.Struct:
		bad(n.Line, path, "expected a mapping, got "+describe(n))
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad(n.Line, path, "expected a list, got "+describe(n))
			return nil
		}
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			out[i] = convert(item, t.Elem(), model.JoinPath(path, "["+strconv.Itoa(i)+"]"), nil, bad)
		}
		return out
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad(n.Line, path, "expected a mapping, got "+describe(n))
			return nil
		}
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if _, dup := out[k.Value]; dup {
				bad(k.Line, model.JoinPath(path, k.Value), "duplicate key")
				continue
			}
			out[k.Value] = convert(n.Content[i+1], t.Elem(), model.JoinPath(path, k.Value), nil, bad)
		}
		return out
	case reflect.String:
		// Any scalar is accepted as text, so `value: 1` means "1" as an
		// operator would expect; JSON would refuse the number.
		if n.Kind != yaml.ScalarNode {
			bad(n.Line, path, "expected a string, got "+describe(n))
			return nil
		}
		return n.Value
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			bad(n.Line, path, "expected true or false, got "+describe(n))
			return nil
		}
		return b
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			bad(n.Line, path, "expected an integer, got "+describe(n))
			return nil
		}
		return i
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			bad(n.Line, path, "expected a number, got "+describe(n))
			return nil
		}
		return f
	}
	return generic(n, t)
}

func convertStruct(n *yaml.Node, t reflect.Type, path string, skip map[string]bool, bad report) any {
	fields := jsonFields(t)
	out := map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if skip[k.Value] {
			continue
		}
		p := model.JoinPath(path, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			bad(k.Line, p, "unknown field"+suggest(k.Value, fields))
			continue
		}
		if _, dup := out[k.Value]; dup {
			bad(k.Line, p, "duplicate key")
			continue
		}
		out[k.Value] = convert(v, f, p, nil, bad)
	}
	return out
}

// fieldCache holds jsonFields per struct type: a file of thousands of
// routes would otherwise walk the same struct types for every document.
var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields lists the JSON field names of struct t and their types,
// flattening embedded structs the way encoding/json does. The map is
// shared: callers must not change it.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := structFields(t)
	fieldCache.Store(t, m)
	return m
}

func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					if _, shadowed := out[k]; !shadowed {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// suggest names a field that differs from key only by case, the most common
// slip (jwksURI vs jwksUri).
func suggest(key string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return ""
}

// generic converts a node to plain Go values without a target type. Scalars
// destined for a string-like type (t) stay text.
func generic(n *yaml.Node, t reflect.Type) any {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = generic(n.Content[i+1], nil)
		}
		return out
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = generic(c, nil)
		}
		return out
	}
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		if t != nil && t.Kind() == reflect.String {
			return n.Value
		}
		var v any
		if n.Decode(&v) == nil {
			return v
		}
	}
	return n.Value
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Tag == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}
