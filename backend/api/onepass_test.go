package api

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRouteProblemsInOneAnswer: a route body with problems of its fields
// (an unknown key, a bad duration) is still checked for the rest (its
// condition, its references), and every problem comes back in one 400,
// without follow-ons of the fields that did not decode. A body that hits
// a limit is answered with that alone.
func TestRouteProblemsInOneAnswer(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	home := a.do(t, "viewer", "GET", "/api/v1/routes/home", nil).must(t, http.StatusOK)
	tests := map[string]struct {
		method, path, body string
		header             []string
		want               map[string]string
	}{
		"create": {
			method: "POST", path: "/api/v1/routes",
			body: `{"name":"shop","gateway":"nowhere","colour":"red","when":"path.prefix(\"/a\") &&",` +
				`"then":{"forward":[{"upstream":"web"}],"timeout":"soon"}}`,
			want: map[string]string{
				"colour":       "unknown field",
				"then.timeout": `invalid duration "soon": use units like 250ms, 5s, 1m`,
				"gateway":      `unknown gateway "nowhere"`,
				"when":         `1:21: expected a field (host, path, method, scheme, header["..."], query["..."], cookie["..."], grpc), found end of text`,
			},
		},
		"update": {
			method: "PUT", path: "/api/v1/routes/home", header: []string{"If-Match", home.header.Get("ETag")},
			body: `{"gateway":"public","Priority":3,"then":{"forward":[{"upstream":"nope","weight":"heavy"}]}}`,
			want: map[string]string{
				"Priority":                 `unknown field (did you mean "priority"?)`,
				"then.forward[0].weight":   `expected an integer, got a string`,
				"then.forward[0].upstream": `unknown upstream "nope"`,
			},
		},
		"a field of the wrong type is not also required": {
			method: "POST", path: "/api/v1/routes",
			body: `{"name":"r2","gatway":"public","then":[]}`,
			want: map[string]string{
				"gatway": "unknown field",
				"then":   "expected an object, got a list",
			},
		},
		"a limit ends the checks": {
			method: "POST", path: "/api/v1/routes",
			body: `{"name":"r3","gateway":"nowhere","colour":1,"then":{"forward":[]},` + "\n" + `"x":1} trailing`,
			want: map[string]string{
				"colour": "unknown field",
				"x":      "unknown field",
				"":       "must hold a single JSON value, with nothing after it",
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, "editor", tt.method, tt.path, tt.body, tt.header...).must(t, http.StatusBadRequest)
			if diff := cmp.Diff(tt.want, r.problemFields(t)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
	if r := a.do(t, "viewer", "GET", "/api/v1/routes/shop", nil); r.status != http.StatusNotFound {
		t.Errorf("route stored: %d", r.status)
	}
}
