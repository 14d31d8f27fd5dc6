package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

func TestCreateAndGet(t *testing.T) {
	tests := map[string]struct {
		obj      model.Object
		wantCode string
		field    string // wanted field of the first problem
	}{
		"gateway":            {obj: gateway("internal")},
		"upstream":           {obj: upstream("shop")},
		"route":              {obj: route("home", "public", "web", 5)},
		"existing name":      {obj: upstream("web"), wantCode: model.ECONFLICT},
		"empty name":         {obj: upstream(""), wantCode: model.EINVALID, field: "name"},
		"unknown upstream":   {obj: route("r", "public", "nope", 0), wantCode: model.EINVALID, field: "then.forward[0].upstream"},
		"unknown gateway":    {obj: route("r", "private", "web", 0), wantCode: model.EINVALID, field: "gateway"},
		"invalid on its own": {obj: &model.Upstream{Meta: model.Meta{Name: "empty"}}, wantCode: model.EINVALID},
		"unparsed condition text": {obj: &model.Route{Meta: model.Meta{Name: "t"}, Gateway: "public",
			When: model.Condition{Text: `host == "a.com"`},
			Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}}, wantCode: model.EINVALID, field: "when"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := seeded(t)
			revs, audits := counts(t, s)
			before := time.Now().UTC()
			err := s.Create(ctx, "alice", tt.obj)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode != "" {
				if tt.field != "" {
					fields := model.ErrorFields(err)
					if len(fields) == 0 || fields[0].Field != tt.field {
						t.Errorf("want problem at %q, got %v", tt.field, fields)
					}
				}
				if r, a := counts(t, s); r != revs || a != audits {
					t.Errorf("refused create recorded revisions %d->%d, audit %d->%d", revs, r, audits, a)
				}
				return
			}
			m := tt.obj.ObjectMeta()
			if m.Version != 1 || m.UpdatedBy != "alice" || m.UpdatedAt.Before(before) {
				t.Errorf("meta not filled in: %+v", m)
			}
			got, err := s.Get(ctx, tt.obj.Kind(), m.Name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.obj, got); diff != "" {
				t.Errorf("stored object differs (-created +got):\n%s", diff)
			}
			if r, a := counts(t, s); r != revs+1 || a != audits+1 {
				t.Errorf("want one more revision and audit entry, got revisions %d->%d, audit %d->%d", revs, r, audits, a)
			}
		})
	}
}

func TestGetErrors(t *testing.T) {
	s := seeded(t)
	tests := map[string]struct {
		kind, name, code string
	}{
		"missing":      {kind: model.KindRoute, name: "nope", code: model.ENOTFOUND},
		"unknown kind": {kind: "Widget", name: "web", code: model.EINVALID},
		"wrong kind":   {kind: model.KindGateway, name: "web", code: model.ENOTFOUND},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := s.Get(ctx, tt.kind, tt.name)
			wantCode(t, err, tt.code)
		})
	}
}

