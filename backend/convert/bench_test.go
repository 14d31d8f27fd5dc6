package convert

import (
	"testing"

	"github.com/routedeck/routedeck/bench/workload"
)

// BenchmarkGatewayAPI imports the shared corpus of 10,000 HTTPRoutes
// (1,000 hosts, 1,000 Services) and their Gateway.
func BenchmarkGatewayAPI(b *testing.B) {
	data := workload.CorpusGatewayAPI(10_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := GatewayAPI(data, workload.Gateway)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Workspace.Routes) != 10_000 {
			b.Fatalf("%d routes, report %v", len(res.Workspace.Routes), res.Report[:min(3, len(res.Report))])
		}
	}
}
