package convert

import (
	"bytes"
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// decodeNode decodes the YAML node n into v (settable) straight from the
// nodes, as json.Unmarshal decodes the JSON nodeJSON writes of n, which
// costs a fraction of writing and reading that JSON. It gives up (false)
// wherever encoding/json has a rule of its own to apply (a null, a key
// that matches a field but for case, a number that does not fit, a type
// with its own decoding but json.RawMessage) or nodeJSON would give up:
// the caller then decodes the JSON, and v is to be thrown away.
func decodeNode(n *yaml.Node, v reflect.Value) bool {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		return len(n.Content) == 1 && decodeNode(n.Content[0], v)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return false
	}
	t := v.Type()
	if t == rawMessageType {
		var b bytes.Buffer
		if !nodeJSON(&b, n) {
			return false
		}
		v.SetBytes(b.Bytes())
		return true
	}
	if p := reflect.PointerTo(t); p.Implements(jsonUnmarshalerType) || p.Implements(textUnmarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		if !decodeNode(n, e.Elem()) {
			return false
		}
		v.Set(e)
		return true
	case reflect.Struct:
		return n.Kind == yaml.MappingNode && decodeStruct(n, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return false
		}
		out := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if !decodeNode(c, out.Index(i)) {
				return false
			}
		}
		v.Set(out)
		return true
	case reflect.Map:
		if n.Kind != yaml.MappingNode || t.Key().Kind() != reflect.String || t.Key() != reflect.TypeFor[string]() || repeatedKey(n) {
			return false
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				return false
			}
			e := reflect.New(t.Elem()).Elem()
			if !decodeNode(n.Content[i+1], e) {
				return false
			}
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
		return true
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return false
		}
		v.SetString(n.Value)
		return true
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			return false
		}
		v.SetBool(b)
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			return false
		}
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil || v.OverflowInt(i) {
			return false
		}
		v.SetInt(i)
		return true
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			return false
		}
		// What nodeJSON writes, read back at the field's size.
		var text string
		switch n.ShortTag() {
		case "!!int":
			i, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				return false
			}
			text = strconv.FormatInt(i, 10)
		case "!!float":
			g, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(g, 0) || math.IsNaN(g) {
				return false
			}
			text = strconv.FormatFloat(g, 'g', -1, 64)
		default:
			return false
		}
		f, err := strconv.ParseFloat(text, t.Bits())
		if err != nil {
			return false
		}
		if v.OverflowFloat(f) {
			return false
		}
		v.SetFloat(f)
		return true
	}
	return false
}

// decodeStruct decodes mapping n into struct v: a key names a field
// exactly, or no field at all (its value is then skipped, but must be one
// nodeJSON writes).
func decodeStruct(n *yaml.Node, v reflect.Value) bool {
	fields, ok := structFieldsOf(v.Type())
	if !ok || repeatedKey(n) {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return false
		}
		if f, ok := fields.byName[k.Value]; ok {
			if !decodeNode(n.Content[i+1], v.Field(f)) {
				return false
			}
			continue
		}
		// encoding/json would take a key that is a field's name but for
		// case (or for Unicode folding) as that field.
		for j := 0; j < len(k.Value); j++ {
			if k.Value[j] >= utf8.RuneSelf {
				return false
			}
		}
		for _, name := range fields.names {
			if strings.EqualFold(name, k.Value) {
				return false
			}
		}
		if !jsonable(n.Content[i+1]) {
			return false
		}
	}
	return true
}

// repeatedKey reports whether mapping n has a key twice (nodeJSON gives
// those to the YAML decoder).
func repeatedKey(n *yaml.Node) bool {
	if len(n.Content) > 32 {
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if seen[n.Content[i].Value] {
				return true
			}
			seen[n.Content[i].Value] = true
		}
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		for j := 0; j < i; j += 2 {
			if n.Content[j].Value == n.Content[i].Value {
				return true
			}
		}
	}
	return false
}

// jsonable reports whether nodeJSON writes n, without writing it.
func jsonable(n *yaml.Node) bool {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		if repeatedKey(n) {
			return false
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || !jsonable(n.Content[i+1]) {
				return false
			}
		}
		return true
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if !jsonable(c) {
				return false
			}
		}
		return true
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!null":
			return true
		case "!!bool":
			var b bool
			return n.Decode(&b) == nil
		case "!!int":
			_, err := strconv.ParseInt(n.Value, 10, 64)
			return err == nil
		case "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
		}
	}
	return false
}

var (
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// jsonStruct is the fields of a struct type as encoding/json names them.
type jsonStruct struct {
	byName map[string]int
	names  []string
}

var jsonStructs sync.Map // reflect.Type -> *jsonStruct, or nil when unsupported

// structFieldsOf returns the JSON fields of t; false for a struct whose
// fields encoding/json resolves by rules not read here (embedded
// structs, tag options that change decoding).
func structFieldsOf(t reflect.Type) (*jsonStruct, bool) {
	if s, ok := jsonStructs.Load(t); ok {
		js, _ := s.(*jsonStruct)
		return js, js != nil
	}
	js := &jsonStruct{byName: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" {
			continue
		}
		if f.Anonymous || opts != "" && opts != "omitempty" {
			jsonStructs.Store(t, (*jsonStruct)(nil))
			return nil, false
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		js.byName[name] = i
		js.names = append(js.names, name)
	}
	jsonStructs.Store(t, js)
	return js, true
}
