// Package strictjson decodes JSON input strictly: object keys must match a
// field exactly (encoding/json would take "Name" for "name"), unknown
// fields and duplicate keys are errors, numbers must fit their field, and
// nesting is bounded while reading, so a hostile document is refused after
// a few hundred levels instead of being built into a tree first. Every
// problem is reported with its JSON path ("then.forward[0].weigth: unknown
// field"), all of them at once, as an EINVALID *model.Error.
//
// Every request body of the API and the CLI's JSON files decode through
// Decode; the manifest loader's YAML documents through DecodeNode, which
// applies the same rules to the parsed nodes, with lines. Stored data is
// the store's own and keeps using encoding/json.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/routedeck/routedeck/backend/model"
)

// maxProblems stops decoding a document once this many problems are found:
// a hostile body of a million unknown keys must not become a million field
// errors.
const maxProblems = 100

// Custom is implemented by types whose JSON form is not simply their Go
// fields (a value that may be a string or a list, or two accepted shapes).
// DecodeStrict decodes the value that starts with tok, using the Decoder's
// methods so nested values keep the same rules and paths.
type Custom interface {
	DecodeStrict(d *Decoder, path string, tok json.Token)
}

// Decode decodes the one JSON value in data into v, a non-nil pointer. It
// returns nil or an EINVALID *model.Error listing every problem.
func Decode(data []byte, v any) error {
	_, err := decode(data, v)
	return err
}

// decode is Decode that also says whether v holds the whole document
// (whole): every problem was one of a single field, left at its zero
// value, so v may be checked further. A syntax error or a limit leaves v
// part read.
func decode(data []byte, v any) (whole bool, err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false, fmt.Errorf("strictjson: decode into %T: need a non-nil pointer", v)
	}
	d := newDecoder(data)
	d.ValueFrom(d.Next(), rv.Elem(), "")
	if !d.stopped {
		if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
			d.fatal("", "must hold a single JSON value, with nothing after it")
		}
	}
	return !d.limited, d.err()
}

// Decoder reads one document. Custom implementations use its methods; the
// zero value is not usable.
type Decoder struct {
	data []byte
	dec  *json.Decoder
	p    model.Problems

	stopped bool // a syntax error or a limit ends the document
	limited bool // stopped by such a problem: the value is not whole
	depth   int  // JSON nesting of the value being read

	// tokStart is the input offset before the last token read by Next,
	// from where a value's raw text is sliced.
	tokStart int64

	// The condition tree being read: its nesting and node count.
	condDepth, condNodes int
}

func newDecoder(data []byte) *Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &Decoder{data: data, dec: dec}
}

func (d *Decoder) err() error {
	if d.p.Len() == 0 {
		return nil
	}
	e := d.p.Err().(*model.Error)
	e.Message = "invalid input"
	return e
}

// Problem records a problem at path; past maxProblems it stops decoding.
func (d *Decoder) Problem(path, format string, args ...any) {
	if d.p.Len() >= maxProblems {
		d.stop()
		return
	}
	d.p.Add(path, format, args...)
	if d.p.Len() == maxProblems {
		d.p.Add("", "stopped after %d problems", maxProblems)
		d.limited = true
		d.stop()
	}
}

// fatal records a problem that ends the document (a syntax error, a limit).
func (d *Decoder) fatal(path, format string, args ...any) {
	if d.stopped {
		return
	}
	d.p.Add(path, format, args...)
	d.limited = true
	d.stop()
}

func (d *Decoder) stop() { d.stopped = true }

// Stopped reports whether decoding has ended early; Custom implementations
// return as soon as it is set.
func (d *Decoder) Stopped() bool { return d.stopped }

