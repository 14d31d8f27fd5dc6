package lint

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

// workspace has gateways a and b, each with a rate-limited rule matching
// two hosts (so its limit counts in two buckets: a note) and upstream web.
func workspace() model.Workspace {
	ws := model.Workspace{
		Gateways:  []model.Gateway{gw("a"), gw("b")},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}},
	}
	for _, g := range []string{"a", "b"} {
		ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: "limited-" + g}, Gateway: g, Priority: 10,
			When: model.Or(model.Pred(model.FieldHost, model.OpEquals, "x.example.com"), model.Pred(model.FieldHost, model.OpEquals, "y.example.com")),
			Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}, RateLimit: &model.RateLimit{Requests: 10, Per: model.Duration(time.Second)}}})
	}
	return ws
}

func gw(name string) model.Gateway {
	return model.Gateway{Meta: model.Meta{Name: name}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}
}

func open(t *testing.T) (*store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st := storetest.MustOpenAt(t, filepath.Join(dir, "routedeck.db"), storetest.Keys(t, dir))
	if _, err := st.Apply(t.Context(), "test", workspace()); err != nil {
		t.Fatal(err)
	}
	return st, dir
}

// computed is how many reports of gateway the cache computed so far: each
// one translates once for its rate-limit notes.
func (c *Cache) computed(gateway string) int64 {
	return c.translators.For(gateway).Stats().Translations
}

func TestCacheKeepsReportsUntilAChangeTouchesThem(t *testing.T) {
	st, dir := open(t)
	ctx := t.Context()
	c := New(st)
	defer c.Close()
	report := func(gateway string) Report {
		t.Helper()
		r, err := c.Report(ctx, gateway)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := report("a"); len(r.Notes) != 1 || r.Notes[0].Rule != "limited-a" {
		t.Fatalf("report of a: %+v, want the rate-limit note of limited-a", r)
	}
	report("b")
	report("a")
	if c.computed("a") != 1 || c.computed("b") != 1 {
		t.Fatalf("computed a %d, b %d times; want once each", c.computed("a"), c.computed("b"))
	}

	// A rule of b shadowed by limited-b: b's report changes, a's is kept.
	shadow := model.Route{Meta: model.Meta{Name: "shadowed"}, Gateway: "b", Priority: 1,
		When: model.Pred(model.FieldHost, model.OpEquals, "x.example.com"),
		Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}}
	if err := st.Create(ctx, "test", &shadow); err != nil {
		t.Fatal(err)
	}
	if r := report("b"); len(r.Items) != 1 || r.Items[0].Rule != "shadowed" {
		t.Fatalf("report of b after the edit: %+v, want shadowed found", r)
	}
	report("a")
	if c.computed("a") != 1 || c.computed("b") != 2 {
		t.Fatalf("after an edit of b: computed a %d, b %d times; want 1 and 2", c.computed("a"), c.computed("b"))
	}

	// An upstream may matter to every gateway.
	obj, err := st.Get(ctx, model.KindUpstream, "web")
	if err != nil {
		t.Fatal(err)
	}
	up := obj.(*model.Upstream)
	up.Static.Endpoints[0].Port = 81
	if err := st.Update(ctx, "test", up); err != nil {
		t.Fatal(err)
	}
	report("a")
	if c.computed("a") != 2 {
		t.Fatalf("after an upstream edit a was computed %d times, want 2", c.computed("a"))
	}

	// A write by another process on the same database is not announced
	// here: the skipped generation makes every report stale.
	other := storetest.MustOpenAt(t, filepath.Join(dir, "routedeck.db"), storetest.Keys(t, dir))
	if err := other.Delete(ctx, "test", model.KindRoute, "shadowed", 0); err != nil {
		t.Fatal(err)
	}
	if r := report("b"); len(r.Items) != 0 {
		t.Fatalf("report of b after another process removed the shadowed rule: %+v", r)
	}
	report("a") // the next in-process write's generation skips one
	if err := st.Create(ctx, "test", &model.Route{Meta: model.Meta{Name: "other"}, Gateway: "b", Priority: 1,
		When: model.Pred(model.FieldHost, model.OpEquals, "z.example.com"), Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}}); err != nil {
		t.Fatal(err)
	}
	before := c.computed("a")
	report("a")
	if c.computed("a") != before+1 {
		t.Fatal("a write after an unannounced one kept a's report")
	}
}

func TestDeletedGatewayIsForgotten(t *testing.T) {
	st, _ := open(t)
	ctx := context.Background()
	c := New(st)
	defer c.Close()
	if _, err := c.Report(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "test", model.KindRoute, "limited-b", 0); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "test", model.KindGateway, "b", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Report(ctx, "b"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("report of a deleted gateway: %v, want ENOTFOUND", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.reports["b"]; ok {
		t.Fatal("the deleted gateway's report is kept")
	}
}

// ReportUpTo lints a gateway of at most its bound, and for a larger one
// answers the report kept since the last change or nothing, linting
// nothing.
func TestReportUpToLintsOnlySmallGateways(t *testing.T) {
	st, _ := open(t)
	ctx := t.Context()
	c := New(st)
	defer c.Close()
	upTo := func(max int) bool {
		t.Helper()
		rep, ok, err := c.ReportUpTo(ctx, "a", max)
		if err != nil {
			t.Fatal(err)
		}
		if ok && len(rep.Notes) != 1 {
			t.Fatalf("report of a: %+v, want its rate-limit note", rep)
		}
		return ok
	}
	if upTo(0) || c.computed("a") != 0 {
		t.Fatalf("a gateway of one route over a bound of 0 was linted (%d reports)", c.computed("a"))
	}
	if !upTo(1) || c.computed("a") != 1 {
		t.Fatalf("a gateway of one route within a bound of 1 was not linted (%d reports)", c.computed("a"))
	}
	if !upTo(0) || c.computed("a") != 1 {
		t.Fatal("the kept report was not answered, or computed again")
	}
	obj, err := st.Get(ctx, model.KindRoute, "limited-a")
	if err != nil {
		t.Fatal(err)
	}
	obj.(*model.Route).Priority = 11
	if err := st.Update(ctx, "test", obj); err != nil {
		t.Fatal(err)
	}
	if upTo(0) || c.computed("a") != 1 {
		t.Fatal("after a change the stale report was answered, or the gateway linted over its bound")
	}
}
