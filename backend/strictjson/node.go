package strictjson

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/backend/model"
)

// NodeProblem is a problem found by DecodeNode, at the line of the YAML
// node at fault and its field path.
type NodeProblem struct {
	Line    int
	Field   string
	Message string
	// Ends is set on a problem that stopped the walk (a limit, or too many
	// problems): the value decoded is not whole and must not be checked
	// any further.
	Ends bool
}

// DecodeNode decodes the parsed YAML mapping n into v, a non-nil pointer,
// walking the nodes once, straight into the Go value. It reads YAML as an
// operator writes it: any scalar is accepted as text, booleans and numbers
// must be YAML's, and every unknown, miscased or duplicate key and every
// value of the wrong shape is reported with its line. Keys of n named in
// skip are not fields (a manifest's "kind").
//
// Values also meet the rules and limits of Decode, as if the document had
// arrived as the JSON it converts to: numbers that fit their field,
// condition trees bounded in depth and size, no null inside a condition,
// a model object's JSON at most model.MaxObjectBytes, nesting at most
// model.MaxJSONDepth.
//
// A field with a problem is left at its zero value and the walk goes on,
// so the problems come back all at once and, unless one of them Ends the
// walk, v holds the rest of the document for the caller to check further
// (its paths under a problem's Field are that problem's follow-ons: see
// Hidden). At most maxProblems are returned.
//
// Aliases must have been checked against the input limits (backend/input)
// before: an alias is walked as the node it stands for.
func DecodeNode(n *yaml.Node, v any, skip ...string) []NodeProblem {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return []NodeProblem{{Line: n.Line, Message: "strictjson: decode into a nil or non-pointer value", Ends: true}}
	}
	d := decoders.Get().(*nodeDecoder)
	*d = nodeDecoder{skip: skip, docLine: n.Line, path: d.path[:0]}
	defer decoders.Put(d)
	d.value(n, rv.Elem())
	all := append(d.shape, d.rules...)
	if d.unencodable != nil {
		u := *d.unencodable
		u.Ends = true
		all = append(all, u)
	}
	if len(all) > maxProblems {
		// Problems of shape are not counted while walking (the input
		// limits bound them); the answer is bounded here, and past the
		// bound the value is not whole.
		all = append(all[:maxProblems], NodeProblem{Line: all[maxProblems].Line, Message: "stopped after " + strconv.Itoa(maxProblems) + " problems", Ends: true})
	}
	return all
}

// decoders keeps walkers for reuse: a file of thousands of documents
// would otherwise grow a path for each.
var decoders = sync.Pool{New: func() any { return new(nodeDecoder) }}

// nodeDecoder walks one document.
type nodeDecoder struct {
	skip []string // top-level keys that are not fields
	// shape holds the problems of shape (unknown keys, wrong types),
	// every one of them; rules the problems of Decode's rules and limits,
	// at most maxProblems of them as Decode keeps.
	shape, rules []NodeProblem
	stopped      bool // no more rule problems: a limit or maxProblems
	// unencodable is a value that has no JSON form (a float .nan), which
	// Decode could never be given.
	unencodable *NodeProblem
	docLine     int // where a problem of the whole document is reported

	path                 []step
	depth                int // JSON nesting of the value being read
	condDepth, condNodes int
	top                  bool // the document's value has been entered
	sizing               bool // only the JSON length is wanted
}

// step is one step of a field path: a key, or an index when index >= 0.
// The walk keeps its path as steps and spells it out only for a problem.
type step struct {
	key   string
	index int
}

func (d *nodeDecoder) push(key string) { d.path = append(d.path, step{key: key, index: -1}) }
func (d *nodeDecoder) pushIndex(i int) { d.path = append(d.path, step{index: i}) }
func (d *nodeDecoder) pop()            { d.path = d.path[:len(d.path)-1] }

