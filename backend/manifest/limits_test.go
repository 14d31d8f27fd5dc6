package manifest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/internal/bombs"
)

// laughsRoute is a Route whose condition is a "billion laughs".
func laughsRoute(levels int) string {
	return "kind: Route\nname: lol\ngateway: public\nwhen:\n  any:\n" +
		bombs.Laughs("  ", "{field: path, op: prefix, value: /lol}", levels) +
		"then: {respond: {status: 200}}\n"
}

// TestLoadRefusesPastTheLimits loads hostile manifests: each is refused
// with one problem at its line, in about the memory of the text, and the
// good documents before it still load.
func TestLoadRefusesPastTheLimits(t *testing.T) {
	good := "kind: Upstream\nname: web\nstatic: {endpoints: [{address: 10.0.0.1, port: 80}]}\n---\n"
	tests := map[string]struct {
		data string
		want string
	}{
		"billion laughs in when": {
			data: good + laughsRoute(30),
			want: fmt.Sprintf("m.yaml:15: when.any[5][0]: YAML aliases expand to more than %d nodes, the limit", input.MaxAliasNodes),
		},
		"alias inside its own anchor": {
			data: good + "kind: Route\nname: loop\nwhen: &w {all: [*w]}\n",
			want: "m.yaml:7: when.all[0]: YAML alias *w is inside the node it refers to",
		},
		"nested past the depth limit": {
			data: good + "kind: Route\nname: deep\nwhen: " + strings.Repeat("{not: ", input.MaxDepth) + "{field: path, op: exists}" + strings.Repeat("}", input.MaxDepth) + "\n",
			want: fmt.Sprintf("m.yaml:7: when.not.not.not.not.not.not.not.not.not.not.not...: YAML nested deeper than %d levels, the limit", input.MaxDepth),
		},
		"past the size cap": {
			data: good + "kind: Route\nname: big\ndescription: " + strings.Repeat("x", input.MaxBytes) + "\n",
			want: fmt.Sprintf("m.yaml: larger than %d MiB, the limit for an input file", input.MaxBytes>>20),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			f, err := Load("m.yaml", []byte(tt.data))
			runtime.ReadMemStats(&after)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			}
			if model.ErrorCode(err) != model.EINVALID {
				t.Errorf("code %q, want invalid", model.ErrorCode(err))
			}
			if len(tt.data) <= input.MaxBytes && len(f.Workspace.Upstreams) != 1 {
				t.Errorf("the document before the bad one was not loaded")
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
		})
	}
}

// TestLoadAnchorsWithinTheLimits keeps what anchors are for: sharing a
// block between routes.
func TestLoadAnchorsWithinTheLimits(t *testing.T) {
	data := `kind: Route
name: a
gateway: public
when:
  any:
  - &admin {all: [{field: path, op: prefix, value: /admin}, {field: method, op: equals, value: GET}]}
  - {all: [*admin, {field: "header[x-debug]", op: present}]}
then: {respond: {status: 200}}
`
	f, err := Load("a.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if rs := f.Workspace.Routes; len(rs) != 1 || len(rs[0].When.Any) != 2 || len(rs[0].When.Any[1].All[0].All) != 2 {
		t.Errorf("aliases not followed: %+v", rs)
	}
}
