package strictjson_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/strictjson"
)

func parseNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func problemList(ps []strictjson.NodeProblem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%d: %s: %s", p.Line, p.Field, p.Message)
	}
	return out
}

// TestDecodeNodeRoute decodes routes from YAML nodes: problems of shape
// (all of them, with lines) and the rules of Decode, together.
func TestDecodeNodeRoute(t *testing.T) {
	const then = "then: {forward: [{upstream: u}]}\n"
	tests := map[string]struct {
		yaml string
		want []string // "line: path: message"; none when it decodes
	}{
		"valid": {yaml: "kind: Route\nname: r\ngateway: g\nwhen: host == \"a\"\n" + then},
		"every problem of shape, with lines": {
			yaml: "kind: Route\nName: r\ngateway: [g]\npriority: high\n" +
				"when: {all: [{Field: host, op: present}]}\nthen:\n  forward:\n  - {upstream: u, weigth: 2}\n",
			want: []string{
				`2: Name: unknown field (did you mean "name"?)`,
				`3: gateway: expected a string, got a list`,
				`4: priority: expected an integer, got "high"`,
				`5: when.all[0].Field: unknown field (did you mean "field"?)`,
				`8: then.forward[0].weigth: unknown field`,
			},
		},
		"duplicate key": {
			yaml: "name: r\ngateway: g\nname: s\n" + then,
			want: []string{"3: name: duplicate key"},
		},
		"a scalar is text for a string": {yaml: "name: 1\ngateway: true\n" + then},
		"shape and rules in one pass": {
			yaml: "name: r\ngateway: g\nwhen: {not: null}\nbogus: 1\n" + then,
			want: []string{`4: bogus: unknown field`, `3: when.not: must not be null`},
		},
		"integer past int64": {
			yaml: "name: r\npriority: 99999999999999999999999\n",
			want: []string{`2: priority: expected an integer, got 99999999999999999999999`},
		},
		"YAML integers": {yaml: "name: r\ngateway: g\npriority: 0x10\n" + then},
		"null inside a condition": {
			yaml: "name: r\ngateway: g\nwhen:\n  all:\n  - null\n" + then,
			want: []string{"5: when.all[0]: must not be null"},
		},
		"condition too deep": {
			yaml: "name: r\nwhen: " + strings.Repeat("{not: ", 201) + "{field: host, op: present}" + strings.Repeat("}", 201) + "\n",
			want: []string{"2: when" + strings.Repeat(".not", 201) + ": condition nested more than 200 levels deep"},
		},
		"condition of a number": {
			yaml: "name: r\nwhen: 5\n",
			want: []string{"2: when: cannot unmarshal number into Go value of type model.plain"},
		},
		"duration": {
			yaml: "name: r\nthen: {timeout: soon}\n",
			want: []string{`2: then.timeout: invalid duration "soon": use units like 250ms, 5s, 1m`},
		},
		"object too large, at its heaviest field": {
			yaml: "name: r\ngateway: g\nthen:\n  respond: {status: 200, body: " + strings.Repeat("<", model.MaxObjectBytes/6) + "}\n",
			want: []string{fmt.Sprintf("4: then.respond.body: makes the object %d bytes; at most %d (1 MiB) are allowed",
				len(`{"gateway":"g","name":"r","then":{"respond":{"body":"","status":200}}}`)+6*(model.MaxObjectBytes/6), model.MaxObjectBytes)},
		},
		"alias": {yaml: "name: &n r\ngateway: *n\n" + then},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var r model.Route
			got := problemList(strictjson.DecodeNode(parseNode(t, tt.yaml), &r, "kind"))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestDecodeNodeValues checks the values a route decodes to from YAML
// are those of the same route decoded from its JSON.
func TestDecodeNodeValues(t *testing.T) {
	const src = "kind: Route\nname: r\ngateway: g\npriority: 0o17\n" +
		"when: {all: [{field: host, op: equals, value: 1}, {not: {field: path, op: in, values: [/a, /b]}}]}\n" +
		"then:\n  timeout: 1.5\n  forward:\n  - {upstream: u, weight: 90}\n  - {upstream: v, weight: 10}\n  mirror: {upstream: m, percent: 12.5}\n"
	var fromYAML model.Route
	if ps := strictjson.DecodeNode(parseNode(t, src), &fromYAML, "kind"); len(ps) > 0 {
		t.Fatal(problemList(ps))
	}
	var fromJSON model.Route
	err := strictjson.Decode([]byte(`{"name":"r","gateway":"g","priority":15,
		"when":{"all":[{"field":"host","op":"equals","value":"1"},{"not":{"field":"path","op":"in","values":["/a","/b"]}}]},
		"then":{"timeout":1.5,"forward":[{"upstream":"u","weight":90},{"upstream":"v","weight":10}],"mirror":{"upstream":"m","percent":12.5}}}`), &fromJSON)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Errorf("from YAML %#v\nfrom JSON %#v", fromYAML, fromJSON)
	}
	if fromYAML.Then.Timeout.Std() != 1500*time.Millisecond {
		t.Errorf("timeout %v", fromYAML.Then.Timeout)
	}
}

// TestDecodeNodeHostile: a mapping of a hundred thousand repeated keys
// costs a read of it, not a search of every earlier key for each.
func TestDecodeNodeHostile(t *testing.T) {
	src := "name: r\n" + strings.Repeat("gateway: g\n", 100_000)
	var r model.Route
	start := time.Now()
	ps := strictjson.DecodeNode(parseNode(t, src), &r)
	// 99,999 problems, of which a bounded answer keeps the first.
	if len(ps) != 101 || ps[0].Field != "gateway" || ps[0].Message != "duplicate key" || ps[0].Ends ||
		ps[100].Message != "stopped after 100 problems" || !ps[100].Ends {
		t.Fatalf("%d problems, first %v, last %v", len(ps), ps[0], ps[len(ps)-1])
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

type numbers struct {
	Small  int8              `json:"small"`
	Count  uint16            `json:"count"`
	Ratio  float32           `json:"ratio"`
	Labels map[string]string `json:"labels"`
	ByCode map[int]string    `json:"byCode"`
	Extra  any               `json:"extra"`
}

// TestDecodeNodeKinds covers the kinds the model's objects have few of:
// sized numbers, maps and values of any shape.
func TestDecodeNodeKinds(t *testing.T) {
	tests := map[string]struct {
		yaml string
		want []string
		val  numbers
	}{
		"values": {
			yaml: "small: -128\ncount: 65535\nratio: 0.5\nlabels: {a: 1}\nbyCode: {404: gone}\nextra: {n: 1, l: [x, true, null]}\n",
			val: numbers{Small: -128, Count: 65535, Ratio: 0.5, Labels: map[string]string{"a": "1"}, ByCode: map[int]string{404: "gone"},
				Extra: map[string]any{"n": 1.0, "l": []any{"x", true, nil}}},
		},
		"out of range": {
			yaml: "small: 128\ncount: 65536\nratio: 1e39\n",
			want: []string{"1: small: the number 128 is out of range", "2: count: the number 65536 is out of range", "3: ratio: the number 1e+39 is out of range"},
		},
		"negative for an unsigned field": {
			yaml: "count: -1\n",
			want: []string{"1: count: expected a non-negative integer, got -1"},
		},
		"map key not an integer": {
			yaml: "byCode: {x: gone}\n",
			want: []string{"1: byCode.x: key must be an integer"},
		},
		"duplicate map key": {
			yaml: "labels:\n  a: 1\n  a: 2\n",
			want: []string{"3: labels.a: duplicate key"},
		},
		"wrong shapes": {
			yaml: "labels: [a]\nratio: x\nsmall: {}\n",
			want: []string{"1: labels: expected a mapping, got a list", `2: ratio: expected a number, got "x"`, "3: small: expected an integer, got a mapping"},
		},
		"no JSON form": {
			yaml: "ratio: .nan\n",
			want: []string{"1: : unsupported value: NaN"},
		},
		"nested past the JSON limit": {
			yaml: "extra: " + strings.Repeat("[", model.MaxJSONDepth) + strings.Repeat("]", model.MaxJSONDepth) + "\n",
			want: []string{fmt.Sprintf("1: extra%s: nested more than %d levels deep", strings.Repeat("[0]", model.MaxJSONDepth-1), model.MaxJSONDepth)},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var v numbers
			got := problemList(strictjson.DecodeNode(parseNode(t, tt.yaml), &v))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if strings.HasPrefix(name, "nested") {
				// As the JSON decoder says of the same document.
				body := `{"extra":` + strings.Repeat("[", model.MaxJSONDepth) + strings.Repeat("]", model.MaxJSONDepth) + `}`
				fields := model.ErrorFields(strictjson.Decode([]byte(body), &numbers{}))
				if len(fields) != 1 || "1: "+fields[0].Field+": "+fields[0].Message != got[0] {
					t.Errorf("JSON decoder: %v", fields)
				}
			}
			if len(tt.want) == 0 && !reflect.DeepEqual(v, tt.val) {
				t.Errorf("decoded %#v\nwant %#v", v, tt.val)
			}
		})
	}
}

// TestDecodeNodeBounded: past maxProblems problems of shape the answer is
// cut, and its last problem says the value is not whole.
func TestDecodeNodeBounded(t *testing.T) {
	for _, keys := range []int{100, 101, 150} {
		var b strings.Builder
		b.WriteString("name: r\n")
		for i := range keys {
			fmt.Fprintf(&b, "bogus%d: 1\n", i)
		}
		var r model.Route
		ps := strictjson.DecodeNode(parseNode(t, b.String()), &r)
		ends := slices.ContainsFunc(ps, func(p strictjson.NodeProblem) bool { return p.Ends })
		switch {
		case keys <= 100 && (len(ps) != keys || ends):
			t.Errorf("%d unknown keys: %d problems, ends %v", keys, len(ps), ends)
		case keys > 100 && (len(ps) != 101 || !ps[100].Ends || ps[100].Message != "stopped after 100 problems"):
			t.Errorf("%d unknown keys: %d problems, last %+v", keys, len(ps), ps[len(ps)-1])
		}
	}
}
