package strictjson_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/strictjson"
)

// notChain is a condition of depth levels: not(not(...(host present))).
func notChain(levels int) string {
	return strings.Repeat(`{"not":`, levels-1) + `{"field":"host","op":"present"}` + strings.Repeat(`}`, levels-1)
}

func route(when string) string {
	return `{"name":"r","gateway":"g","when":` + when + `,"then":{"forward":[{"upstream":"u"}]}}`
}

func inList(n int) string {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = `"a"`
	}
	return `{"field":"method","op":"in","values":[` + strings.Join(vals, ",") + `]}`
}

func TestDecodeRoute(t *testing.T) {
	tests := map[string]struct {
		body string
		// want lists "path: message fragment" for every problem, in order;
		// empty means the body decodes.
		want []string
	}{
		"valid":          {body: route(`{"all":[{"field":"host","op":"equals","value":"a.com"}]}`)},
		"condition text": {body: route(`"host == \"a.com\""`)},
		"unknown field at depth": {
			body: route(`{"all":[{"field":"host","op":"present"},{"nott":{"field":"path","op":"prefix","value":"/admin"}}]}`),
			want: []string{"when.all[1].nott: unknown field"},
		},
		"wrong case": {
			body: route(`{"all":[{"Field":"host","op":"present"}]}`),
			want: []string{`when.all[0].Field: unknown field (did you mean "field"?)`},
		},
		"wrong case at the top": {
			body: `{"Name":"r","gateway":"g","then":{"forward":[{"upstream":"u","weigth":2}]}}`,
			want: []string{`Name: unknown field (did you mean "name"?)`, "then.forward[0].weigth: unknown field"},
		},
		"duplicate key": {
			body: `{"name":"r","name":"s","gateway":"g","then":{"forward":[{"upstream":"u"}]}}`,
			want: []string{"name: duplicate key"},
		},
		"duplicate key in a condition": {
			body: route(`{"field":"host","op":"present","op":"absent"}`),
			want: []string{"when.op: duplicate key"},
		},
		"depth 200": {body: route(notChain(201))},
		"depth 201": {
			body: route(notChain(202)),
			want: []string{"when" + strings.Repeat(".not", 201) + ": condition nested more than 200 levels deep"},
		},
		"null inside a condition": {
			body: route(`{"not":null}`),
			want: []string{"when.not: must not be null"},
		},
		"too many nodes": {
			body: route(`{"any":[` + strings.TrimSuffix(strings.Repeat(`{"field":"host","op":"present"},`, model.MaxConditionNodes), ",") + `]}`),
			want: []string{"when.any[999]: condition has more than 1000 nodes"},
		},
		"integer overflow": {
			body: `{"name":"r","gateway":"g","priority":99999999999999999999,"then":{"forward":[{"upstream":"u"}]}}`,
			want: []string{"priority: the number 99999999999999999999 is out of range"},
		},
		"fraction for an integer": {
			body: `{"name":"r","gateway":"g","priority":1.5,"then":{"forward":[{"upstream":"u"}]}}`,
			want: []string{"priority: expected an integer, got 1.5"},
		},
		"wrong type": {
			body: `{"name":["r"],"gateway":"g","then":{"forward":{"upstream":"u"}}}`,
			want: []string{"name: expected a string, got a list", "then.forward: expected a list, got an object"},
		},
		"duration": {
			body: `{"name":"r","gateway":"g","then":{"forward":[{"upstream":"u"}],"timeout":"soon"}}`,
			want: []string{`then.timeout: invalid duration "soon"`},
		},
		"duration overflow": {
			body: `{"name":"r","gateway":"g","then":{"forward":[{"upstream":"u"}],"timeout":1e300}}`,
			want: []string{"then.timeout: duration of 1e+300 seconds is out of range"},
		},
		"text field is not a condition field": {
			body: route(`{"Text":"host == \"a\""}`),
			want: []string{"when.Text: unknown field"},
		},
		"malformed": {body: `{"name":`, want: []string{"malformed JSON"}},
		"trailing":  {body: `{} {}`, want: []string{"must hold a single JSON value"}},
		"empty":     {body: ` `, want: []string{"empty body"}},
		"json nesting": {
			body: strings.Repeat(`[`, model.MaxJSONDepth+5),
			want: []string{"expected an object, got a list", "nested more than 416 levels deep"},
		},
		"object too large": {
			body: `{"name":"r","gateway":"g","description":"` + strings.Repeat("x", model.MaxObjectBytes) + `","then":{"forward":[{"upstream":"u"}]}}`,
			want: []string{"description: makes the object 1048657 bytes; at most 1048576"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var r model.Route
			err := strictjson.Decode([]byte(tc.body), &r)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
			fields := model.ErrorFields(err)
			if len(fields) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(fields), len(tc.want), err)
			}
			for i, w := range tc.want {
				if got := fields[i].String(); !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

func TestInValuesBound(t *testing.T) {
	for n, ok := range map[int]bool{model.MaxInValues: true, model.MaxInValues + 1: false, 100_001: false} {
		var r model.Route
		if err := strictjson.Decode([]byte(route(inList(n))), &r); err != nil {
			t.Fatalf("%d values: decode: %v", n, err)
		}
		err := r.Validate()
		if ok != (err == nil) {
			t.Errorf("%d values: Validate() = %v, want ok=%v", n, err, ok)
		}
		if !ok && !strings.Contains(err.Error(), "when.values: has") {
			t.Errorf("%d values: %v does not name when.values", n, err)
		}
	}
}

// TestDeepChainIsCheap decodes a 10,000-level not chain: it must be refused
// at the depth bound without reading (or building) the rest, so it takes
// little time and memory.
func TestDeepChainIsCheap(t *testing.T) {
	body := []byte(route(notChain(10_000)))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	var r model.Route
	err := strictjson.Decode(body, &r)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "condition nested more than 200 levels deep") {
		t.Fatalf("got %v", err)
	}
	// Generous bounds: a few hundred levels cost well under a megabyte
	// and a millisecond; reading all 10,000 would cost far more.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("allocated %d bytes", alloc)
	}
	if elapsed > 2*time.Second {
		t.Errorf("took %v", elapsed)
	}
}

func TestManyProblemsStop(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := 0; i < 10_000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"x` + strings.Repeat("y", i%7) + string(rune('a'+i%26)) + `":1`)
	}
	b.WriteString(`}`)
	var r model.Route
	fields := model.ErrorFields(strictjson.Decode([]byte(b.String()), &r))
	if len(fields) > 101 || len(fields) < 100 {
		t.Fatalf("got %d problems, want the first 100 and a note", len(fields))
	}
}

func TestRequestHeaders(t *testing.T) {
	var req rules.Request
	err := strictjson.Decode([]byte(`{"url":"/","headers":{"x-a":"1","cookie":["a=1","b=2"]}}`), &req)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Headers["cookie"]; len(got) != 2 || req.Headers["x-a"][0] != "1" {
		t.Errorf("headers %v", req.Headers)
	}
	tests := map[string]string{
		`{"url":"/","headers":{"x-a":1}}`:             "headers.x-a: expected a string or a list of strings",
		`{"url":"/","Headers":{}}`:                    `Headers: unknown field (did you mean "headers"?)`,
		`{"url":"/","headers":{"x-a":"1","x-a":"2"}}`: "headers.x-a: duplicate key",
		`{"url":"/","random":-1}`:                     "random: expected a non-negative integer",
	}
	for body, want := range tests {
		err := strictjson.Decode([]byte(body), &req)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
	}
}

func TestWorkspaceLists(t *testing.T) {
	ws, err := strictjson.DecodeWorkspace([]byte(`{"routes":[{"name":"a","gateway":"g","then":{"forward":[{"upstream":"u"}]}},{"name":"b","gatway":"g"}],"upstreams":[{"name":"u","static":{"endpoints":[{"address":"1.2.3.4","port":80,"weight":4294967296}]}}],"Routes":[],"routes":null}`))
	if err == nil {
		t.Fatal("decoded")
	}
	for _, want := range []string{"routes[1].gatway: unknown field", `Routes: unknown field (did you mean "routes"?)`, "routes: duplicate key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not contain %q", err, want)
		}
	}
	// Field problems only: every object is there for further checks, the
	// ones that did not decode at their zero values.
	if ws == nil || len(ws.Routes) != 2 || ws.Routes[1].Name != "b" || ws.Routes[1].Gateway != "" || len(ws.Upstreams) != 1 {
		t.Fatalf("workspace %+v", ws)
	}
	for name, body := range map[string]string{
		"syntax":  `{"routes":[{"name":"a",`,
		"null":    `null`,
		"trailer": `{} {}`,
	} {
		if ws, err := strictjson.DecodeWorkspace([]byte(body)); err == nil || ws != nil {
			t.Errorf("%s: %+v, %v; want no workspace and an error", name, ws, err)
		}
	}
}

func TestDecodeObject(t *testing.T) {
	read := `{"kind":"Route","whenText":"host == \"a\"","when":"host == \"a\"","warnings":[{"field":"when","message":"m"}],"name":"r","gateway":"g","then":{"forward":[{"upstream":"u"}]}}`
	obj, err := strictjson.DecodeObject([]byte(read), model.KindRoute)
	if err != nil {
		t.Fatal(err)
	}
	if r := obj.(*model.Route); r.Name != "r" || r.Then.Forward[0].Upstream != "u" {
		t.Errorf("decoded %+v", r)
	}
	tests := map[string]string{
		`{"kind":"Gateway","name":"r"}`: "kind: must be \"Route\" here",
		`null`:                          "expected an object, got null",
		`{"name":"r","Kind":"Route"}`:   "Kind: unknown field",
		`{"name":"r","whenText":"x","whenText":"y"}`:        "whenText: duplicate key",
		`{"name":"r","whenText":"path.prefix(\"/admin\")"}`: "whenText: output only",
		route(notChain(10_000)):                             "condition nested more than 200 levels deep",
	}
	for body, want := range tests {
		if _, err := strictjson.DecodeObject([]byte(body), model.KindRoute); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: got %v, want %q", body, err, want)
		}
	}
}
