package translate

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
)

// TestLoadAssignmentsRebuildsOnlyWhatChanged: after a translation, an
// endpoint change of one upstream rebuilds that upstream's assignment
// alone, translates no rule, and gives what a fresh translation with the
// new endpoints gives.
func TestLoadAssignmentsRebuildsOnlyWhatChanged(t *testing.T) {
	ws := benchWorkspace(200, 20, 10)
	tr := NewTranslator()
	opts := Options{Endpoints: map[string][]model.Endpoint{"svc-0002": {{Address: "10.1.0.1", Port: 80}}}}
	if _, err := tr.Translate(ws, "bench", opts); err != nil {
		t.Fatal(err)
	}
	before := tr.Stats()
	if before.Translations != 1 || before.Routes != 200 || before.Clusters != int64(len(ws.Upstreams)) {
		t.Fatalf("first translation stats %+v, want 1 translation of 200 rules and %d clusters", before, len(ws.Upstreams))
	}

	opts.Endpoints = map[string][]model.Endpoint{"svc-0002": {{Address: "10.1.0.1", Port: 80}, {Address: "10.1.0.2", Port: 80}}}
	clas, err := tr.LoadAssignments(ws.Upstreams, opts)
	if err != nil {
		t.Fatal(err)
	}
	after := tr.Stats()
	if after.Routes != before.Routes || after.Translations != before.Translations || after.Clusters != before.Clusters {
		t.Fatalf("endpoint change translated something: %+v -> %+v", before, after)
	}
	if after.LoadAssignments != 1 {
		t.Fatalf("%d load assignments rebuilt, want 1", after.LoadAssignments)
	}
	fresh, err := Gateway(ws, "bench", opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(clas) != len(fresh.Endpoints) {
		t.Fatalf("%d load assignments, a fresh translation has %d", len(clas), len(fresh.Endpoints))
	}
	for i := range clas {
		if !proto.Equal(clas[i], fresh.Endpoints[i]) {
			t.Errorf("load assignment %s differs from a fresh translation", fresh.Endpoints[i].ClusterName)
		}
	}

	// The next translation reuses the rebuilt assignment and every rule.
	if _, err := tr.Translate(ws, "bench", opts); err != nil {
		t.Fatal(err)
	}
	if s := tr.Stats(); s.Routes != before.Routes || s.Clusters != before.Clusters {
		t.Fatalf("translation after the endpoint change rebuilt work: %+v", s)
	}
}

func TestTranslatorsOnePerGateway(t *testing.T) {
	var ts Translators
	a := ts.For("a")
	if ts.For("a") != a || ts.For("b") == a {
		t.Fatal("For must return one Translator per gateway")
	}
	ts.Forget("a")
	if ts.For("a") == a {
		t.Fatal("Forget kept the Translator")
	}
}
