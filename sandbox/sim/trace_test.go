package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTrace(t *testing.T) {
	r := mustRouter(t, vhostWith(`  - {name: api, match: {prefix: /api}, route: {cluster: api}}
  - {name: beta, match: {prefix: /, headers: [{name: x-beta, present_match: true}]}, route: {cluster: beta}}
  - {name: web, match: {prefix: /}, route: {cluster: web}}
  - {name: never, match: {prefix: /}, route: {cluster: never}}
`), Options{})
	d := route(t, r, req("h", "/home"), 0)
	want := []RouteTrace{
		{Index: 0, Name: "api", Path: `prefix "/api"`, Failed: `prefix "/api"`},
		{Index: 1, Name: "beta", Path: `prefix "/"`, Failed: "x-beta present_match=true"},
		{Index: 2, Name: "web", Path: `prefix "/"`, Matched: true},
	}
	if diff := cmp.Diff(want, d.Trace); diff != "" {
		t.Fatalf("trace (-want +got):\n%s", diff)
	}
	if d.Route != "web" || d.RouteIndex != 2 || d.Kind != KindCluster {
		t.Fatalf("decision %+v", d)
	}
}

// TestTraceLargeTable checks that big tables trace only the routes whose
// path could match, and count the others.
func TestTraceLargeTable(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "  - {match: {prefix: /s%d/, headers: [{name: x, present_match: true}]}, route: {cluster: c%d}}\n", i, i)
	}
	b.WriteString("  - {match: {prefix: /s500/}, route: {cluster: hit}}\n")
	r := mustRouter(t, vhostWith(b.String()), Options{})
	d := route(t, r, req("h", "/s500/x"), 0)
	if d.Cluster != "hit" || len(d.Trace) != 2 || d.TraceSkipped != 999 {
		t.Fatalf("cluster %q, %d traced, %d skipped; want hit, 2, 999", d.Cluster, len(d.Trace), d.TraceSkipped)
	}
	if d.Trace[0].Index != 500 || d.Trace[0].Failed != "x present_match=true" {
		t.Fatalf("first traced route %+v", d.Trace[0])
	}
}