// at is the field path of the value being read.
func (d *nodeDecoder) at() string {
	path := ""
	for _, s := range d.path {
		if s.index >= 0 {
			path += "[" + strconv.Itoa(s.index) + "]"
		} else {
			path = model.JoinPath(path, s.key)
		}
	}
	return path
}

func (d *nodeDecoder) shapeProblem(line int, msg string) {
	d.shape = append(d.shape, NodeProblem{Line: line, Field: d.at(), Message: msg})
}

// ruleProblem is Decoder.Problem for the walk.
func (d *nodeDecoder) ruleProblem(line int, msg string) { d.ruleProblemAt(line, d.at(), msg) }

func (d *nodeDecoder) ruleProblemAt(line int, path, msg string) {
	if d.stopped {
		return
	}
	if len(d.rules) >= maxProblems {
		d.stopped = true
		return
	}
	d.rules = append(d.rules, NodeProblem{Line: line, Field: path, Message: msg})
	if len(d.rules) == maxProblems {
		d.rules = append(d.rules, NodeProblem{Line: line, Message: "stopped after " + strconv.Itoa(maxProblems) + " problems", Ends: true})
		d.stopped = true
	}
}

// fatal is Decoder.fatal: the problem ends the rule checks.
func (d *nodeDecoder) fatal(line int, msg string) {
	if d.stopped {
		return
	}
	d.rules = append(d.rules, NodeProblem{Line: line, Field: d.at(), Message: msg, Ends: true})
	d.stopped = true
}

func (d *nodeDecoder) enter(n *yaml.Node) {
	d.depth++
	if d.depth > model.MaxJSONDepth {
		d.fatal(n.Line, "nested more than "+strconv.Itoa(model.MaxJSONDepth)+" levels deep")
	}
}

func (d *nodeDecoder) leave() { d.depth-- }

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// value reads n into v (settable) and returns the length of the JSON the
// value converts to, for the object size bound.
func (d *nodeDecoder) value(n *yaml.Node, v reflect.Value) int {
	n = resolveAlias(n)
	top := !d.top
	d.top = true
	t := v.Type()
	if isNull(n) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			v.SetZero()
		}
		if t == conditionType {
			v.SetZero()
		}
		if d.condDepth > 0 && (t == conditionType || t == reflect.PointerTo(conditionType) || t == reflect.SliceOf(conditionType)) {
			d.ruleProblem(n.Line, "must not be null")
		}
		return len("null")
	}
	for t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		v, t = v.Elem(), t.Elem()
	}
	var size int
	switch {
	case t == conditionType:
		size = d.condition(n, v)
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode && !viaJSON(t):
		var skip []string
		if top {
			skip = d.skip
		}
		size = d.object(n, v, skip, false)
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		// A struct with a JSON form of its own is still read as its
		// fields first, so a key it lacks is reported as unknown.
		shaped := len(d.shape)
		d.object(n, reflect.New(t).Elem(), nil, false)
		if len(d.shape) == shaped {
			size = d.viaJSON(n, v, d.ruleProblem)
		}
	case viaJSON(t):
		size = d.viaJSON(n, v, d.shapeProblem)
	default:
		size = d.plain(n, v)
	}
	if !d.sizing && size > model.MaxObjectBytes && reflect.PointerTo(t).Implements(objectType) {
		var skip []string
		if top {
			skip = d.skip
		}
		path, line := d.at(), n.Line
		for _, m := range heaviestNode(n, t, size, skip) {
			if m.index >= 0 {
				m.key = "[" + strconv.Itoa(m.index) + "]"
			}
			path, line = model.JoinPath(path, m.key), m.line
		}
		d.ruleProblemAt(line, path, "makes the object "+strconv.Itoa(size)+" bytes; at most "+strconv.Itoa(model.MaxObjectBytes)+" (1 MiB) are allowed")
	}
	return size
}

// viaJSON reports whether values of t judge their own JSON form, so a
// node is converted to JSON for them.
func viaJSON(t reflect.Type) bool {
	if t == conditionType {
		return false
	}
	p := reflect.PointerTo(t)
	return t == rawType || p.Implements(customType) || p.Implements(unmarshalerType) || p.Implements(textType)
}

