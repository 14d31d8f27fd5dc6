package sim

import (
	"fmt"
	"strings"
	"testing"
)

// benchTable builds one virtual host with n routes of the given kind.
func benchTable(b *testing.B, n int, kind string) *Router {
	var sb strings.Builder
	sb.WriteString("virtual_hosts:\n- name: vh\n  domains: [example.com, \"*.example.org\"]\n  routes:\n")
	for i := 0; i < n; i++ {
		var m string
		switch kind {
		case "prefix":
			m = fmt.Sprintf(`{prefix: "/svc%d/"}`, i)
		case "exact":
			m = fmt.Sprintf(`{path: "/api/v1/item%d"}`, i)
		case "regex":
			m = fmt.Sprintf(`{safe_regex: {regex: "/r%d/[0-9]+"}}`, i)
		case "header":
			m = fmt.Sprintf(`{prefix: "/", headers: [{name: x-tenant, string_match: {exact: "t%d"}}]}`, i)
		}
		fmt.Fprintf(&sb, "  - match: %s\n    route: {cluster: c%d}\n", m, i)
	}
	r, err := New(parseConfig(b, sb.String()), Options{})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkMatch10k(b *testing.B) {
	cases := []struct {
		name, kind, path string
		headers          []string
		want             int
	}{
		{"prefix/first", "prefix", "/svc0/x", nil, 0},
		{"prefix/last", "prefix", "/svc9999/x?q=1", nil, 9999},
		{"prefix/miss", "prefix", "/nomatch/x", nil, -1},
		{"exact/first", "exact", "/api/v1/item0", nil, 0},
		{"exact/last", "exact", "/api/v1/item9999", nil, 9999},
		{"exact/miss", "exact", "/api/v1/item10000", nil, -1},
		{"regex/first", "regex", "/r0/12", nil, 0},
		{"regex/last", "regex", "/r9999/12", nil, 9999},
		{"regex/miss", "regex", "/r9999/x", nil, -1},
		{"header-linear/last", "header", "/", []string{"x-tenant", "t9999"}, 9999},
	}
	tables := map[string]*Router{}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := tables[c.kind]
			if r == nil {
				r = benchTable(b, 10000, c.kind)
				tables[c.kind] = r
			}
			rq := NewRequest("GET", "Example.COM", c.path, c.headers...)
			sel := r.Match(rq, 0)
			got := -1
			if sel.Route != nil {
				got = sel.Route.Index
			}
			if got != c.want {
				b.Fatalf("matched route %d, want %d", got, c.want)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.Match(rq, 0)
			}
		})
	}
}

func BenchmarkRoute(b *testing.B) {
	r := benchTable(b, 10000, "prefix")
	rq := NewRequest("GET", "example.com", "/svc5000/x", "x-forwarded-proto", "http")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Route(rq, 0)
	}
}
