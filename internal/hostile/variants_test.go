package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// A base is a valid request body with every field of its kind filled in
// (testdata/base/*.json). Its variants break it in one place each:
//
//   - unknown: an extra key in one object ("bogus"), at every depth;
//   - case: one key spelt with a capital ("Weight" for "weight");
//   - type: one value of the wrong JSON type.
//
// Each must be refused with 400 naming that exact path, and store nothing.
// A strict decoder passes them all at once; a decoder that forgets one
// nested type (a condition tree, a header map) shows up as the paths under
// it.
type base struct {
	// Path is where the body is sent (POST); As the role sending it.
	Path string `json:"path"`
	As   string `json:"as"`
	// ReadBack is where the object would be, had it been stored.
	ReadBack string `json:"readBack"`
	// Valid is the status the unchanged body gets (0: not tried, for
	// what cannot be deleted again, users); Stored says it stores the
	// object at ReadBack (deleted again after the check).
	Valid  int  `json:"valid"`
	Stored bool `json:"stored"`
	// Maps are the paths holding maps with names of the user's choosing
	// (header names, user names): their keys are data, not fields.
	Maps []string `json:"maps"`
	// Kind, when set, also runs the variants through the CLI as a
	// manifest document of this kind (`apply -f`), and through POST
	// /apply under Apply ("routes").
	Kind   string         `json:"kind"`
	Apply  string         `json:"apply"`
	Object map[string]any `json:"object"`
}

// wrongType is the value put in place of one of each JSON type: never one
// the field could accept (durations take text or numbers, conditions text
// or trees, so a bool and a list are what break them).
func wrongType(v any) any {
	switch v.(type) {
	case string:
		return true
	case float64:
		return "7"
	case bool:
		return "true"
	case []any:
		return map[string]any{"x": 1}
	}
	return []any{}
}

type variant struct {
	name  string // unknown:PATH, case:PATH or type:PATH
	field string // the path the error must name
	obj   map[string]any
}

// variants walks b.Object and returns every variant, in a stable order.
func (b *base) variants() []variant {
	var out []variant
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if slices.Contains(b.Maps, path) {
				return // the keys are the user's names: nothing to spell wrong
			}
			out = append(out, b.mutate("unknown:"+orRoot(path), join(path, "bogus"), func() func() {
				v["bogus"] = 1
				return func() { delete(v, "bogus") }
			}))
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				val := v[k]
				up := upperFirst(k)
				out = append(out, b.mutate("case:"+join(path, k), join(path, up), func() func() {
					delete(v, k)
					v[up] = val
					return func() { delete(v, up); v[k] = val }
				}))
				out = append(out, b.mutate("type:"+join(path, k), join(path, k), func() func() {
					v[k] = wrongType(val)
					return func() { v[k] = val }
				}))
				walk(join(path, k), val)
			}
		case []any:
			for i, el := range v {
				p := fmt.Sprintf("%s[%d]", path, i)
				switch el.(type) {
				case map[string]any, []any:
				default:
					out = append(out, b.mutate("type:"+p, p, func() func() {
						v[i] = wrongType(el)
						return func() { v[i] = el }
					}))
				}
				walk(p, el)
			}
		}
	}
	walk("", b.Object)
	return out
}

// mutate applies change to the object, takes a deep copy of the result and
// undoes the change.
func (b *base) mutate(name, field string, change func() (undo func())) variant {
	undo := change()
	defer undo()
	raw, _ := json.Marshal(b.Object)
	var cp map[string]any
	_ = json.Unmarshal(raw, &cp)
	return variant{name: name, field: field, obj: cp}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(top)"
	}
	return path
}

func upperFirst(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// generatedCases turns every base into its cases: the valid body, and each
// variant through the API, through POST /apply and through the CLI.
func generatedCases() ([]tc, error) {
	files, err := filepath.Glob(filepath.Join("testdata", "base", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []tc
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var b base
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		out = append(out, b.cases(name)...)
	}
	return out, nil
}

func (b *base) cases(name string) []tc {
	var readBack []string
	if b.ReadBack != "" {
		readBack = []string{b.ReadBack}
	}
	valid := &spec{Name: "valid", Method: "POST", Path: b.Path, As: b.As, JSON: b.Object,
		Why:    "the base itself is accepted, so each variant is refused for its one change",
		Expect: expect{Status: []int{b.Valid}, Stored: b.Stored}}
	if b.Stored {
		valid.Cleanup = readBack
	}
	var api []tc
	if b.Valid != 0 {
		api = append(api, tc{class: "api/fields-" + name, spec: valid})
	}
	var viaApply, viaCLI []tc
	for _, v := range b.variants() {
		api = append(api, tc{class: "api/fields-" + name, spec: &spec{
			Name: v.name, Method: "POST", Path: b.Path, As: b.As, JSON: v.obj, ReadBack: readBack,
			Expect: expect{Status: []int{400}, Fields: []string{v.field}},
		}})
		if b.Apply != "" && !strings.HasPrefix(v.name, "type:") {
			viaApply = append(viaApply, tc{class: "api/fields-" + name + "-apply", spec: &spec{
				Name: v.name, Method: "POST", Path: "/api/v1/apply", JSON: map[string]any{b.Apply: []any{v.obj}},
				ReadBack: readBack,
				Expect:   expect{Status: []int{400}, Fields: []string{b.Apply + "[0]." + v.field}},
			}})
		}
		if b.Kind != "" && !strings.HasPrefix(v.name, "type:") {
			doc := map[string]any{"kind": b.Kind}
			for k, val := range v.obj {
				doc[k] = val
			}
			// JSON is YAML: the document goes to the manifest reader as it
			// is, which reports it by field path.
			text, _ := json.Marshal(doc)
			viaCLI = append(viaCLI, tc{class: "cli/fields-" + name, spec: &spec{
				Name: v.name, CLI: []string{"apply", "-f", "{dir}/doc.yaml"},
				Files: map[string]string{"doc.yaml": string(text)}, ReadBack: readBack,
				Expect: expect{Fields: []string{v.field}},
			}})
		}
	}
	return append(append(api, viaApply...), viaCLI...)
}