// object reads a mapping into struct v: every key must name a field, once.
func (d *nodeDecoder) object(n *yaml.Node, v reflect.Value, skip []string, sorted bool) int {
	d.enter(n)
	defer d.leave()
	fields := fieldsOf(v.Type())
	size, members := 2, 0
	var seen keySet
	member := func(i int) {
		k, val := n.Content[i], n.Content[i+1]
		if slices.Contains(skip, k.Value) {
			return
		}
		d.push(k.Value)
		defer d.pop()
		f, ok := fields.byName[k.Value]
		if !ok {
			msg := "unknown field"
			if name, ok := fields.byFold[strings.ToLower(k.Value)]; ok {
				msg += " (did you mean " + strconv.Quote(name) + "?)"
			}
			d.shapeProblem(k.Line, msg)
			return
		}
		if seen.repeated(n, i) {
			d.shapeProblem(k.Line, "duplicate key")
			return
		}
		fv, ok := fieldByIndex(v, f.index)
		if !ok {
			return
		}
		size += jsonStringLen(k.Value) + 1 + d.value(val, fv)
		members++
	}
	if sorted {
		for _, i := range keyOrder(n) {
			member(i)
		}
	} else {
		for i := 0; i+1 < len(n.Content); i += 2 {
			member(i)
		}
	}
	return size + max(members-1, 0)
}

// keySet finds the keys of a mapping written twice. Small mappings are
// searched; a large one gets a set, so a hostile mapping of a hundred
// thousand keys costs no more than reading it.
type keySet struct {
	seen map[string]bool
}

// repeated reports whether the key at i of mapping n, whose keys are
// asked about in order, was written before.
func (s *keySet) repeated(n *yaml.Node, i int) bool {
	key := n.Content[i].Value
	if len(n.Content) <= 32 {
		for j := 0; j < i; j += 2 {
			if n.Content[j].Value == key {
				return true
			}
		}
		return false
	}
	if s.seen == nil {
		s.seen = make(map[string]bool, len(n.Content)/2)
	}
	if s.seen[key] {
		return true
	}
	s.seen[key] = true
	return false
}

// keyOrder is the indexes of n's keys in the order of the JSON object
// they convert to (encoding/json sorts map keys).
func keyOrder(n *yaml.Node) []int {
	idx := make([]int, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(n.Content[a].Value, n.Content[b].Value) })
	return idx
}

// condition reads a model.Condition: condition text, or a tree bounded as
// Decoder.condition bounds it. Other values are judged by the
// condition's own JSON decoding, as they always were.
func (d *nodeDecoder) condition(n *yaml.Node, v reflect.Value) int {
	if n.Kind == yaml.MappingNode {
		if d.condDepth == 0 {
			d.condNodes = 0
		}
		d.condDepth++
		defer func() { d.condDepth-- }()
		d.condNodes++
		switch {
		case d.condDepth > model.MaxConditionDepth+1:
			d.fatal(n.Line, "condition nested more than "+strconv.Itoa(model.MaxConditionDepth)+" levels deep")
		case d.condNodes > model.MaxConditionNodes:
			d.fatal(n.Line, "condition has more than "+strconv.Itoa(model.MaxConditionNodes)+" nodes")
		}
		// The tree is walked in the order of its JSON, where the limits
		// were always counted.
		return d.object(n, v, nil, true)
	}
	if n.Kind == yaml.ScalarNode {
		if s, ok := genericScalar(n, nil).(string); ok {
			c := model.Condition{Text: s}
			if strings.TrimSpace(s) == "" {
				c.Text = ""
			}
			*v.Addr().Interface().(*model.Condition) = c
			return jsonStringLen(s)
		}
	}
	return d.viaJSON(n, v, d.shapeProblem)
}

