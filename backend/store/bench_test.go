package store_test

import (
	"fmt"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
	"github.com/routedeck/routedeck/bench/workload"
)

// BenchmarkStore10k measures writes and lists against a draft of 10,000
// routes over 100 upstreams and 10 gateways. A write checks what it can
// affect, not the whole draft, so Create and Update should cost about what
// they cost on a small draft; EditPublish is a one-route edit and the
// publish of its gateway (1,000 routes) as the release service records it.
func BenchmarkStore10k(b *testing.B) {
	s := storetest.MustOpen(b)
	var ws model.Workspace
	for g := 0; g < 10; g++ {
		ws.Gateways = append(ws.Gateways, *gateway(fmt.Sprintf("gw%d", g)))
	}
	for u := 0; u < 100; u++ {
		ws.Upstreams = append(ws.Upstreams, *upstream(fmt.Sprintf("up%d", u)))
	}
	for i := 0; i < 10000; i++ {
		r := route(fmt.Sprintf("r%05d", i), fmt.Sprintf("gw%d", i%10), fmt.Sprintf("up%d", i%100), i%50)
		r.When = model.And(model.Pred("host", "equals", fmt.Sprintf("h%d.example.com", i%500)), r.When)
		ws.Routes = append(ws.Routes, *r)
	}
	if _, err := s.Apply(ctx, "bench", ws); err != nil {
		b.Fatal(err)
	}
	next := 0
	b.Run("Create", func(b *testing.B) {
		for b.Loop() {
			next++
			if err := s.Create(ctx, "bench", route(fmt.Sprintf("new%06d", next), "gw1", "up1", 0)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Update", func(b *testing.B) {
		obj, err := s.Get(ctx, model.KindRoute, "r00042")
		if err != nil {
			b.Fatal(err)
		}
		r := obj.(*model.Route)
		for b.Loop() {
			r.Priority++
			if err := s.Update(ctx, "bench", r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EditPublish", func(b *testing.B) { editPublish(b, s, "r00043") })
	lists := map[string]store.ListOptions{
		"List/page":     {Limit: 100, Offset: 5000},
		"List/gateway":  {Gateway: "gw3", Limit: 100},
		"List/upstream": {Upstream: "up7"},
		"List/host":     {Host: "h7.example.com"},
		"List/search":   {Search: "r0999"},
	}
	for name, opt := range lists {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.List(ctx, model.KindRoute, opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEditPublish10k is a one-route edit of a 10,000-route gateway and
// its publish as the release service records it (the gateway's workspace
// from the draft, the version written): what the store adds to a publish
// after an edit, which should follow the edit, not the gateway.
func BenchmarkEditPublish10k(b *testing.B) {
	s := storetest.MustOpen(b)
	ws := model.Workspace{Gateways: []model.Gateway{*gateway("gw")}}
	for u := 0; u < 1000; u++ {
		ws.Upstreams = append(ws.Upstreams, *upstream(fmt.Sprintf("up%d", u)))
	}
	for i := 0; i < 10000; i++ {
		r := route(fmt.Sprintf("r%05d", i), "gw", fmt.Sprintf("up%d", i%1000), i%50)
		r.When = model.And(model.Pred("host", "equals", fmt.Sprintf("h%d.example.com", i%1000)), r.When)
		ws.Routes = append(ws.Routes, *r)
	}
	if _, err := s.Apply(ctx, "bench", ws); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Publish(ctx, "bench", "gw", ""); err != nil {
		b.Fatal(err)
	}
	editPublish(b, s, "r00043")
}

func editPublish(b *testing.B, s *store.Store, name string) {
	obj, err := s.Get(ctx, model.KindRoute, name)
	if err != nil {
		b.Fatal(err)
	}
	r := obj.(*model.Route)
	for b.Loop() {
		r.Description += "x"
		if err := s.Update(ctx, "bench", r); err != nil {
			b.Fatal(err)
		}
		ws, err := s.GatewayDraft(ctx, r.Gateway)
		if err != nil {
			b.Fatal(err)
		}
		if _, unchanged, err := s.PublishWorkspace(ctx, "bench", r.Gateway, "", ws); err != nil || unchanged {
			b.Fatal(err, unchanged)
		}
	}
}

// BenchmarkPublishCold measures recording the first version of a
// 10,000-route gateway (workload.Workspace, the bench harness's), what a
// cold publish spends in the store: every object encoded, hashed and
// written, in a fresh database each time.
func BenchmarkPublishCold(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := storetest.MustOpen(b)
		if _, err := s.Apply(ctx, "bench", workload.Workspace(10000, 1000, 1000)); err != nil {
			b.Fatal(err)
		}
		ws, err := s.GatewayDraft(ctx, workload.Gateway)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := s.PublishWorkspace(ctx, "bench", workload.Gateway, "", ws); err != nil {
			b.Fatal(err)
		}
	}
}
