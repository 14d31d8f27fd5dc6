package strictjson_test

import (
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/strictjson"
)

// TestHidden: the problems a check finds in a value that decoded in part
// are dropped only when they follow from a field that did not decode.
func TestHidden(t *testing.T) {
	decoded := []model.FieldError{
		{Field: "then.timeout", Message: `invalid duration "soon"`},
		{Field: "then.forward[0].weight", Message: "expected an integer"},
		{Field: "Name", Message: `unknown field (did you mean "name"?)`},
		{Field: "gatway", Message: "unknown field"},
		{Field: "static.endpoints[0].colour", Message: "unknown field"},
		{Field: "", Message: "a problem of the whole document"},
	}
	tests := map[string]bool{
		"then.timeout":             true,
		"then.timeoutMs":           false, // a prefix of the path, not a field above it
		"then.forward[0].weight":   true,
		"then.forward[0].upstream": false,
		"then.forward[1].weight":   false,
		"name":                     true, // the suggestion
		"gateway":                  true, // two letters from gatway
		"priority":                 false,
		"then.gateway":             false, // not beside gatway
		"static.endpoints[0].port": false, // colour is nothing like port
		"static.endpoints":         false,
		"":                         false,
	}
	for path, want := range tests {
		if got := strictjson.Hidden(path, decoded); got != want {
			t.Errorf("Hidden(%q) = %v, want %v", path, got, want)
		}
	}
}