// viaJSON hands the JSON form of n to a type that judges its own: its
// decoding error is a problem of shape.
func (d *nodeDecoder) viaJSON(n *yaml.Node, v reflect.Value, problem func(int, string)) int {
	t := v.Type()
	g := genericScalar(n, t) // text stays text for a type of text
	if n.Kind != yaml.ScalarNode {
		var ok bool
		if g, ok = d.generic(n, false); !ok {
			return 0
		}
	}
	raw, err := json.Marshal(g)
	if err != nil {
		d.shapeProblem(n.Line, strings.TrimPrefix(err.Error(), "json: "))
		return 0
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) && !reflect.PointerTo(t).Implements(customType) {
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			problem(n.Line, strings.TrimPrefix(err.Error(), "json: "))
		}
		return len(raw)
	}
	// Types with a strict decoding of their own (Custom, text, raw JSON)
	// read the JSON with the JSON decoder, at this path.
	jd := newDecoder(raw)
	jd.depth = d.depth
	jd.ValueFrom(jd.Next(), v, d.at())
	for _, fe := range jd.p.List() {
		d.ruleProblemAt(n.Line, fe.Field, fe.Message)
	}
	return len(raw)
}

func (d *nodeDecoder) cannotEncode(err error) {
	if d.unencodable == nil {
		d.unencodable = &NodeProblem{Line: d.docLine, Message: strings.TrimPrefix(err.Error(), "json: ")}
	}
}

// plain reads a value of a kind without rules of its own.
func (d *nodeDecoder) plain(n *yaml.Node, v reflect.Value) int {
	t := v.Type()
	switch t.Kind() {
	case reflect.Struct:
		d.shapeProblem(n.Line, "expected a mapping, got "+describeNode(n))
		return 0
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.shapeProblem(n.Line, "expected a list, got "+describeNode(n))
			return 0
		}
		return d.list(n, v)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.shapeProblem(n.Line, "expected a mapping, got "+describeNode(n))
			return 0
		}
		return d.mapping(n, v)
	case reflect.String:
		// Any scalar is text, so `value: 1` means "1" as an operator
		// would expect; JSON would refuse the number.
		if n.Kind != yaml.ScalarNode {
			d.shapeProblem(n.Line, "expected a string, got "+describeNode(n))
			return 0
		}
		v.SetString(n.Value)
		return jsonStringLen(n.Value)
	case reflect.Bool:
		b, ok := yamlBool(n)
		if !ok {
			d.shapeProblem(n.Line, "expected true or false, got "+describeNode(n))
			return 0
		}
		v.SetBool(b)
		if b {
			return len("true")
		}
		return len("false")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := yamlInt(n)
		if !ok {
			d.shapeProblem(n.Line, "expected an integer, got "+describeNode(n))
			return 0
		}
		text := strconv.FormatInt(i, 10)
		if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
			if i < 0 {
				d.ruleProblem(n.Line, "expected a non-negative integer, got "+shorten(text))
			} else if v.OverflowUint(uint64(i)) {
				d.ruleProblem(n.Line, "the number "+shorten(text)+" is out of range")
			} else {
				v.SetUint(uint64(i))
			}
		} else if v.OverflowInt(i) {
			d.ruleProblem(n.Line, "the number "+shorten(text)+" is out of range")
		} else {
			v.SetInt(i)
		}
		return len(text)
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			d.shapeProblem(n.Line, "expected a number, got "+describeNode(n))
			return 0
		}
		raw, err := json.Marshal(f)
		if err != nil {
			d.cannotEncode(err)
			return 0
		}
		// The value is what its JSON text reads as at the field's size.
		g, err := strconv.ParseFloat(string(raw), t.Bits())
		if err != nil {
			d.ruleProblem(n.Line, "the number "+shorten(string(raw))+" is out of range")
			return len(raw)
		}
		v.SetFloat(g)
		return len(raw)
	case reflect.Interface:
		g, ok := d.generic(n, true)
		if !ok {
			return 0
		}
		if t.NumMethod() != 0 {
			d.ruleProblem(n.Line, "cannot be decoded")
		} else if g != nil {
			v.Set(reflect.ValueOf(&g).Elem())
		}
		return genericLen(g)
	}
	g, ok := d.generic(n, true)
	if ok {
		d.ruleProblem(n.Line, "cannot be decoded")
	}
	return genericLen(g)
}

