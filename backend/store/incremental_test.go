package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

// A write checks only the objects it can affect (draftrefs.go); a random
// run of writes, some of them leaving references dangling or a gateway's
// access log keeping an API key header, must be refused exactly when
// validating the whole draft before and after finds a new problem, and
// every gateway's workspace, derived from the previous generation's, must
// equal one built whole.
func TestIncrementalChecksAgreeWithWholeValidation(t *testing.T) {
	s := storetest.MustOpen(t)
	rng := rand.New(rand.NewPCG(11, 7))
	ref := map[string]model.Object{} // kind/name -> object, as the reference draft holds them
	refKey := func(kind, name string) string { return kind + "/" + name }
	pick := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(n)) }
	newRoute := func(name string) *model.Route {
		r := &model.Route{Meta: model.Meta{Name: name}, Gateway: pick("g", 3), Priority: rng.IntN(3),
			When: model.Pred(model.FieldPath, model.OpPrefix, "/"+name), Then: model.Action{Forward: []model.Backend{{Upstream: pick("u", 4)}}}}
		if rng.IntN(10) < 3 {
			r.Then.Auth = &model.Auth{APIKey: &model.APIKeyAuth{Header: "x-key", Keys: []string{"k1"}}}
		}
		if rng.IntN(10) < 2 {
			r.Then.Mirror = &model.Mirror{Upstream: pick("u", 4)}
		}
		if rng.IntN(20) == 0 {
			r.When = model.Pred(model.FieldPath, model.OpPrefix, "no-slash")
		}
		if rng.IntN(10) < 3 {
			r.Listeners = []string{pick("l", 2)}
		}
		return r
	}
	newGateway := func(name string) *model.Gateway {
		g := gateway(name)
		// Listener l0 on port 8080, and l1 on 8081 on some versions of
		// the gateway: an edit can take away a listener routes name.
		g.Listeners[0].Name = "l0"
		if rng.IntN(2) == 0 {
			g.Listeners = append(g.Listeners, model.Listener{Name: "l1", Port: 8081, Protocol: model.ProtocolHTTP})
		}
		if rng.IntN(10) < 4 {
			g.AccessLog = &model.AccessLog{RequestHeaders: []string{"X-Key"}}
		}
		return g
	}
	// wholeProblems validates the reference draft with obj set (nil: k
	// deleted) and returns its problems named by object and field.
	wholeProblems := func(k string, obj model.Object) map[string]bool {
		var ws model.Workspace
		names := map[string][]string{}
		objs := []model.Object{}
		for key, o := range ref {
			if key != k {
				objs = append(objs, o)
			}
		}
		if obj != nil {
			objs = append(objs, obj)
		}
		for _, o := range objs {
			ws.Add(o)
		}
		slices.SortFunc(ws.Gateways, func(a, b model.Gateway) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(ws.Upstreams, func(a, b model.Upstream) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(ws.Routes, func(a, b model.Route) int {
			if a.Gateway != b.Gateway {
				return strings.Compare(a.Gateway, b.Gateway)
			}
			return model.CompareRoutes(&a, &b)
		})
		for _, g := range ws.Gateways {
			names["gateways"] = append(names["gateways"], g.Name)
		}
		for _, u := range ws.Upstreams {
			names["upstreams"] = append(names["upstreams"], u.Name)
		}
		for _, r := range ws.Routes {
			names["routes"] = append(names["routes"], r.Name)
		}
		out := map[string]bool{}
		for _, f := range model.ErrorFields(ws.Validate()) {
			list, rest, _ := strings.Cut(f.Field, "[")
			idx, field, _ := strings.Cut(rest, "]")
			var i int
			fmt.Sscan(idx, &i)
			out[list+"/"+names[list][i]+"."+strings.TrimPrefix(field, ".")+": "+f.Message] = true
		}
		return out
	}
	adds := func(k string, obj model.Object) bool {
		before, after := wholeProblems("", nil), wholeProblems(k, obj)
		for p := range after {
			if !before[p] {
				return true
			}
		}
		return false
	}
	used := func(kind, name string) bool {
		for _, o := range ref {
			if r, ok := o.(*model.Route); ok {
				if kind == model.KindGateway && r.Gateway == name {
					return true
				}
				if kind == model.KindUpstream && (r.Then.Forward[0].Upstream == name || r.Then.Mirror != nil && r.Then.Mirror.Upstream == name) {
					return true
				}
			}
		}
		return false
	}
	var refused, written, withProblems int
	for step := range 400 {
		var kind, name string
		var obj model.Object
		del := false
		if step%50 == 25 {
			// An upstream goes behind the store's back, leaving its
			// routes dangling: writes must still be refused only for
			// problems they add, and coming back must clear them.
			name := pick("u", 4)
			if store.RawWriteForTest(t, s, `DELETE FROM objects WHERE kind = 'Upstream' AND name = ?`, name) == 1 {
				store.RawWriteForTest(t, s, `UPDATE draft_generation SET generation = generation + 1`)
				delete(ref, refKey(model.KindUpstream, name))
			}
		}
		switch n := rng.IntN(20); {
		case n < 12:
			kind, name = model.KindRoute, pick("r", 20)
			obj = newRoute(name)
		case n < 14:
			kind, name, del = model.KindRoute, pick("r", 20), true
		case n < 17:
			kind, name = model.KindGateway, pick("g", 3)
			obj, del = newGateway(name), rng.IntN(3) == 0
		default:
			kind, name = model.KindUpstream, pick("u", 4)
			obj, del = upstream(name), rng.IntN(2) == 0
		}
		k := refKey(kind, name)
		_, exists := ref[k]
		var err error
		var wantRefused bool
		switch {
		case del && !exists:
			continue
		case del:
			wantRefused = kind != model.KindRoute && used(kind, name) || adds(k, nil)
			err = s.Delete(ctx, "t", kind, name, 0)
		case exists:
			cur, gerr := s.Get(ctx, kind, name)
			if gerr != nil {
				t.Fatal(gerr)
			}
			obj.ObjectMeta().Version = cur.ObjectMeta().Version
			wantRefused = adds(k, obj)
			err = s.Update(ctx, "t", obj)
		default:
			wantRefused = adds(k, obj)
			err = s.Create(ctx, "t", obj)
		}
		if (err != nil) != wantRefused {
			t.Fatalf("step %d: %s %s %q (delete %v): store answered %v, whole validation says refused=%v", step, kind, name, name, del, err, wantRefused)
		}
		if err != nil {
			wantCode(t, err, model.EINVALID)
			refused++
			continue
		}
		written++
		if del {
			delete(ref, k)
		} else {
			ref[k] = obj
		}
		if got, want := store.DraftProblemsForTest(s), wholeProblems("", nil); got != nil && !cmp.Equal(got, want) {
			t.Fatalf("step %d: the draft's problems as kept:\n%v\nas a whole validation finds them:\n%v", step, got, want)
		}
		if len(store.DraftProblemsForTest(s)) > 0 {
			withProblems++
		}
		// Gateways read after every write, every fourth and every
		// seventh: a workspace is derived across one write and across
		// several.
		for n, g := range []string{"g0", "g1", "g2"} {
			if _, ok := ref[refKey(model.KindGateway, g)]; !ok || written%[]int{1, 4, 7}[n] != 0 {
				continue
			}
			got, err := s.GatewayDraft(ctx, g)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(store.GatewayDraftBuiltForTest(t, s, g), got); diff != "" {
				t.Fatalf("step %d: gateway %s's workspace differs from one built whole:\n%s", step, g, diff)
			}
		}
	}
	if refused < 20 || written < 100 || withProblems < 20 {
		t.Errorf("%d writes refused, %d made, %d of them on a draft with problems: the run exercises too little", refused, written, withProblems)
	}
}

// Readers take gateway workspaces (derived from the previous generation's)
// while a writer edits routes: each read is a whole, ordered workspace of
// some generation (run with -race).
func TestGatewayDraftWhileWriting(t *testing.T) {
	s := seeded(t)
	for i := range 50 {
		mustCreate(t, s, route(fmt.Sprintf("r%02d", i), "public", "web", i%5))
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-done:
				return
			default:
			}
			ws, err := s.GatewayDraft(ctx, "public")
			if err == nil && len(ws.Routes) != 50 {
				err = fmt.Errorf("%d routes, want 50", len(ws.Routes))
			}
			for i := 1; err == nil && i < len(ws.Routes); i++ {
				if model.CompareRoutes(&ws.Routes[i-1], &ws.Routes[i]) >= 0 {
					err = fmt.Errorf("routes %s and %s out of rule order", ws.Routes[i-1].Name, ws.Routes[i].Name)
				}
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	for i := range 100 {
		obj, err := s.Get(ctx, model.KindRoute, fmt.Sprintf("r%02d", i%50))
		if err != nil {
			t.Fatal(err)
		}
		r := obj.(*model.Route)
		r.Priority = (r.Priority + 3) % 7
		if err := s.Update(ctx, "t", r); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	got, err := s.GatewayDraft(ctx, "public")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(store.GatewayDraftBuiltForTest(t, s, "public"), got); diff != "" {
		t.Fatalf("after the writes the gateway's workspace differs from one built whole:\n%s", diff)
	}
}
