package cli

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/routetest"
)

func newSchemaCmd(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "schema KIND [-o yaml|json]",
		Short: "Show the fields of a kind (gateway, upstream, route, secret, routetest) as a file would hold them",
		Long: `schema prints the layout of a document of KIND, read from the types the server
itself decodes, so it is never out of date: every field with its type, in
the order the file format uses. Fields server-managed (version, updatedAt,
updatedBy) are left out. -o json prints a JSON Schema instead, unknown fields
refused, as apply refuses them.

  routedeck schema upstream     # static: endpoints: - address, port, weight ...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, _, err := kindArg(args[0])
			if err != nil {
				return err
			}
			var t reflect.Type
			if kind == kindRouteTest {
				t = reflect.TypeOf(routetest.Test{})
			} else {
				t = reflect.TypeOf(model.NewObject(kind)).Elem()
			}
			switch output {
			case "yaml":
				fmt.Fprintf(o.stdout, "kind: %s\n", kind)
				writeOutline(o.stdout, t, 0, map[reflect.Type]bool{})
				return nil
			case "json":
				s := jsonSchema(t, map[reflect.Type]bool{})
				s["properties"].(map[string]any)["kind"] = map[string]any{"const": kind}
				s["required"] = append([]string{"kind"}, s["required"].([]string)...)
				s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
				s["title"] = kind
				enc := json.NewEncoder(o.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return fmt.Errorf("-o %q: use yaml or json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "yaml (an outline of the fields) or json (a JSON Schema)")
	return cmd
}

// serverManaged are fields the server sets; a file leaves them out.
var serverManaged = map[string]bool{"version": true, "updatedAt": true, "updatedBy": true}

var (
	textMarshaler = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	jsonMarshaler = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	conditionType = reflect.TypeOf(model.Condition{})
)

// field is a JSON field of a struct, embedded structs flattened.
type field struct {
	name     string
	t        reflect.Type
	optional bool
}

func fieldsOf(t reflect.Type) []field {
	var out []field
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
			out = append(out, fieldsOf(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		if serverManaged[name] {
			continue
		}
		out = append(out, field{name: name, t: f.Type, optional: strings.Contains(opts, "omit")})
	}
	return out
}

// scalarName names a type that is written as one value, or "".
func scalarName(t reflect.Type) string {
	if t == conditionType {
		return `condition (text such as 'host == "shop.example.com" && path.prefix("/api")')`
	}
	if t.Kind() != reflect.Pointer && (t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) ||
		t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler)) && t.Kind() != reflect.Struct ||
		t.Kind() == reflect.Int64 && strings.HasSuffix(t.Name(), "Duration") {
		return "string (duration such as 1.5s, 300ms)"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return ""
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// writeOutline writes t's fields as an indented YAML outline.
func writeOutline(w io.Writer, t reflect.Type, depth int, seen map[reflect.Type]bool) {
	ind := strings.Repeat("  ", depth)
	for _, f := range fieldsOf(deref(t)) {
		ft := deref(f.t)
		opt := ""
		if f.optional {
			opt = ", optional"
		}
		if s := scalarName(ft); s != "" {
			fmt.Fprintf(w, "%s%s: %s%s\n", ind, f.name, s, opt)
			continue
		}
		switch ft.Kind() {
		case reflect.Slice:
			et := deref(ft.Elem())
			if s := scalarName(et); s != "" {
				fmt.Fprintf(w, "%s%s: [%s, ...]%s\n", ind, f.name, s, opt)
				continue
			}
			fmt.Fprintf(w, "%s%s:%s\n%s  - # each:\n", ind, f.name, comment(opt), ind)
			if !seen[et] {
				seen[et] = true
				writeOutline(w, et, depth+2, seen)
				delete(seen, et)
			}
		case reflect.Map:
			v := orObject(scalarName(deref(ft.Elem())))
			if et := ft.Elem(); et.Kind() == reflect.Slice && scalarName(deref(et.Elem())) != "" {
				v = "[" + scalarName(deref(et.Elem())) + ", ...]"
			}
			fmt.Fprintf(w, "%s%s: {NAME: %s}%s\n", ind, f.name, v, opt)
		case reflect.Struct:
			fmt.Fprintf(w, "%s%s:%s\n", ind, f.name, comment(opt))
			if !seen[ft] {
				seen[ft] = true
				writeOutline(w, ft, depth+1, seen)
				delete(seen, ft)
			}
		default:
			fmt.Fprintf(w, "%s%s: any%s\n", ind, f.name, opt)
		}
	}
}

func comment(opt string) string {
	if opt == "" {
		return ""
	}
	return " #" + strings.TrimPrefix(opt, ",")
}

func orObject(s string) string {
	if s == "" {
		return "object"
	}
	return s
}

// jsonSchema is t as a JSON Schema (2020-12) object.
func jsonSchema(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
	t = deref(t)
	if s := scalarName(t); s != "" {
		switch {
		case strings.HasPrefix(s, "string"), strings.HasPrefix(s, "condition"):
			return map[string]any{"type": "string", "description": s}
		default:
			return map[string]any{"type": s}
		}
	}
	switch t.Kind() {
	case reflect.Slice:
		return map[string]any{"type": "array", "items": jsonSchema(t.Elem(), seen)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": jsonSchema(t.Elem(), seen)}
	case reflect.Struct:
		if seen[t] {
			return map[string]any{"type": "object"}
		}
		seen[t] = true
		defer delete(seen, t)
		props := map[string]any{}
		required := []string{}
		for _, f := range fieldsOf(t) {
			props[f.name] = jsonSchema(f.t, seen)
			if !f.optional && f.t.Kind() != reflect.Pointer {
				required = append(required, f.name)
			}
		}
		sort.Strings(required)
		return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
	}
	return map[string]any{}
}
