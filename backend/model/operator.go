package model

// Condition operators.
const (
	OpEquals        = "equals"
	OpNotEquals     = "not-equals"
	OpPrefix        = "prefix"
	OpSuffix        = "suffix"
	OpContains      = "contains"
	OpRegex         = "regex" // RE2, full match
	OpPresent       = "present"
	OpAbsent        = "absent"
	OpIn            = "in"
	OpNotIn         = "not-in"
	OpExact         = "exact"          // path only: same as equals
	OpSegmentPrefix = "segment-prefix" // path only: prefix ending at "/" or end of path
	OpTemplate      = "template"       // path only: "/users/{id}", "/files/**"
)

// Operator describes one condition operator: its wire name and text form,
// what value it takes, which fields accept it and how it negates. The
// validation, the condition language's parser and printer, and the
// translator's rewriting of negations read this table, so a new operator
// is an entry here, its test in the evaluator (backend/rules) and its
// Envoy matcher (backend/translate).
type Operator struct {
	Name string // wire name: "segment-prefix"
	// Method is the text form's method name: path.segmentPrefix("/api").
	Method string
	// Infix is the text form's operator for the case-sensitive test
	// (==, !=, in, not in); empty for operators written only as methods.
	Infix string
	Shape ValueShape
	// Scope is which fields accept the operator.
	Scope OpScope
	// IgnoreCase reports whether the operator can compare ASCII
	// case-insensitively (Envoy's StringMatcher and path specifiers can;
	// regexes and URI templates cannot).
	IgnoreCase bool
	// Complement names the operator this one is the negation of, for a
	// request that has the field (not-equals of equals); empty for most.
	Complement string
	// Alias names the operator this one is a synonym of (exact of equals).
	Alias string
}

// ValueShape is what an operator compares with.
type ValueShape int

const (
	ShapeValue  ValueShape = iota // one value
	ShapeValues                   // a list of values
	ShapeNone                     // nothing: presence tests
)

// OpScope is the set of fields an operator applies to.
type OpScope int

const (
	// ScopeString: every field that holds a string.
	ScopeString OpScope = iota
	// ScopePath: the path only, for Envoy's dedicated path specifiers.
	ScopePath
	// ScopePresence: fields a request may lack (headers, query
	// parameters, cookies, the gRPC marker).
	ScopePresence
)

// Operators is every operator, in the order error messages list them.
var Operators = []Operator{
	{Name: OpEquals, Method: "equals", Infix: "==", IgnoreCase: true},
	{Name: OpNotEquals, Method: "notEquals", Infix: "!=", IgnoreCase: true, Complement: OpEquals},
	{Name: OpIn, Method: "in", Infix: "in", Shape: ShapeValues, IgnoreCase: true},
	{Name: OpNotIn, Method: "notIn", Infix: "not in", Shape: ShapeValues, IgnoreCase: true, Complement: OpIn},
	{Name: OpPrefix, Method: "prefix", IgnoreCase: true},
	{Name: OpSuffix, Method: "suffix", IgnoreCase: true},
	{Name: OpContains, Method: "contains", IgnoreCase: true},
	{Name: OpRegex, Method: "regex"},
	{Name: OpExact, Method: "exact", Scope: ScopePath, IgnoreCase: true, Alias: OpEquals},
	{Name: OpSegmentPrefix, Method: "segmentPrefix", Scope: ScopePath, IgnoreCase: true},
	{Name: OpTemplate, Method: "template", Scope: ScopePath},
	{Name: OpPresent, Method: "present", Shape: ShapeNone, Scope: ScopePresence},
	{Name: OpAbsent, Method: "absent", Shape: ShapeNone, Scope: ScopePresence, Complement: OpPresent},
}

var operatorByName = func() map[string]*Operator {
	m := make(map[string]*Operator, len(Operators))
	for i := range Operators {
		m[Operators[i].Name] = &Operators[i]
	}
	return m
}()

// LookupOperator returns the operator named name (its wire name).
func LookupOperator(name string) (*Operator, bool) {
	op, ok := operatorByName[name]
	return op, ok
}

// AppliesTo reports whether the operator may be used on a field of kind
// (a field kind as ParseField returns it).
func (o *Operator) AppliesTo(kind string) bool {
	f, ok := LookupFieldKind(kind)
	if !ok {
		return false
	}
	switch o.Scope {
	case ScopePath:
		return f.Path
	case ScopePresence:
		return f.Optional
	}
	return f.Value
}

// opsFor lists the operators a field kind accepts, in table order.
func opsFor(kind string) []string {
	var out []string
	for i := range Operators {
		if Operators[i].AppliesTo(kind) {
			out = append(out, Operators[i].Name)
		}
	}
	return out
}

// ShapeOf is the value shape of the operator named op; an unknown operator
// is read as taking one value.
func ShapeOf(op string) ValueShape {
	if o, ok := operatorByName[op]; ok {
		return o.Shape
	}
	return ShapeValue
}
