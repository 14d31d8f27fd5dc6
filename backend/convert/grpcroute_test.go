package convert

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
	kubepub "github.com/routedeck/routedeck/backend/publish/kubernetes"
	"github.com/routedeck/routedeck/backend/rules"
)

// TestGRPCRouteRoundTrip: the gRPC routes imported from GRPCRoutes export
// as GRPCRoutes again, which import back to the same conditions and
// actions.
func TestGRPCRouteRoundTrip(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "gateway.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := GatewayAPI(in, "public")
	if err != nil {
		t.Fatal(err)
	}
	ex := kubepub.ExportGatewayAPI(first.Workspace, "public", "web")
	if len(ex.GRPCRoutes) != 3 {
		t.Fatalf("%d GRPCRoutes exported, want 3; report %+v", len(ex.GRPCRoutes), ex.Report)
	}
	for _, r := range ex.Routes {
		if strings.Contains(r.Metadata.Name, ".grpc.") {
			t.Errorf("gRPC rule %s exported as an HTTPRoute", r.Metadata.Name)
		}
	}
	out, err := ex.RoutesYAML()
	if err != nil {
		t.Fatal(err)
	}
	second, err := GatewayAPI(out, "public")
	if err != nil {
		t.Fatal(err)
	}
	grpc := func(ws model.Workspace) map[string]model.Route {
		m := map[string]model.Route{}
		for _, r := range ws.Routes {
			if !strings.Contains(r.Description, "GRPCRoute") {
				continue
			}
			// The exported route is named after the rule: match them by
			// what they do.
			m[rules.Format(r.When)+" -> "+r.Then.Forward[0].Upstream] = model.Route{When: r.When, Then: r.Then}
		}
		return m
	}
	want, got := grpc(first.Workspace), grpc(second.Workspace)
	if len(want) != 3 {
		t.Fatalf("%d gRPC routes imported, want 3", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-imported +re-imported):\n%s", diff)
	}
}

// TestListenersRoundTrip: routes attached by sectionName or port answer
// on those listeners only, export attaches them by sectionName, and the
// export imported with the same Gateway attaches them to the same
// listeners.
func TestListenersRoundTrip(t *testing.T) {
	gateway := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: web}
spec:
  listeners:
  - {name: web, port: 8080, protocol: HTTP}
  - {name: admin, port: 8081, protocol: HTTP}
  - {name: alt, port: 8082, protocol: HTTP}
`
	routes := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: console, namespace: web}
spec:
  parentRefs: [{name: public, sectionName: admin}, {name: public, port: 8082}]
  rules: [{matches: [{path: {type: PathPrefix, value: /console}}], backendRefs: [{name: console, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: web}
spec:
  parentRefs: [{name: public}]
  rules: [{backendRefs: [{name: site, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: web}
spec:
  parentRefs: [{name: public, port: 8080}]
  rules: [{matches: [{method: {service: echo.Echo}}], backendRefs: [{name: echo, port: 9000}]}]
`
	attached := func(ws model.Workspace) map[string][]string {
		m := map[string][]string{}
		for _, r := range ws.Routes {
			m[r.Then.Forward[0].Upstream] = r.Listeners
		}
		return m
	}
	first, err := GatewayAPI([]byte(gateway+"---\n"+routes), "public")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"console-web-80": {"admin", "alt"}, "site-web-80": nil, "echo-web-9000": {"web"}}
	if diff := cmp.Diff(want, attached(first.Workspace)); diff != "" {
		t.Fatalf("imported listeners (-want +got):\n%s\nreport: %+v", diff, first.Report)
	}
	if err := first.Workspace.Validate(); err != nil {
		t.Fatalf("imported workspace: %v", err)
	}
	ex := kubepub.ExportGatewayAPI(first.Workspace, "public", "web")
	out, err := ex.RoutesYAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"sectionName: admin", "sectionName: alt", "sectionName: web"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("export has no %q:\n%s", s, out)
		}
	}
	second, err := GatewayAPI([]byte(gateway+"---\n"+string(out)), "public")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, attached(second.Workspace)); diff != "" {
		t.Errorf("re-imported listeners (-want +got):\n%s", diff)
	}
}

// TestListenersWithDifferentHostnames: a route on listeners of several
// ports with different hostnames matches their union on each port, and
// the report says so.
func TestListenersWithDifferentHostnames(t *testing.T) {
	in := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: web}
spec:
  listeners:
  - {name: a, port: 8080, protocol: HTTP, hostname: a.example.com}
  - {name: b, port: 8081, protocol: HTTP, hostname: b.example.com}
  - {name: c, port: 8082, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: web}
spec:
  parentRefs: [{name: public, sectionName: a}, {name: public, sectionName: b}]
  rules: [{backendRefs: [{name: site, port: 80}]}]
`
	res, err := GatewayAPI([]byte(in), "public")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, is := range res.Report {
		found = found || strings.Contains(is.Message, "several ports that accept different hostnames")
	}
	if !found {
		t.Errorf("no report of the hostnames per port: %+v", res.Report)
	}
	for _, r := range res.Workspace.Routes {
		if !slices.Equal(r.Listeners, []string{"a", "b"}) {
			t.Errorf("route %s on listeners %v, want [a b]", r.Name, r.Listeners)
		}
	}
}
