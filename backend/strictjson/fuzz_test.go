package strictjson_test

import (
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/strictjson"
)

// FuzzDecodeRoute feeds DecodeObject, what POST and PUT /routes decode
// their body with, arbitrary bytes: it must answer a route or an EINVALID
// error, never panic, and a route it answers must survive what the API
// does next (parse its condition text, validate it) without panicking.
func FuzzDecodeRoute(f *testing.F) {
	for _, seed := range []string{
		`{"name":"r","gateway":"g","when":"host == \"a.com\" && path.prefix(\"/v1\")","then":{"forward":[{"upstream":"u"}]}}`,
		`{"kind":"Route","whenText":"","warnings":[],"name":"r","gateway":"g","when":{"all":[{"field":"header[x-a]","op":"in","values":["1","2"]},{"not":{"field":"path","op":"regex","value":"/a(?P<x>b)"}}]},"then":{"forward":[{"upstream":"u","weight":3},{"upstream":"v","weight":1}],"timeout":"2s"}}`,
		`{"name":"r","gateway":"g","when":{"nott":{}},"then":{"respond":{"status":200,"headers":{"x":"y"}}}}`,
		`{"Name":"r","name":"r","name":"s","gateway":"g","then":{"redirect":{"pathPrefix":"/x"}}}`,
		`{"name":"r","gateway":"g","priority":1e99,"then":{"forward":[{"upstream":"u","weight":4294967296}],"retries":{"attempts":-1,"perTryTimeout":1e300}}}`,
		`{"name":"r","gateway":"g","when":` + strings.Repeat(`{"not":`, 300) + `{}` + strings.Repeat(`}`, 300) + `,"then":{}}`,
		`{"kind":"Gateway"}`, `[]`, `null`, `"x"`, `{`, ``, `{"a":1} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := strictjson.DecodeObject(body, model.KindRoute)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("error of kind %q: %v", model.ErrorCode(err), err)
			}
			return
		}
		r := obj.(*model.Route)
		if rules.Resolve(r) == nil {
			_ = r.Validate()
		}
	})
}