func (d *nodeDecoder) list(n *yaml.Node, v reflect.Value) int {
	t := v.Type()
	if t.Elem().Kind() == reflect.Uint8 {
		// []byte is base64 text in JSON: a YAML list of numbers, the only
		// shape the walk would take, is not.
		for i, item := range n.Content {
			var b uint8
			d.pushIndex(i)
			d.plain(resolveAlias(item), reflect.ValueOf(&b).Elem())
			d.pop()
		}
		d.ruleProblem(n.Line, "expected a base64 string, got a list")
		return 0
	}
	d.enter(n)
	defer d.leave()
	out := reflect.MakeSlice(t, len(n.Content), len(n.Content))
	size := 2 + max(len(n.Content)-1, 0)
	for i, item := range n.Content {
		d.pushIndex(i)
		size += d.value(item, out.Index(i))
		d.pop()
	}
	v.Set(out)
	return size
}

func (d *nodeDecoder) mapping(n *yaml.Node, v reflect.Value) int {
	t := v.Type()
	kk := t.Key().Kind()
	keyed := kk == reflect.String || (kk >= reflect.Int && kk <= reflect.Int64)
	if !keyed {
		d.ruleProblem(n.Line, "cannot be decoded")
	}
	d.enter(n)
	defer d.leave()
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	size, members := 2, 0
	var seen keySet
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen.repeated(n, i) {
			d.push(k.Value)
			d.shapeProblem(k.Line, "duplicate key")
			d.pop()
			continue
		}
		e := reflect.New(t.Elem()).Elem()
		d.push(k.Value)
		size += jsonStringLen(k.Value) + 1 + d.value(n.Content[i+1], e)
		members++
		if !keyed {
			d.pop()
			continue
		}
		key := reflect.New(t.Key()).Elem()
		if kk == reflect.String {
			key.SetString(k.Value)
		} else {
			i, err := strconv.ParseInt(k.Value, 10, t.Key().Bits())
			if err != nil {
				d.ruleProblem(k.Line, "key must be an integer")
				d.pop()
				continue
			}
			key.SetInt(i)
		}
		d.pop()
		v.SetMapIndex(key, e)
	}
	return size + max(members-1, 0)
}

// generic converts n to plain values as a JSON value of unknown shape
// decodes: maps, lists, strings, float64s, bools and nil. asJSON gives
// numbers as JSON would (float64); else they stay YAML's (int, float64),
// as a value handed to json.Marshal. ok is false when a limit stopped it.
func (d *nodeDecoder) generic(n *yaml.Node, asJSON bool) (any, bool) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		d.enter(n)
		defer d.leave()
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			d.push(k)
			val, ok := d.generic(n.Content[i+1], asJSON)
			d.pop()
			if !ok {
				return nil, false
			}
			m[k] = val // the last of duplicate keys, as a YAML decoder keeps
		}
		return m, !d.stopped
	case yaml.SequenceNode:
		d.enter(n)
		defer d.leave()
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			d.pushIndex(i)
			val, ok := d.generic(c, asJSON)
			d.pop()
			if !ok {
				return nil, false
			}
			l[i] = val
		}
		return l, !d.stopped
	}
	g := genericScalar(n, nil)
	if asJSON {
		switch x := g.(type) {
		case int:
			g = float64(x)
		case int64:
			g = float64(x)
		case uint64:
			g = float64(x)
		case float64:
			if _, err := json.Marshal(x); err != nil {
				d.cannotEncode(err)
				return nil, false
			}
		}
	}
	return g, true
}