func TestUpdate(t *testing.T) {
	tests := map[string]struct {
		edit     func(r *model.Route)
		wantCode string
	}{
		"current version": {edit: func(r *model.Route) { r.Priority = 50 }},
		"stale version":   {edit: func(r *model.Route) { r.Version = 1 }, wantCode: model.ECONFLICT},
		"future version":  {edit: func(r *model.Route) { r.Version = 9 }, wantCode: model.ECONFLICT},
		"missing":         {edit: func(r *model.Route) { r.Name = "ghost" }, wantCode: model.ENOTFOUND},
		"now invalid":     {edit: func(r *model.Route) { r.Then.Forward[0].Upstream = "nope" }, wantCode: model.EINVALID},
		"move gateway":    {edit: func(r *model.Route) { r.Gateway = "other" }},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := seeded(t)
			r := route("home", "public", "web", 1)
			mustCreate(t, s, gateway("other"), r)
			r.Priority = 2
			if err := s.Update(ctx, "alice", r); err != nil { // now at version 2
				t.Fatal(err)
			}
			edited := *r
			edited.Then.Forward = append([]model.Backend(nil), r.Then.Forward...)
			tt.edit(&edited)
			err := s.Update(ctx, "bob", &edited)
			wantCode(t, err, tt.wantCode)
			got, gerr := s.Get(ctx, model.KindRoute, "home")
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tt.wantCode != "" {
				if diff := cmp.Diff(model.Object(r), got); diff != "" {
					t.Errorf("refused update changed the stored route:\n%s", diff)
				}
				if tt.wantCode == model.ECONFLICT && !strings.Contains(err.Error(), "current version is 2") {
					t.Errorf("conflict message should name both versions: %v", err)
				}
				return
			}
			if edited.Version != 3 || got.ObjectMeta().Version != 3 || got.ObjectMeta().UpdatedBy != "bob" {
				t.Errorf("want version 3 by bob, got %+v (returned %+v)", got.ObjectMeta(), edited.Meta)
			}
			if diff := cmp.Diff(model.Object(&edited), got); diff != "" {
				t.Errorf("stored route differs:\n%s", diff)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	tests := map[string]struct {
		kind, name string
		version    int64
		wantCode   string
		wantMsg    string
	}{
		"route at version":       {kind: model.KindRoute, name: "home", version: 1},
		"route without check":    {kind: model.KindRoute, name: "home", version: 0},
		"stale version":          {kind: model.KindRoute, name: "home", version: 7, wantCode: model.ECONFLICT, wantMsg: "current version is 1, given version 7"},
		"missing":                {kind: model.KindRoute, name: "ghost", wantCode: model.ENOTFOUND},
		"unused upstream":        {kind: model.KindUpstream, name: "api"},
		"upstream still used":    {kind: model.KindUpstream, name: "web", wantCode: model.EINVALID, wantMsg: "home, shadow"},
		"gateway still used":     {kind: model.KindGateway, name: "public", wantCode: model.EINVALID, wantMsg: "home, shadow"},
		"unknown kind":           {kind: "Widget", name: "x", wantCode: model.EINVALID},
		"mirror keeps it in use": {kind: model.KindUpstream, name: "mirror", wantCode: model.EINVALID, wantMsg: "shadow"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := seeded(t)
			shadow := route("shadow", "public", "web", 0)
			shadow.Then.Mirror = &model.Mirror{Upstream: "mirror", Percent: 5}
			mustCreate(t, s, upstream("mirror"), route("home", "public", "web", 0), shadow)
			revs, _ := counts(t, s)
			err := s.Delete(ctx, "carol", tt.kind, tt.name, tt.version)
			wantCode(t, err, tt.wantCode)
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q should mention %q", err, tt.wantMsg)
			}
			_, gerr := s.Get(ctx, tt.kind, tt.name)
			r, _ := counts(t, s)
			switch {
			case tt.wantCode == "" && model.ErrorCode(gerr) != model.ENOTFOUND:
				t.Errorf("deleted object still there: %v", gerr)
			case tt.wantCode == "" && r != revs+1:
				t.Errorf("want one delete revision, got %d->%d", revs, r)
			case tt.wantCode != "" && tt.wantCode != model.ENOTFOUND && tt.kind != "Widget" && gerr != nil:
				t.Errorf("refused delete removed the object: %v", gerr)
			case tt.wantCode != "" && r != revs:
				t.Errorf("refused delete recorded a revision")
			}
		})
	}
}

