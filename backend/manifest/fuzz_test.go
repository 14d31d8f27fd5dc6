package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/input"
)

// FuzzLoad feeds the loader arbitrary bytes. It must never panic, must
// answer every input with a file and either no error or located problems,
// and must place every document it decoded; the input limits keep each
// run bounded however the bytes nest or alias.
//
// The seeds are small on purpose: the fuzzer shrinks every new
// interesting input, and shrinking a long one takes most of a short run.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"",
		"kind: Gateway\nname: g\nlisteners:\n- {name: h, port: 8080, protocol: HTTP}\n",
		"kind: Upstream\nname: u\nstatic:\n  endpoints:\n  - {address: 10.0.0.1, port: 80, weight: 2}\n",
		"kind: Route\nname: r\ngateway: g\npriority: 10\nwhen: host == \"a.example\" && path.prefix(\"/\")\nthen:\n  forward: [{upstream: u, weight: 1}]\n  timeout: 5s\n  retries: {attempts: 2, perTryTimeout: 1s}\n",
		"kind: Route\nname: t\nwhen:\n  all:\n  - {field: \"header[x]\", op: equals, value: 1}\nthen:\n  respond: {status: 200, headers: {a: b}}\n",
		"kind: Widget\nname: w\n---\nkind: Route\nprority: 1\n",
		"---\n---\n",
		"kind: Route\nname: a\nwhen: &w {all: [*w]}\n",
		laughsRoute(3),
		"kind: Route\nname: d\nwhen: " + strings.Repeat("{not: ", 40) + "{}" + strings.Repeat("}", 40) + "\n",
		"kind: Route\nname: m\n<<: {gateway: g}\nthen: {forward: [{upstream: u, weight: 1e99}]}\n",
		`{"kind": "Gateway", "name": "g", "listeners": [{"name": "h", "port": 8080, "protocol": "HTTP"}]}`,
		"kind: Upstream\nname: u\nstatic: {endpoints: [{address: 10.0.0.1, port: !!str 80}]}\n",
		"kind: Secret\nname: s\ntls: {certificate: |\n  x\n}\n",
		"- kind: Route\n- 1\n",
		"kind: Route\nname: [a]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Load("fuzz.yaml", data)
		if file == nil {
			t.Fatal("no file returned")
		}
		if len(data) > input.MaxBytes && err == nil {
			t.Fatalf("%d bytes, past the %d-byte input limit, were accepted", len(data), input.MaxBytes)
		}
		if err != nil {
			var merr *Error
			if !errors.As(err, &merr) || len(merr.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			for _, p := range merr.Problems {
				if p.File != "fuzz.yaml" || p.Line < 0 || p.Message == "" {
					t.Fatalf("badly formed problem %+v", p)
				}
			}
		}
		for list, docs := range file.byList {
			for i := range docs {
				if line, _ := file.Locate(fmt.Sprintf("%s[%d].name", list, i)); line <= 0 {
					t.Fatalf("%s[%d] decoded but has no line", list, i)
				}
			}
		}
	})
}
