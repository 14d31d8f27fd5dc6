package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoadOnePass: a document's field problems do not hide the problems
// the checks of its other fields find, and those checks say nothing about
// a field that did not decode (its zero value is not what the file says).
// A document that hit a limit is not checked further.
func TestLoadOnePass(t *testing.T) {
	const route = "kind: Route\nname: r\n"
	tests := map[string]struct {
		yaml string
		want []string
	}{
		"unknown field, bad duration and unknown references": {
			yaml: route + "gateway: g\ncolour: red\nthen:\n  forward: [{upstream: u}]\n  timeout: soon\n",
			want: []string{
				`x.yaml:3: gateway: unknown gateway "g"`,
				`x.yaml:4: colour: unknown field`,
				`x.yaml:6: then.forward[0].upstream: unknown upstream "u"`,
				`x.yaml:7: then.timeout: invalid duration "soon": use units like 250ms, 5s, 1m`,
			},
		},
		"a field of the wrong shape is not also required": {
			yaml: route + "gateway: g\nthen: [x]\n",
			want: []string{
				`x.yaml:3: gateway: unknown gateway "g"`,
				`x.yaml:4: then: expected a mapping, got a list`,
			},
		},
		"a miscased key is not also missing": {
			yaml: route + "Gateway: g\nthen:\n  forward: [{upstream: u}]\n",
			want: []string{
				`x.yaml:3: Gateway: unknown field (did you mean "gateway"?)`,
				`x.yaml:5: then.forward[0].upstream: unknown upstream "u"`,
			},
		},
		"a misspelt key is not also missing": {
			yaml: route + "gatway: g\nthen:\n  forward: [{upstream: u}]\n",
			want: []string{
				`x.yaml:3: gatway: unknown field`,
				`x.yaml:5: then.forward[0].upstream: unknown upstream "u"`,
			},
		},
		"a value left at zero is not also out of range": {
			yaml: "kind: Upstream\nname: u\nstatic: {endpoints: [{address: 1.2.3.4, port: http}]}\nbogus: 1\n",
			want: []string{
				`x.yaml:3: static.endpoints[0].port: expected an integer, got "http"`,
				`x.yaml:4: bogus: unknown field`,
			},
		},
		"a limit ends the checks": {
			yaml: route + "gateway: g\ncolour: red\nwhen: " + strings.Repeat("{not: ", 201) + "{field: host, op: present}" + strings.Repeat("}", 201) + "\n",
			want: []string{
				`x.yaml:4: colour: unknown field`,
				`x.yaml:5: when` + strings.Repeat(".not", 201) + `: condition nested more than 200 levels deep`,
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := Load("x.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("Load: no problems")
			}
			all := Merge(err, f.Explain(f.Workspace.Validate()))
			var got []string
			for _, p := range all.(*Error).Problems {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