func TestApply(t *testing.T) {
	s := seeded(t)
	mustCreate(t, s, route("keep", "public", "web", 0), route("change", "public", "web", 0))
	changed := route("change", "public", "api", 0)
	changed.Version = 99 // ignored by apply
	res, err := s.Apply(ctx, "dave", model.Workspace{
		Upstreams: []model.Upstream{*upstream("web"), *upstream("new-up")},
		Routes:    []model.Route{*route("keep", "public", "web", 0), *changed, *route("fresh", "public", "new-up", 3)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ApplyResult{
		{Kind: "Upstream", Name: "web", Action: "unchanged", Version: 1},
		{Kind: "Upstream", Name: "new-up", Action: "created", Version: 1},
		{Kind: "Route", Name: "keep", Action: "unchanged", Version: 1},
		{Kind: "Route", Name: "change", Action: "updated", Version: 2},
		{Kind: "Route", Name: "fresh", Action: "created", Version: 1},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("apply results (-want +got):\n%s", diff)
	}
	got, err := s.Get(ctx, model.KindRoute, "change")
	if err != nil || got.(*model.Route).Then.Forward[0].Upstream != "api" || got.ObjectMeta().UpdatedBy != "dave" {
		t.Errorf("change not applied: %+v %v", got, err)
	}
}

// TestApplyWritesNothingOnError applies a file whose last route is invalid
// (an unknown upstream, refused by model.Workspace.Validate) and checks that
// none of the valid objects before it were written.
func TestApplyWritesNothingOnError(t *testing.T) {
	tests := map[string]struct {
		ws         model.Workspace
		wantFields []string
	}{
		"unknown upstream in last route": {
			ws: model.Workspace{
				Gateways:  []model.Gateway{*gateway("edge")},
				Upstreams: []model.Upstream{*upstream("fresh")},
				Routes:    []model.Route{*route("ok", "edge", "fresh", 0), *route("bad", "edge", "missing", 0)},
			},
			wantFields: []string{"routes[1].then.forward[0].upstream"},
		},
		"every problem reported": {
			ws: model.Workspace{
				Upstreams: []model.Upstream{{Meta: model.Meta{Name: "no-source"}}},
				Routes:    []model.Route{*route("a", "nowhere", "web", 0), *route("b", "public", "missing", 0)},
			},
			wantFields: []string{"routes[0].gateway", "routes[1].then.forward[0].upstream", "upstreams[0]"},
		},
		"duplicate in the file": {
			ws: model.Workspace{
				Upstreams: []model.Upstream{*upstream("dup"), *upstream("dup")},
			},
			wantFields: []string{"upstreams[1].name"},
		},
		"update breaking an existing route": {
			ws: model.Workspace{
				Routes: []model.Route{*route("uses-api", "public", "api", 0)},
				// api replaced by something invalid
				Upstreams: []model.Upstream{{Meta: model.Meta{Name: "api"}, DNS: &model.DNSSource{Host: "", Port: 80}}},
			},
			wantFields: []string{"upstreams[0].dns.host"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := seeded(t)
			wsBefore, err := s.Workspace(ctx)
			if err != nil {
				t.Fatal(err)
			}
			revs, audits := counts(t, s)
			_, err = s.Apply(ctx, "eve", tt.ws)
			wantCode(t, err, model.EINVALID)
			var fields []string
			for _, f := range model.ErrorFields(err) {
				fields = append(fields, f.Field)
			}
			for _, w := range tt.wantFields {
				found := false
				for _, f := range fields {
					found = found || strings.HasPrefix(f, w)
				}
				if !found {
					t.Errorf("want a problem at %s, got %q", w, fields)
				}
			}
			wsAfter, err := s.Workspace(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wsBefore, wsAfter); diff != "" {
				t.Errorf("refused apply changed the draft:\n%s", diff)
			}
			if r, a := counts(t, s); r != revs || a != audits {
				t.Errorf("refused apply recorded revisions %d->%d, audit %d->%d", revs, r, audits, a)
			}
		})
	}
}

// TestBrokenDraftCanBeRepaired stores a draft that does not validate (as a
// stricter Validate after an upgrade could find) and checks that writes
// which add no problem still go through, while a write adding one does not.
func TestBrokenDraftCanBeRepaired(t *testing.T) {
	s := seeded(t)
	mustCreate(t, s, route("a", "public", "web", 0), route("b", "public", "web", 0))
	// Simulate the upgrade: break both routes behind the store's back.
	if n := store.RawWriteForTest(t, s, `UPDATE objects SET spec = replace(spec, '"web"', '"gone"') WHERE kind = 'Route'`); n != 2 {
		t.Fatalf("broke %d routes, want 2", n)
	}
	a, err := s.Get(ctx, model.KindRoute, "a")
	if err != nil {
		t.Fatal(err)
	}
	a.(*model.Route).Then.Forward[0].Upstream = "web"
	if err := s.Update(ctx, "fixer", a); err != nil {
		t.Fatalf("repairing one of two broken routes was refused: %v", err)
	}
	err = s.Create(ctx, "fixer", route("c", "public", "also-gone", 0))
	wantCode(t, err, model.EINVALID)
	if f := model.ErrorFields(err); len(f) != 1 || f[0].Field != "then.forward[0].upstream" {
		t.Errorf("want only the new problem, got %v", f)
	}
}

func TestList(t *testing.T) {
	s := seeded(t)
	mustCreate(t, s, gateway("internal"), upstream("images"))
	mk := func(name, gw, up string, prio int, when model.Condition, desc string) *model.Route {
		r := route(name, gw, up, prio)
		r.When, r.Description = when, desc
		return r
	}
	mirrored := mk("mirrored", "internal", "api", 1, model.Condition{}, "")
	mirrored.Then.Mirror = &model.Mirror{Upstream: "images"}
	mustCreate(t, s,
		mk("shop", "public", "web", 10, model.And(model.Pred("host", "equals", "Shop.Example.com"), model.Pred("path", "prefix", "/")), "the shop"),
		mk("wild", "public", "web", 10, model.Pred("host", "equals", "*.example.com"), ""),
		mk("listed", "public", "api", 20, model.Condition{Field: "host", Op: "in", Values: []string{"a.test", "b.test"}}, "API for tests"),
		mk("negated", "public", "images", 5, model.Not(model.Pred("host", "equals", "shop.example.com")), ""),
		mk("suffix", "public", "images", 5, model.Pred("host", "suffix", ".img.example.com"), ""),
		mirrored,
	)
	tests := map[string]struct {
		kind      string
		opt       store.ListOptions
		want      []string
		wantTotal int
	}{
		"routes in rule order":   {kind: model.KindRoute, want: []string{"mirrored", "listed", "shop", "wild", "negated", "suffix"}},
		"gateway":                {kind: model.KindRoute, opt: store.ListOptions{Gateway: "internal"}, want: []string{"mirrored"}},
		"upstream forward":       {kind: model.KindRoute, opt: store.ListOptions{Upstream: "api"}, want: []string{"mirrored", "listed"}},
		"upstream mirror":        {kind: model.KindRoute, opt: store.ListOptions{Upstream: "images"}, want: []string{"mirrored", "negated", "suffix"}},
		"host exact any case":    {kind: model.KindRoute, opt: store.ListOptions{Host: "SHOP.example.com"}, want: []string{"shop", "wild", "negated"}},
		"host port ignored":      {kind: model.KindRoute, opt: store.ListOptions{Host: "b.test:80"}, want: []string{"listed"}},
		"host wildcard covers":   {kind: model.KindRoute, opt: store.ListOptions{Host: "x.img.example.com"}, want: []string{"wild", "suffix"}},
		"wildcard needs a label": {kind: model.KindRoute, opt: store.ListOptions{Host: "example.com"}, want: nil},
		"host wildcard itself":   {kind: model.KindRoute, opt: store.ListOptions{Host: "*.example.com"}, want: []string{"wild"}},
		"search name":            {kind: model.KindRoute, opt: store.ListOptions{Search: "SHO"}, want: []string{"shop"}},
		"search description":     {kind: model.KindRoute, opt: store.ListOptions{Search: "api for"}, want: []string{"listed"}},
		"combined":               {kind: model.KindRoute, opt: store.ListOptions{Gateway: "public", Upstream: "web", Host: "shop.example.com"}, want: []string{"shop", "wild"}},
		"page": {kind: model.KindRoute, opt: store.ListOptions{Limit: 2, Offset: 1},
			want: []string{"listed", "shop"}, wantTotal: 6},
		"page past the end":     {kind: model.KindRoute, opt: store.ListOptions{Offset: 50}, want: nil, wantTotal: 6},
		"upstreams by name":     {kind: model.KindUpstream, want: []string{"api", "images", "web"}},
		"upstreams of gateway":  {kind: model.KindUpstream, opt: store.ListOptions{Gateway: "internal"}, want: []string{"api", "images"}},
		"gateways":              {kind: model.KindGateway, want: []string{"internal", "public"}},
		"gateway filter on own": {kind: model.KindGateway, opt: store.ListOptions{Gateway: "public"}, want: []string{"public"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			objs, total, err := s.List(ctx, tt.kind, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.ObjectMeta().Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			wantTotal := tt.wantTotal
			if wantTotal == 0 {
				wantTotal = len(tt.want)
			}
			if total != wantTotal {
				t.Errorf("total %d, want %d", total, wantTotal)
			}
		})
	}
	if _, _, err := s.List(ctx, "Widget", store.ListOptions{}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("unknown kind: want invalid, got %v", err)
	}
}

func TestListLimits(t *testing.T) {
	s := seeded(t)
	ws := model.Workspace{}
	for i := 0; i < 1100; i++ {
		ws.Routes = append(ws.Routes, *route(fmt.Sprintf("r%04d", i), "public", "web", 0))
	}
	if _, err := s.Apply(ctx, "bulk", ws); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		limit, want int
	}{
		"default": {limit: 0, want: 100},
		"given":   {limit: 7, want: 7},
		"capped":  {limit: 5000, want: 1000},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			objs, total, err := s.List(ctx, model.KindRoute, store.ListOptions{Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != tt.want || total != 1100 {
				t.Errorf("got %d of %d, want %d of 1100", len(objs), total, tt.want)
			}
		})
	}
}

func TestWorkspaces(t *testing.T) {
	s := seeded(t)
	jwt := route("login", "public", "web", 1)
	jwt.Then.Auth = &model.Auth{JWT: &model.JWTAuth{Issuer: "https://issuer.example.com", JWKSURI: "https://issuer.example.com/jwks", JWKSUpstream: "idp"}}
	mustCreate(t, s, gateway("internal"), upstream("idp"), upstream("unused"), jwt,
		route("low", "public", "api", 0), route("high", "public", "web", 9), route("other", "internal", "api", 0))

	all, err := s.Workspace(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Gateways) != 2 || len(all.Upstreams) != 4 || len(all.Routes) != 4 {
		t.Errorf("whole draft: %d gateways, %d upstreams, %d routes", len(all.Gateways), len(all.Upstreams), len(all.Routes))
	}
	gw, err := s.GatewayWorkspace(ctx, "public")
	if err != nil {
		t.Fatal(err)
	}
	var routes, ups []string
	for _, r := range gw.Routes {
		routes = append(routes, r.Name)
	}
	for _, u := range gw.Upstreams {
		ups = append(ups, u.Name)
	}
	if diff := cmp.Diff([]string{"high", "login", "low"}, routes); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"api", "idp", "web"}, ups); diff != "" {
		t.Errorf("upstreams (-want +got):\n%s", diff)
	}
	if len(gw.Gateways) != 1 || gw.Gateways[0].Name != "public" {
		t.Errorf("gateways: %+v", gw.Gateways)
	}
	if err := gw.Validate(); err != nil {
		t.Errorf("a gateway workspace must validate on its own: %v", err)
	}
	_, err = s.GatewayWorkspace(ctx, "nope")
	wantCode(t, err, model.ENOTFOUND)

	// What callers get is theirs to change.
	all.Routes[0].Then.Forward[0].Upstream = "scribbled"
	again, _ := s.Workspace(ctx)
	if again.Routes[0].Then.Forward[0].Upstream == "scribbled" {
		t.Error("Workspace shares memory with the store")
	}
}

// TestConcurrentUpdates races goroutines updating the same route from the
// same version: exactly one may win each round, the others get ECONFLICT.
func TestConcurrentUpdates(t *testing.T) {
	s := seeded(t)
	mustCreate(t, s, route("hot", "public", "web", 0))
	const rounds, writers = 10, 8
	for round := 0; round < rounds; round++ {
		cur, err := s.Get(ctx, model.KindRoute, "hot")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]error, writers)
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := *cur.(*model.Route)
				r.Priority = round*100 + i
				results[i] = s.Update(ctx, fmt.Sprintf("w%d", i), &r)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range results {
			switch model.ErrorCode(err) {
			case "":
				wins++
			case model.ECONFLICT:
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1", round, wins)
		}
	}
	got, _ := s.Get(ctx, model.KindRoute, "hot")
	if v := got.ObjectMeta().Version; v != rounds+1 {
		t.Errorf("version %d after %d rounds, want %d", v, rounds, rounds+1)
	}
	_, n, _ := s.ListRevisions(ctx, store.RevisionFilter{Kind: model.KindRoute, Name: "hot"})
	if n != rounds+1 {
		t.Errorf("%d revisions of hot, want %d", n, rounds+1)
	}
}

// TestTwoStoresOneFile checks that writes through another Store on the same
// file (another process, in production) are seen, cache or not.
func TestTwoStoresOneFile(t *testing.T) {
	dir := t.TempDir()
	a, err := store.Open(ctx, dir+"/db", storetest.Keys(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, dir+"/db", storetest.Keys(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustCreate(t, a, gateway("public"), upstream("web"))
	mustCreate(t, b, route("r", "public", "web", 0)) // b has never seen a's writes
	if err := a.Delete(ctx, "x", model.KindUpstream, "web", 0); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("a must see b's route using web: %v", err)
	}
	if err := b.Delete(ctx, "x", model.KindRoute, "r", 1); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "x", model.KindUpstream, "web", 1); err != nil {
		t.Fatalf("a must see b's delete: %v", err)
	}
}
