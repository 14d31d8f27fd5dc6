package manifest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
)

func load(t *testing.T, name string) (*File, error) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return Load(name, data)
}

func TestLoadGood(t *testing.T) {
	f, err := load(t, "good.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ws := f.Workspace
	if len(ws.Gateways) != 1 || len(ws.Upstreams) != 1 || len(ws.Routes) != 2 {
		t.Fatalf("got %d gateways, %d upstreams, %d routes", len(ws.Gateways), len(ws.Upstreams), len(ws.Routes))
	}
	home := ws.Routes[0]
	if home.Name != "home" || home.Priority != 10 || home.When.Text != `host == "shop.example.com" && path.prefix("/")` {
		t.Errorf("home route decoded wrong: %+v", home)
	}
	if home.Then.Timeout.String() != "5s" || home.Then.Retries.PerTryTimeout.String() != "1s" {
		t.Errorf("durations: timeout %v perTry %v", home.Then.Timeout, home.Then.Retries.PerTryTimeout)
	}
	tree := ws.Routes[1].When
	if len(tree.All) != 1 || tree.All[0].Value != "1" || tree.All[0].Field != "header[x-canary]" {
		t.Errorf("tree condition decoded wrong: %+v", tree)
	}
	if ws.Upstreams[0].Static.Endpoints[0].Port != 9001 {
		t.Errorf("endpoint port: %+v", ws.Upstreams[0].Static)
	}
}

func TestLoadBadReportsEveryProblem(t *testing.T) {
	f, err := load(t, "bad.yaml")
	// The gateway and the route have problems of single fields only: they
	// are kept, for the checks of the rest, those fields at zero.
	if f == nil || len(f.Workspace.Objects()) != 2 || !f.Partial("gateways", 0) || !f.Partial("routes", 0) ||
		f.Workspace.Routes[0].Then.Timeout != 0 || f.Workspace.Routes[0].Then.Forward[0].Upstream != "web" {
		t.Errorf("want the gateway and the route decoded in part: %+v", f)
	}
	var merr *Error
	if !errors.As(err, &merr) {
		t.Fatalf("want *Error, got %v", err)
	}
	var got []string
	for _, p := range merr.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`bad.yaml:4: listeners[0].port: expected an integer, got "eighty"`,
		`bad.yaml:9: prority: unknown field`,
		`bad.yaml:13: then.forward[0].weight: expected an integer, got "heavy"`,
		`bad.yaml:14: then.timeout: invalid duration "soon": use units like 250ms, 5s, 1m`,
		`bad.yaml:16: name: required`,
		`bad.yaml:19: kind: unknown kind "Widget": use one of Secret, Gateway, Upstream, Route`,
		`bad.yaml:22: document must be a mapping with kind and name`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if model.ErrorCode(err) != model.EINVALID {
		t.Errorf("code = %q, want invalid", model.ErrorCode(err))
	}
}

func TestLoadSyntaxError(t *testing.T) {
	_, err := Load("x.yaml", []byte("kind: Route\nname: a\nthen: [\n"))
	var merr *Error
	if !errors.As(err, &merr) || len(merr.Problems) != 1 || merr.Problems[0].Line == 0 {
		t.Fatalf("want one located syntax problem, got %v", err)
	}
}

func TestExplain(t *testing.T) {
	f, err := load(t, "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		field string
		want  string
	}{
		"route field":        {"routes[0].then.forward[0].upstream", "good.yaml:20: then.forward[0].upstream: m"},
		"second route":       {"routes[1].when.all[0].value", "good.yaml:29: when.all[0].value: m"},
		"missing leaf":       {"routes[1].then.respond.headers", "good.yaml:31: then.respond.headers: m"},
		"gateway":            {"gateways[0].listeners[0].port", "good.yaml:4: listeners[0].port: m"},
		"out of range":       {"routes[9].name", "good.yaml: routes[9].name: m"},
		"not a list path":    {"name", "good.yaml: name: m"},
		"keyed field inside": {"upstreams[0].static.endpoints[0].port", "good.yaml:10: static.endpoints[0].port: m"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := f.Explain(&model.Error{Code: model.EINVALID, Fields: []model.FieldError{{Field: tc.field, Message: "m"}}})
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
	if f.Explain(nil) != nil {
		t.Error("Explain(nil) != nil")
	}
}

func TestPartialFileAndMerge(t *testing.T) {
	data := "kind: Upstream\nname: u\nstatic: {endpoints: []}\nbogus: 1\n---\nkind: Route\nname: r\ngateway: g\n"
	f, err := Load("p.yaml", []byte(data))
	if err == nil || f == nil || len(f.Workspace.Routes) != 1 || len(f.Workspace.Upstreams) != 1 ||
		f.Partial("routes", 0) || !f.Partial("upstreams", 0) {
		t.Fatalf("want both decoded beside the error, the upstream in part: %v %+v", err, f)
	}
	later := f.Explain(&model.Error{Code: model.EINVALID, Fields: []model.FieldError{{Field: "routes[0].gateway", Message: "unknown gateway"}}})
	got := Merge(later, err, nil)
	want := "p.yaml:4: bogus: unknown field\np.yaml:8: gateway: unknown gateway"
	if got == nil || got.Error() != want {
		t.Errorf("Merge = %v, want\n%s", got, want)
	}
	if Merge(nil, nil) != nil {
		t.Error("Merge of nothing is not nil")
	}
}

// TestLoadLimits: the strict decoder's bounds hold for files too, and its
// problems are placed on the line they are about.
func TestLoadLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: Route\nname: deep\ngateway: g\nthen: {forward: [{upstream: u}]}\nwhen:\n")
	indent := "  "
	for i := 0; i < 202; i++ {
		b.WriteString(indent + "not:\n")
		indent += "  "
	}
	b.WriteString(indent + "field: host\n" + indent + "op: present\n")
	_, err := Load("deep.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "condition nested more than 200 levels deep") {
		t.Fatalf("got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "deep.yaml:207: when.not") {
		t.Errorf("not placed on the line of the 202nd level (207): %.80s", err)
	}
}

// TestBrokenRoutesBetweenGood: the routes that decode keep their order
// around those that do not (here: hit a limit), and a path into the
// workspace still finds its document.
func TestBrokenRoutesBetweenGood(t *testing.T) {
	var b strings.Builder
	for i := range 6 {
		fmt.Fprintf(&b, "---\nkind: Route\nname: r%d\ngateway: g\n", i)
		if i%3 == 1 {
			b.WriteString("when: " + strings.Repeat("{not: ", 201) + "{field: host, op: present}" + strings.Repeat("}", 201) + "\n")
		}
	}
	f, err := Load("m.yaml", []byte(b.String()))
	if err == nil || strings.Count(err.Error(), "condition nested more than 200 levels deep") != 2 {
		t.Fatalf("err = %.300v", err)
	}
	var names []string
	for _, r := range f.Workspace.Routes {
		names = append(names, r.Name)
	}
	if strings.Join(names, " ") != "r0 r2 r3 r5" {
		t.Errorf("routes %v", names)
	}
	if line, _ := f.Locate("routes[2].gateway"); line != 17 {
		t.Errorf("routes[2].gateway at line %d, want 17", line)
	}
}
