package workload

import (
	"bytes"
	"fmt"
)

// The corpus is the shape shared with other gateways' benchmarks, so their
// figures compare: n routes over n/10 hosts and n/10 upstreams, each a
// host plus a prefix, an exact path or a prefix with a header match (in
// turn), every tenth a 90/10 split over two upstreams.

// corpusRoute describes route i of a corpus of n routes.
func corpusRoute(i, n int) (host, match, path string, header bool, up, split string) {
	hosts, ups := max(1, n/10), max(1, n/10)
	host = fmt.Sprintf("h%d.example.com", i%hosts)
	path = fmt.Sprintf("/api/%d/r%d", i/hosts, i)
	match = []string{"prefix", "exact", "prefix"}[i%3]
	header = i%3 == 2
	up = fmt.Sprintf("svc-%d", i%ups)
	if i%10 == 0 {
		split = fmt.Sprintf("svc-%d", (i+1)%ups)
	}
	return
}

// CorpusYAML is the corpus of n routes as a routedeck manifest (gateway
// Gateway, its upstreams and routes, conditions in the text form).
func CorpusYAML(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "kind: Gateway\nname: %s\nlisteners:\n- {name: http, port: 8080, protocol: HTTP}\n", Gateway)
	for i := range max(1, n/10) {
		fmt.Fprintf(&b, "---\nkind: Upstream\nname: svc-%d\nstatic:\n  endpoints:\n  - {address: 10.%d.%d.1, port: 8080}\n", i, i/250, i%250)
	}
	for i := range n {
		host, match, path, header, up, split := corpusRoute(i, n)
		when := fmt.Sprintf("host == %q && path.prefix(%q)", host, path)
		if match == "exact" {
			when = fmt.Sprintf("host == %q && path == %q", host, path)
		}
		if header {
			when += fmt.Sprintf(` && header["x-tenant"] == "t%d"`, i%7)
		}
		fmt.Fprintf(&b, "---\nkind: Route\nname: route-%d\ngateway: %s\npriority: %d\nwhen: '%s'\nthen:\n", i, Gateway, i%7, when)
		if split != "" {
			fmt.Fprintf(&b, "  forward:\n  - {upstream: %s, weight: 90}\n  - {upstream: %s, weight: 10}\n", up, split)
		} else {
			fmt.Fprintf(&b, "  forward:\n  - {upstream: %s}\n", up)
		}
	}
	return b.Bytes()
}

// CorpusGatewayAPI is the corpus of n routes as Gateway API objects: a
// Gateway named Gateway and one HTTPRoute per route, backends Services.
func CorpusGatewayAPI(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: %s, namespace: bench}\nspec:\n  gatewayClassName: routedeck\n  listeners:\n  - {name: http, port: 8080, protocol: HTTP}\n", Gateway)
	for i := range n {
		host, match, path, header, up, split := corpusRoute(i, n)
		typ := "PathPrefix"
		if match == "exact" {
			typ = "Exact"
		}
		fmt.Fprintf(&b, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: route-%d, namespace: bench}\nspec:\n  parentRefs: [{name: %s}]\n  hostnames: [%q]\n  rules:\n  - matches:\n    - path: {type: %s, value: %q}\n", i, Gateway, host, typ, path)
		if header {
			fmt.Fprintf(&b, "      headers: [{name: x-tenant, value: t%d}]\n", i%7)
		}
		if split != "" {
			fmt.Fprintf(&b, "    backendRefs:\n    - {name: %s, port: 8080, weight: 90}\n    - {name: %s, port: 8080, weight: 10}\n", up, split)
		} else {
			fmt.Fprintf(&b, "    backendRefs:\n    - {name: %s, port: 8080}\n", up)
		}
	}
	return b.Bytes()
}
