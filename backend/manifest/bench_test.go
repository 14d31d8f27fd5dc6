package manifest

import (
	"testing"

	"github.com/routedeck/routedeck/bench/workload"
)

// BenchmarkLoad loads the shared corpus of 10,000 routes (1,000 hosts,
// 1,000 upstreams) from a manifest, as apply -f does before it validates.
func BenchmarkLoad(b *testing.B) {
	data := workload.CorpusYAML(10_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Load("corpus.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Workspace.Routes) != 10_000 {
			b.Fatalf("%d routes", len(f.Workspace.Routes))
		}
	}
}
