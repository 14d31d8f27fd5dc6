package discovery

import (
	"context"
	"reflect"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// TestStaticReportsOnceAndReturns: a static upstream's watch reports its
// endpoints, sorted, weight 0 read as 1, and returns without waiting for
// its context to end, so no goroutine stays parked per upstream.
func TestStaticReportsOnceAndReturns(t *testing.T) {
	up := model.Upstream{Meta: model.Meta{Name: "web"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{
		{Address: "10.0.0.2", Port: 80},
		{Address: "10.0.0.1", Port: 80, Weight: 3},
	}}}
	var got []Update
	// A context that never ends: Watch must return on its own.
	if err := (Static{}).Watch(context.Background(), up, func(u Update) { got = append(got, u) }); err != nil {
		t.Fatal(err)
	}
	want := []Update{{Endpoints: []Endpoint{
		{Address: "10.0.0.1", Port: 80, Weight: 3, Healthy: true, Health: HealthUnknown, Source: SourceStatic},
		{Address: "10.0.0.2", Port: 80, Weight: 1, Healthy: true, Health: HealthUnknown, Source: SourceStatic},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reports %+v, want %+v", got, want)
	}
	if err := (Static{}).Watch(context.Background(), model.Upstream{Meta: model.Meta{Name: "dns"}}, func(Update) {}); err == nil {
		t.Fatal("an upstream without static endpoints was watched")
	}
}
