package convert

import (
	"os"
	"path/filepath"
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
