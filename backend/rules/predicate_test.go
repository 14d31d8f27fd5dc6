package rules

import (
	"reflect"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// TestEveryOperatorIsWired takes each operator of the model's table on a
// field that accepts it, and requires that it validates, prints as text
// that parses back to the same condition, and compiles to a value test
// (presence tests excepted), so an operator added to the table without
// its counterparts here fails.
func TestEveryOperatorIsWired(t *testing.T) {
	for _, op := range model.Operators {
		t.Run(op.Name, func(t *testing.T) {
			field := ""
			for _, f := range []string{model.FieldPath, "header[x-a]", model.FieldGRPC} {
				kind, _, _ := model.ParseField(f)
				if op.AppliesTo(kind) {
					field = f
					break
				}
			}
			if field == "" {
				t.Fatal("applies to none of path, a header and grpc")
			}
			c := model.Condition{Field: field, Op: op.Name}
			switch op.Shape {
			case model.ShapeValue:
				c.Value = "/v1"
				if op.Name == model.OpRegex {
					c.Value = "/v[0-9]+"
				}
			case model.ShapeValues:
				c.Values = []string{"/a", "/b"}
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("%+v does not validate: %v", c, err)
			}
			text := Format(c)
			back, err := Parse(text)
			if err != nil || !reflect.DeepEqual(back, c) {
				t.Errorf("Format = %q, parsed back as %+v, %v", text, back, err)
			}
			p := compilePred(c)
			if msg := p.prepare(); msg != "" {
				t.Errorf("prepare: %s", msg)
			}
			if (p.test == nil) != (op.Shape == model.ShapeNone) {
				t.Errorf("value test %T for shape %v", p.test, op.Shape)
			}
		})
	}
}
