package convert

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

// TestGatewayAPINamesNeverCollide: HTTPRoutes and GRPCRoutes whose names
// share a long prefix, in namespaces whose names do too, with several
// rules, matches and hostnames, import to routes whose names are all
// distinct and valid, and each keeps its name when the others change.
func TestGatewayAPINamesNeverCollide(t *testing.T) {
	long := strings.Repeat("storefront-checkout-", 3) // 60 characters
	doc := func(extra bool) []byte {
		var sb strings.Builder
		for _, ns := range []string{long + "a", long + "b"} {
			for _, name := range []string{long + "x", long + "y", "x"} {
				for _, kind := range []string{"HTTPRoute", "GRPCRoute"} {
					if kind == "GRPCRoute" && name == "x" && !extra {
						continue
					}
					fmt.Fprintf(&sb, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: %s\nmetadata: {name: %s, namespace: %s}\n", kind, name, ns)
					sb.WriteString("spec:\n  parentRefs: [{name: public}]\n  hostnames: [a.example.com, b.example.com]\n  rules:\n")
					for r := range 2 {
						if kind == "HTTPRoute" {
							fmt.Fprintf(&sb, "  - matches: [{path: {type: PathPrefix, value: /r%d}}, {path: {type: Exact, value: /e%d}}]\n    backendRefs: [{name: svc, port: 8080}]\n", r, r)
						} else {
							fmt.Fprintf(&sb, "  - matches: [{method: {service: s%d.Svc, method: M}}, {method: {service: s%d.Svc, method: N}}]\n    backendRefs: [{name: grpc, port: 9000}]\n", r, r)
						}
					}
				}
			}
		}
		return []byte(sb.String())
	}
	names := func(in []byte) map[string]bool {
		res, err := GatewayAPI(in, "public")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, r := range res.Workspace.Routes {
			if out[r.Name] {
				t.Fatalf("two routes are named %s", r.Name)
			}
			if len(r.Name) > 63 || !validName.MatchString(r.Name) {
				t.Errorf("route name %q is not a valid name", r.Name)
			}
			out[r.Name] = true
		}
		return out
	}
	first := names(doc(false))
	// 2 namespaces x (3 HTTPRoutes + 2 GRPCRoutes) x 2 rules x 2 matches x 2 hostnames.
	if len(first) != 80 {
		t.Fatalf("%d routes, want 80", len(first))
	}
	again := names(doc(true))
	for n := range first {
		if !again[n] {
			t.Errorf("route %s is named differently once other routes are added", n)
		}
	}
	if len(again) != len(first)+16 {
		t.Errorf("%d routes after adding two GRPCRoutes, want %d", len(again), len(first)+16)
	}
}