// genericScalar is the value of a scalar node: text, unless YAML reads it
// as null, a boolean or a number (and t, when given, is not text).
func genericScalar(n *yaml.Node, t reflect.Type) any {
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		if t != nil && t.Kind() == reflect.String {
			return n.Value
		}
		if n.Tag == "!!bool" {
			if b, ok := yamlBool(n); ok {
				return b
			}
		}
		var v any
		if n.Decode(&v) == nil {
			return v
		}
	}
	return n.Value
}

// genericLen is the length of g's JSON.
func genericLen(g any) int {
	switch x := g.(type) {
	case nil:
		return len("null")
	case string:
		return jsonStringLen(x)
	case bool:
		if x {
			return len("true")
		}
		return len("false")
	case map[string]any:
		n := 2 + max(len(x)-1, 0)
		for k, v := range x {
			n += jsonStringLen(k) + 1 + genericLen(v)
		}
		return n
	case []any:
		n := 2 + max(len(x)-1, 0)
		for _, v := range x {
			n += genericLen(v)
		}
		return n
	}
	raw, _ := json.Marshal(g)
	return len(raw)
}

// yamlBool reads a !!bool scalar.
func yamlBool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, false
	}
	switch n.Value {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	var b bool
	err := n.Decode(&b)
	return b, err == nil
}

// yamlInt reads an !!int scalar that fits an int64.
func yamlInt(n *yaml.Node) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, false
	}
	if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil && plainDecimal(n.Value) {
		return i, true
	}
	var i int64
	err := n.Decode(&i)
	return i, err == nil
}

// plainDecimal reports whether s is digits with an optional minus sign,
// which YAML and strconv read alike (a leading 0 is octal to YAML).
func plainDecimal(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	return s != "" && (s == "0" || s[0] != '0')
}

func describeNode(n *yaml.Node) string {
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

// jsonStringLen is the length of s encoded as a JSON string by
// encoding/json (which escapes <, > and & for HTML, and writes invalid
// UTF-8 as \ufffd).
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// heaviestNode is heaviest for a document that converts to an object of
// size bytes: the path of the member holding more than half of its
// parent's bytes, a few levels deep.
func heaviestNode(n *yaml.Node, t reflect.Type, size int, skip []string) []member {
	var path []member
	for range 8 {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		m, child, childType, childSize := largestMember(n, t, skip)
		if child == nil || 2*childSize <= size {
			break
		}
		path = append(path, m)
		n, t, size, skip = child, childType, childSize, nil
	}
	return path
}

// member is a step of heaviestNode's path and the line of its node.
type member struct {
	key   string
	index int
	line  int
}

// largestMember returns the member of mapping or list n (read as t) whose
// JSON is the longest, the first in JSON order of those as long.
func largestMember(n *yaml.Node, t reflect.Type, skip []string) (m member, child *yaml.Node, ct reflect.Type, size int) {
	n = resolveAlias(n)
	consider := func(k string, i int, c *yaml.Node, typ reflect.Type) {
		d := nodeDecoder{top: true, sizing: true}
		if s := d.value(c, reflect.New(typ).Elem()); child == nil || s > size {
			m, child, ct, size = member{key: k, index: i, line: resolveAlias(c).Line}, resolveAlias(c), typ, s
		}
	}
	switch {
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Interface):
		et := t
		if t.Kind() == reflect.Slice {
			et = t.Elem()
		}
		for i, c := range n.Content {
			consider("", i, c, et)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := fieldsOf(t)
		for _, i := range keyOrder(n) {
			k := n.Content[i].Value
			if f, ok := fields.byName[k]; ok && !slices.Contains(skip, k) {
				consider(k, -1, n.Content[i+1], t.FieldByIndex(f.index).Type)
			}
		}
	case n.Kind == yaml.MappingNode && (t.Kind() == reflect.Map || t.Kind() == reflect.Interface):
		et := t
		if t.Kind() == reflect.Map {
			et = t.Elem()
		}
		for _, i := range keyOrder(n) {
			consider(n.Content[i].Value, -1, n.Content[i+1], et)
		}
	}
	return m, child, ct, size
}
