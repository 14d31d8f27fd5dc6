package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
)

// outputOnly are the fields the API and the CLI add when they show an
// object: "kind", and for routes "whenText" (the condition as text) and,
// in the answer to a write, "warnings". A client may send back what it
// read, so they are accepted and dropped ("kind" must name the right
// kind).
var outputOnly = map[string]bool{"kind": true, "whenText": true, "warnings": true}

// DecodeObject decodes one object of kind (model.KindRoute, ...) from data
// strictly, accepting the output-only fields a read answer carries. It is
// what every API write of one object decodes its body with.
func DecodeObject(data []byte, kind string) (model.Object, error) {
	obj := model.NewObject(kind)
	if obj == nil {
		return nil, fmt.Errorf("strictjson: unknown kind %q", kind)
	}
	var fields map[string]json.RawMessage
	if err := Decode(data, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, &model.Error{Code: model.EINVALID, Message: "invalid input",
			Fields: []model.FieldError{{Message: "expected an object, got null"}}}
	}
	var p model.Problems
	if raw, ok := fields["kind"]; ok {
		var k string
		if json.Unmarshal(raw, &k) != nil || k != kind {
			p.Add("kind", "must be %q here", kind)
		}
	}
	for f := range outputOnly {
		delete(fields, f)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	// The fields go back together in one object: the strict decoder then
	// sees the whole object (its size, every field) as the client sent it,
	// less the output-only fields.
	var b bytes.Buffer
	b.Grow(len(data))
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return nil, fmt.Errorf("re-encode object: %w", err)
	}
	if err := Decode(b.Bytes(), obj); err != nil {
		return nil, err
	}
	return obj, nil
}
