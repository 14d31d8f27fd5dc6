package api

import (
	"fmt"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// BenchmarkViewRoutes renders a page of 1,000 routes the way list handlers do.
func BenchmarkViewRoutes(b *testing.B) {
	routes := make([]model.Route, 1000)
	for i := range routes {
		routes[i] = model.Route{
			Meta:     model.Meta{Name: fmt.Sprintf("r-%04d", i), Version: 3},
			Gateway:  "public",
			Priority: i,
			When: model.And(model.Pred(model.FieldHost, model.OpEquals, fmt.Sprintf("h%d.example.com", i)),
				model.Pred(model.FieldPath, model.OpPrefix, fmt.Sprintf("/p%d", i))),
			Then: model.Action{Forward: []model.Backend{{Upstream: "web", Weight: 90}, {Upstream: "web-v2", Weight: 10}}},
		}
	}
	s := &server{Deps: Deps{Fingerprinter: secrettest.Fingerprinter(b)}}
	b.ReportAllocs()
	for b.Loop() {
		for i := range routes {
			if _, err := s.view(&routes[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
