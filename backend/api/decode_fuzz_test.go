package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// FuzzDecodeRoute feeds decodeObject, what POST /routes runs on its body,
// arbitrary bytes: it must answer a value or an error, never panic, and
// whatever it accepts must pass the route's own validation.
func FuzzDecodeRoute(f *testing.F) {
	for _, seed := range []string{
		`{"name":"r","gateway":"g","when":"host == \"a.com\" && path.prefix(\"/v1\")","then":{"forward":[{"upstream":"u"}]}}`,
		`{"kind":"Route","whenText":"","name":"r","gateway":"g","when":{"all":[{"field":"header[x-a]","op":"in","values":["1","2"]},{"not":{"field":"path","op":"regex","value":"/a(?P<x>b)"}}]},"then":{"forward":[{"upstream":"u","weight":3},{"upstream":"v","weight":1}],"timeout":"2s"}}`,
		`{"name":"r","gateway":"g","when":{"nott":{}},"then":{"respond":{"status":200,"headers":{"x":"y"}}}}`,
		`{"Name":"r","name":"r","gateway":"g","then":{"redirect":{"pathPrefix":"/x"}}}`,
		`{"name":"r","gateway":"g","priority":1e99,"then":{"forward":[{"upstream":"u","weight":4294967296}]}}`,
		`{"name":"r","gateway":"g","when":` + strings.Repeat(`{"not":`, 300) + `{}` + strings.Repeat(`}`, 300) + `,"then":{}}`,
		`[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/api/v1/routes", strings.NewReader(string(body)))
		obj, err := decodeObject(req, kindRoute, nil)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("error of kind %q: %v", model.ErrorCode(err), err)
			}
			return
		}
		if err := obj.Validate(); err != nil {
			t.Fatalf("accepted a route that does not validate: %v", err)
		}
	})
}