// Next reads the next token. At the end of the input or on a syntax error
// it records the problem, stops the document and returns nil.
func (d *Decoder) Next() json.Token {
	if d.stopped {
		return nil
	}
	d.tokStart = d.dec.InputOffset()
	tok, err := d.dec.Token()
	if err == nil {
		return tok
	}
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) && d.tokStart == 0:
		d.fatal("", "empty body: a JSON value is required")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		d.fatal("", "malformed JSON: unexpected end of input")
	case errors.As(err, &syn):
		d.fatal("", "malformed JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	default:
		d.fatal("", "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// enter and leave track JSON nesting; enter refuses to go deeper than
// model.MaxJSONDepth.
func (d *Decoder) enter(path string) bool {
	d.depth++
	if d.depth > model.MaxJSONDepth {
		d.fatal(path, "nested more than %d levels deep", model.MaxJSONDepth)
		return false
	}
	return true
}

func (d *Decoder) leave() { d.depth-- }

// Object reads the object that starts with tok, calling each for every key
// with the key's path; each must read the key's value (Value, Field or
// Skip). Duplicate keys are refused (their values skipped). A value that is
// not an object is reported and skipped.
func (d *Decoder) Object(tok json.Token, path string, each func(key, path string)) {
	if tok != json.Delim('{') {
		d.mismatch(tok, path, "an object")
		return
	}
	if !d.enter(path) {
		return
	}
	defer d.leave()
	var seen map[string]bool
	for !d.stopped && d.dec.More() {
		t := d.Next()
		key, ok := t.(string)
		if !ok {
			if !d.stopped {
				d.fatal(path, "malformed JSON: object key expected")
			}
			return
		}
		kp := model.JoinPath(path, key)
		if seen[key] {
			d.Problem(kp, "duplicate key")
			d.Skip(kp)
			continue
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[key] = true
		each(key, kp)
	}
	d.Next() // '}'
}

// Array reads the array that starts with tok, calling each for every
// element with its index and path; each must read the element.
func (d *Decoder) Array(tok json.Token, path string, each func(i int, path string)) {
	if tok != json.Delim('[') {
		d.mismatch(tok, path, "a list")
		return
	}
	if !d.enter(path) {
		return
	}
	defer d.leave()
	for i := 0; !d.stopped && d.dec.More(); i++ {
		each(i, path+"["+strconv.Itoa(i)+"]")
	}
	d.Next() // ']'
}

// Skip reads and discards the next value.
func (d *Decoder) Skip(path string) { d.skipFrom(d.Next(), path) }

func (d *Decoder) skipFrom(tok json.Token, path string) {
	switch tok {
	case json.Delim('{'):
		if !d.enter(path) {
			return
		}
		for !d.stopped && d.dec.More() {
			d.Next() // key
			d.Skip(path)
		}
		d.Next()
		d.leave()
	case json.Delim('['):
		if !d.enter(path) {
			return
		}
		for !d.stopped && d.dec.More() {
			d.Skip(path)
		}
		d.Next()
		d.leave()
	}
}

// mismatch reports a value of the wrong JSON type and skips it.
func (d *Decoder) mismatch(tok json.Token, path, want string) {
	if d.stopped {
		return
	}
	d.Problem(path, "expected %s, got %s", want, describe(tok))
	d.skipFrom(tok, path)
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "the number " + shorten(t.String())
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Value reads the next value into ptr, a pointer.
func (d *Decoder) Value(ptr any, path string) {
	d.ValueFrom(d.Next(), reflect.ValueOf(ptr).Elem(), path)
}

// Field reads the next value into the field of the struct ptr points to
// whose JSON name is key, or reports key as unknown (suggesting the field
// it differs from only by case) and skips the value.
func (d *Decoder) Field(ptr any, key, path string) {
	d.field(reflect.ValueOf(ptr).Elem(), key, path)
}

func (d *Decoder) field(sv reflect.Value, key, path string) {
	fields := fieldsOf(sv.Type())
	f, ok := fields.byName[key]
	if !ok {
		if name, ok := fields.byFold[strings.ToLower(key)]; ok {
			d.Problem(path, "unknown field (did you mean %q?)", name)
		} else {
			d.Problem(path, "unknown field")
		}
		d.Skip(path)
		return
	}
	fv, ok := fieldByIndex(sv, f.index)
	if !ok {
		d.Skip(path)
		return
	}
	d.ValueFrom(d.Next(), fv, path)
}

// fieldByIndex is reflect.Value.FieldByIndex that allocates nil embedded
// pointers on the way.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

var (
	customType      = reflect.TypeFor[Custom]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawType         = reflect.TypeFor[json.RawMessage]()
	conditionType   = reflect.TypeFor[model.Condition]()
	objectType      = reflect.TypeFor[model.Object]()
)

// ValueFrom reads the value that starts with tok into v (settable).
func (d *Decoder) ValueFrom(tok json.Token, v reflect.Value, path string) {
	if d.stopped {
		return
	}
	t := v.Type()
	if tok == nil {
		// null leaves the zero value, as encoding/json does for pointers,
		// lists and maps; for other kinds it keeps what is there.
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			v.SetZero()
		}
		if t == conditionType {
			v.SetZero()
		}
		if d.condDepth > 0 && (t == conditionType || t == reflect.PointerTo(conditionType) || t == reflect.SliceOf(conditionType)) {
			// Inside a tree, null would silently mean "no condition":
			// {"not": null} must not match every request.
			d.Problem(path, "must not be null")
		}
		return
	}
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.ValueFrom(tok, v.Elem(), path)
		return
	}
	start := d.tokStart
	if reflect.PointerTo(t).Implements(objectType) {
		defer d.checkObjectSize(start, path)
	}
	switch {
	case t == conditionType:
		d.condition(tok, v, path)
		return
	case t == rawType:
		d.skipFrom(tok, path)
		v.SetBytes(bytes.Clone(d.raw(start)))
		return
	case reflect.PointerTo(t).Implements(customType):
		v.Addr().Interface().(Custom).DecodeStrict(d, path, tok)
		return
	case reflect.PointerTo(t).Implements(unmarshalerType):
		// A type with its own JSON form (durations, times): it judges
		// its raw text, after the structure has been checked here.
		d.skipFrom(tok, path)
		if d.stopped {
			return
		}
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(d.raw(start)); err != nil {
			d.Problem(path, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return
	case reflect.PointerTo(t).Implements(textType):
		s, ok := tok.(string)
		if !ok {
			d.mismatch(tok, path, "a string")
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.Problem(path, "%s", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.Object(tok, path, func(key, kp string) { d.field(v, key, kp) })
	case reflect.Map:
		d.mapFrom(tok, v, path)
	case reflect.Slice:
		d.sliceFrom(tok, v, path)
	case reflect.String:
		s, ok := tok.(string)
		if !ok {
			d.mismatch(tok, path, "a string")
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := tok.(bool)
		if !ok {
			d.mismatch(tok, path, "true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			d.mismatch(tok, path, "an integer")
			return
		}
		i, err := strconv.ParseInt(string(n), 10, t.Bits())
		if err != nil {
			d.Problem(path, "%s", numberProblem(n, err, t))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := tok.(json.Number)
		if !ok {
			d.mismatch(tok, path, "an integer")
			return
		}
		u, err := strconv.ParseUint(string(n), 10, t.Bits())
		if err != nil {
			d.Problem(path, "%s", numberProblem(n, err, t))
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			d.mismatch(tok, path, "a number")
			return
		}
		f, err := strconv.ParseFloat(string(n), t.Bits())
		if err != nil {
			d.Problem(path, "the number %s is out of range", shorten(string(n)))
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			d.Problem(path, "cannot be decoded")
			d.skipFrom(tok, path)
			return
		}
		if val, ok := d.generic(tok, path); ok {
			v.Set(reflect.ValueOf(&val).Elem())
		}
	default:
		d.Problem(path, "cannot be decoded")
		d.skipFrom(tok, path)
	}
}

// raw returns the text of the value read since offset start: the input
// between the end of the previous token and the current position, without
// the separators in front of it.
func (d *Decoder) raw(start int64) []byte {
	return bytes.TrimLeft(d.data[start:d.dec.InputOffset()], " \t\r\n:,")
}

func (d *Decoder) checkObjectSize(start int64, path string) {
	if d.stopped {
		return
	}
	if raw := d.raw(start); len(raw) > model.MaxObjectBytes {
		d.Problem(model.JoinPath(path, heaviest(raw)), "makes the object %d bytes; at most %d (1 MiB) are allowed", len(raw), model.MaxObjectBytes)
	}
}

func numberProblem(n json.Number, err error, t reflect.Type) string {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Sprintf("the number %s is out of range", shorten(string(n)))
	}
	if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 && strings.HasPrefix(string(n), "-") {
		return fmt.Sprintf("expected a non-negative integer, got %s", shorten(string(n)))
	}
	return fmt.Sprintf("expected an integer, got %s", shorten(string(n)))
}

func (d *Decoder) mapFrom(tok json.Token, v reflect.Value, path string) {
	t := v.Type()
	kk := t.Key().Kind()
	switch kk {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
	default:
		d.Problem(path, "cannot be decoded")
		d.skipFrom(tok, path)
		return
	}
	if tok != json.Delim('{') {
		d.mismatch(tok, path, "an object")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	d.Object(tok, path, func(key, kp string) {
		k := reflect.New(t.Key()).Elem()
		if kk == reflect.String {
			k.SetString(key)
		} else {
			i, err := strconv.ParseInt(key, 10, t.Key().Bits())
			if err != nil {
				d.Problem(kp, "key must be an integer")
				d.Skip(kp)
				return
			}
			k.SetInt(i)
		}
		e := reflect.New(t.Elem()).Elem()
		d.ValueFrom(d.Next(), e, kp)
		v.SetMapIndex(k, e)
	})
}

func (d *Decoder) sliceFrom(tok json.Token, v reflect.Value, path string) {
	t := v.Type()
	if t.Elem().Kind() == reflect.Uint8 {
		// []byte is base64 text in JSON.
		s, ok := tok.(string)
		if !ok {
			d.mismatch(tok, path, "a base64 string")
			return
		}
		b, err := jsonBase64(s)
		if err != nil {
			d.Problem(path, "invalid base64")
			return
		}
		v.SetBytes(b)
		return
	}
	if tok != json.Delim('[') {
		d.mismatch(tok, path, "a list")
		return
	}
	out := reflect.MakeSlice(t, 0, 0)
	d.Array(tok, path, func(_ int, ip string) {
		e := reflect.New(t.Elem()).Elem()
		d.ValueFrom(d.Next(), e, ip)
		out = reflect.Append(out, e)
	})
	v.Set(out)
}

func jsonBase64(s string) ([]byte, error) {
	var b []byte
	err := json.Unmarshal([]byte(strconv.Quote(s)), &b)
	return b, err
}

// generic decodes a value of unknown shape into maps, lists, strings,
// float64s, bools and nil, as encoding/json does for an interface.
func (d *Decoder) generic(tok json.Token, path string) (any, bool) {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			m := map[string]any{}
			d.Object(tok, path, func(key, kp string) {
				if val, ok := d.generic(d.Next(), kp); ok {
					m[key] = val
				}
			})
			return m, !d.stopped
		}
		l := []any{}
		d.Array(tok, path, func(_ int, ip string) {
			if val, ok := d.generic(d.Next(), ip); ok {
				l = append(l, val)
			}
		})
		return l, !d.stopped
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			d.Problem(path, "the number %s is out of range", shorten(string(t)))
			return nil, false
		}
		return f, true
	}
	return tok, !d.stopped
}

// condition reads a model.Condition: condition text (a string) or a tree
// whose nesting and size are bounded here, while reading, so a hostile
// tree is refused long before it is built.
func (d *Decoder) condition(tok json.Token, v reflect.Value, path string) {
	if s, ok := tok.(string); ok {
		c := model.Condition{Text: s}
		if strings.TrimSpace(s) == "" {
			c.Text = ""
		}
		v.Set(reflect.ValueOf(c))
		return
	}
	if tok != json.Delim('{') {
		d.mismatch(tok, path, "condition text or an object")
		return
	}
	if d.condDepth == 0 {
		d.condNodes = 0
	}
	d.condDepth++
	defer func() { d.condDepth-- }()
	d.condNodes++
	switch {
	case d.condDepth > model.MaxConditionDepth+1:
		// Depth counts all, any and not levels; the predicate at the
		// bottom of a chain of MaxConditionDepth of them is not one.
		d.fatal(path, "condition nested more than %d levels deep", model.MaxConditionDepth)
		return
	case d.condNodes > model.MaxConditionNodes:
		d.fatal(path, "condition has more than %d nodes", model.MaxConditionNodes)
		return
	}
	d.Object(tok, path, func(key, kp string) { d.field(v, key, kp) })
}

// structFields are the JSON fields of a struct type: by exact name, and by
// lower-cased name to suggest the right spelling.
type structFields struct {
	byName map[string]field
	byFold map[string]string
}

type field struct {
	index []int
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byName: map[string]field{}, byFold: map[string]string{}}
	collectFields(t, nil, f, map[reflect.Type]bool{})
	fieldCache.Store(t, f)
	return f
}

// collectFields follows encoding/json's rules for the cases this codebase
// uses: tags name fields, "-" hides them, untagged embedded structs
// contribute their fields, and a shallower field wins over a deeper one.
func collectFields(t reflect.Type, index []int, out *structFields, visiting map[reflect.Type]bool) {
	if visiting[t] {
		return
	}
	visiting[t] = true
	defer delete(visiting, t)
	var embedded []reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, sf)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, taken := out.byName[name]; taken {
			continue
		}
		out.byName[name] = field{index: append(append([]int(nil), index...), i)}
		out.byFold[strings.ToLower(name)] = name
	}
	for _, sf := range embedded {
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		collectFields(ft, append(append([]int(nil), index...), sf.Index[0]), out, visiting)
	}
}
