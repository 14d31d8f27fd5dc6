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

// TestWorkspaceProblemsInOneAnswer: a workspace body (apply, validate)
// with field problems in many objects (unknown keys, wrong types, bad
// durations) is still checked for the rest of every object (conditions,
// references between objects), and every problem comes back in one 400,
// without follow-ons of the fields that did not decode. A body that hits
// a limit is answered with that alone, and nothing is stored.
func TestWorkspaceProblemsInOneAnswer(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	const fwd = `"then":{"forward":[{"upstream":"web"}]}`
	tests := map[string]struct {
		body string
		want map[string]string
	}{
		"decoding problems across objects and the checks of the rest": {
			body: `{"upstreams":[{"name":"u1","static":{"endpoints":[{"address":"10.0.0.1","port":"eighty"}]},"connectTimeout":"2 parsecs"},` +
				`{"name":"u2","static":{"endpoints":[{"address":"10.0.0.2","port":80}]},"colour":"red"}],` +
				`"routes":[{"name":"a","gatway":"public",` + fwd + `},` +
				`{"name":"b","gateway":"public","then":{"forward":[{"upstream":"web"}],"timeout":"soon"}},` +
				`{"name":"c","gateway":"public","then":{"forward":[{"upstream":"nowhere"}]}},` +
				`{"name":"d","gateway":"public","when":"path.prefix(","then":{"forward":[{"upstream":"gone"}],"retries":{"attempts":"3"}}},` +
				`{"name":"e","gateway":"nowhere",` + fwd + `}]}`,
			want: map[string]string{
				"upstreams[0].static.endpoints[0].port": "expected an integer, got a string",
				"upstreams[0].connectTimeout":           `invalid duration "2 parsecs": use units like 250ms, 5s, 1m`,
				"upstreams[1].colour":                   "unknown field",
				"routes[0].gatway":                      "unknown field",
				"routes[1].then.timeout":                `invalid duration "soon": use units like 250ms, 5s, 1m`,
				"routes[2].then.forward[0].upstream":    `unknown upstream "nowhere"`,
				"routes[3].when":                        "1:13: expected a quoted string argument to .prefix(), found end of text",
				"routes[3].then.retries.attempts":       "expected an integer, got a string",
				"routes[3].then.forward[0].upstream":    `unknown upstream "gone"`,
				"routes[4].gateway":                     `unknown gateway "nowhere"`,
			},
		},
		"a null object is one problem, not its missing fields": {
			body: `{"routes":[null,{"name":"f","gateway":"public","then":{"forward":[]},"Priority":2}]}`,
			want: map[string]string{
				"routes[0]":              "expected an object, got null",
				"routes[1].Priority":     `unknown field (did you mean "priority"?)`,
				"routes[1].then.forward": "at least one upstream is required",
			},
		},
		"a limit ends the checks": {
			body: `{"routes":[{"name":"g","gateway":"nowhere","colour":1,` + fwd + `}]} trailing`,
			want: map[string]string{
				"routes[0].colour": "unknown field",
				"":                 "must hold a single JSON value, with nothing after it",
			},
		},
	}
	for name, tt := range tests {
		for _, path := range []string{"/api/v1/validate", "/api/v1/apply"} {
			t.Run(name+" "+path, func(t *testing.T) {
				r := a.do(t, "editor", "POST", path, tt.body).must(t, http.StatusBadRequest)
				if diff := cmp.Diff(tt.want, r.problemFields(t)); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
			})
		}
	}
	for _, name := range []string{"a", "b", "c", "f", "g"} {
		if r := a.do(t, "viewer", "GET", "/api/v1/routes/"+name, nil); r.status != http.StatusNotFound {
			t.Errorf("route %s stored: %d", name, r.status)
		}
	}
}
