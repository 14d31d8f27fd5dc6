package model

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Condition fields. Keyed fields carry their key in brackets, e.g.
// "header[x-canary]"; see ParseField.
const (
	FieldHost        = "host"
	FieldPath        = "path"
	FieldMethod      = "method"
	FieldScheme      = "scheme"
	FieldHeader      = "header"
	FieldQuery       = "query"
	FieldCookie      = "cookie"
	FieldGRPC        = "grpc"         // the request is gRPC (op present/absent)
	FieldGRPCService = "grpc.service" // fully qualified service, e.g. "shop.v1.Cart"
	FieldGRPCMethod  = "grpc.method"  // method name, e.g. "AddItem"
)

// Condition is a node of a rule's condition tree: exactly one of All, Any,
// Not, or a predicate (Field + Op + Value/Values). The zero Condition (no
// node at all) matches every request.
type Condition struct {
	All []Condition `json:"all,omitempty"`
	Any []Condition `json:"any,omitempty"`
	Not *Condition  `json:"not,omitempty"`

	Field      string   `json:"field,omitempty"`
	Op         string   `json:"op,omitempty"`
	Value      string   `json:"value,omitempty"`
	Values     []string `json:"values,omitempty"`
	IgnoreCase bool     `json:"ignoreCase,omitempty"`

	// Text is the condition language source this tree was written as, when
	// it arrived as text (`when: host == "a.com"`). It is cleared once
	// rules.Resolve has parsed it into the tree.
	Text string `json:"-"`
}

// IsZero reports whether c is the empty condition (matches everything).
func (c Condition) IsZero() bool {
	return c.All == nil && c.Any == nil && c.Not == nil && c.Field == "" && c.Op == "" &&
		c.Value == "" && c.Values == nil && !c.IgnoreCase && c.Text == ""
}

// IsPredicate reports whether c is a leaf.
func (c Condition) IsPredicate() bool { return c.Field != "" || c.Op != "" }

// UnmarshalJSON accepts either the structured tree or condition-language
// text. Text is kept in c.Text for rules.Resolve to parse, because the parser
// lives in backend/rules and model depends on nothing.
//
// Input from users is decoded by backend/strictjson, which reads
// conditions itself (exact keys, bounded depth); this method serves stored
// data and other callers of encoding/json, and still refuses unknown keys:
// a dropped "not" would turn a rule into its opposite.
func (c *Condition) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = Condition{Text: s}
		if strings.TrimSpace(s) == "" {
			c.Text = ""
		}
		return nil
	}
	type plain Condition
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*c = Condition(p)
	return nil
}

// FieldKind describes one kind of condition field: what the request
// offers under that name decides which operators apply.
type FieldKind struct {
	Name string
	// Keyed fields name what they read: header[x-canary].
	Keyed bool
	// Optional fields can be missing from a request: presence tests apply.
	Optional bool
	// Value fields hold text: the value operators apply.
	Value bool
	// Path marks the path, whose Envoy path specifiers add operators.
	Path bool
}

// FieldKinds is every kind of condition field.
var FieldKinds = []FieldKind{
	{Name: FieldHost, Value: true},
	{Name: FieldPath, Value: true, Path: true},
	{Name: FieldMethod, Value: true},
	{Name: FieldScheme, Value: true},
	{Name: FieldHeader, Keyed: true, Optional: true, Value: true},
	{Name: FieldQuery, Keyed: true, Optional: true, Value: true},
	{Name: FieldCookie, Keyed: true, Optional: true, Value: true},
	{Name: FieldGRPC, Optional: true},
	{Name: FieldGRPCService, Value: true},
	{Name: FieldGRPCMethod, Value: true},
}

// LookupFieldKind returns the field kind named kind ("header", not
// "header[x-a]").
func LookupFieldKind(kind string) (*FieldKind, bool) {
	for i := range FieldKinds {
		if FieldKinds[i].Name == kind {
			return &FieldKinds[i], true
		}
	}
	return nil, false
}

// ParseField splits a field such as "header[x-canary]" into its kind
// ("header") and key ("x-canary"). Unkeyed fields return an empty key. ok is
// false for anything that is not a known field.
func ParseField(f string) (kind, key string, ok bool) {
	i := strings.IndexByte(f, '[')
	if i < 0 {
		if k, known := LookupFieldKind(f); known && !k.Keyed {
			return f, "", true
		}
		return "", "", false
	}
	if !strings.HasSuffix(f, "]") {
		return "", "", false
	}
	kind, key = f[:i], f[i+1:len(f)-1]
	if k, known := LookupFieldKind(kind); known && k.Keyed {
		return kind, key, key != ""
	}
	return "", "", false
}

// KeyedField builds "kind[key]".
func KeyedField(kind, key string) string { return kind + "[" + key + "]" }

// And, Or, Not and Pred build trees in code and tests.
func And(cs ...Condition) Condition { return Condition{All: cs} }

// Or builds an any node.
func Or(cs ...Condition) Condition { return Condition{Any: cs} }

// Not builds a negation.
func Not(c Condition) Condition { return Condition{Not: &c} }

// Pred builds a single-value predicate.
func Pred(field, op, value string) Condition { return Condition{Field: field, Op: op, Value: value} }
