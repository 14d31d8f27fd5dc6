package events

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

func TestTopicDeliversInOrderToEverySubscriber(t *testing.T) {
	var topic Topic[int]
	a, b := topic.Subscribe(), topic.Subscribe()
	defer a.Close()
	defer b.Close()
	for i := range 5 {
		topic.Publish(i)
	}
	for name, sub := range map[string]*Subscription[int]{"a": a, "b": b} {
		got, lost, ok := sub.Next(t.Context())
		if !ok || lost != 0 || !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
			t.Errorf("%s: Next = %v, lost %d, ok %v; want 0..4, none lost", name, got, lost, ok)
		}
	}
}

func TestSubscriptionOnlySeesLaterEvents(t *testing.T) {
	var topic Topic[string]
	topic.Publish("before")
	sub := topic.Subscribe()
	defer sub.Close()
	topic.Publish("after")
	got, _, _ := sub.Next(t.Context())
	if !slices.Equal(got, []string{"after"}) {
		t.Fatalf("got %v, want [after]", got)
	}
}

func TestFullQueueDropsOldestAndSaysSo(t *testing.T) {
	var topic Topic[int]
	sub := topic.Subscribe()
	defer sub.Close()
	for i := range MaxQueue + 3 {
		topic.Publish(i)
	}
	got, lost, ok := sub.Next(t.Context())
	if !ok || lost != 3 || len(got) != MaxQueue || got[0] != 3 || got[len(got)-1] != MaxQueue+2 {
		t.Fatalf("Next: %d events from %d, lost %d; want %d from 3, lost 3", len(got), got[0], lost, MaxQueue)
	}
}

func TestCloseEndsNextAndUnsubscribes(t *testing.T) {
	var topic Topic[int]
	sub := topic.Subscribe()
	done := make(chan bool)
	go func() {
		_, _, ok := sub.Next(context.Background())
		done <- ok
	}()
	sub.Close()
	if ok := <-done; ok {
		t.Fatal("Next after Close returned ok")
	}
	if n := topic.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after Close", n)
	}
	topic.Publish(1) // no subscriber: must not block or panic
}

func TestRunRecoversFromPanicsAndCountsThem(t *testing.T) {
	var topic Topic[int]
	sub := topic.Subscribe()
	defer sub.Close()
	m := NewMetrics()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seen := make(chan int, 10)
	entered := make(chan struct{}, 10)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		Run(ctx, m, slog.New(slog.NewTextHandler(io.Discard, nil)), "test", sub, func(_ context.Context, batch []int, _ int) {
			entered <- struct{}{}
			for _, v := range batch {
				if v == 13 {
					panic("unlucky event")
				}
				seen <- v
			}
		})
	}()
	topic.Publish(13)
	// Published once the panicking batch is taken, so it is a batch of
	// its own: the runner must survive the panic and handle it.
	<-entered
	topic.Publish(1)
	if v := <-seen; v != 1 {
		t.Fatalf("after the panic the runner handled %d, want 1", v)
	}
	cancel()
	wg.Wait()
	if got := m.Panics("test"); got != 1 {
		t.Fatalf("panics counted: %v, want 1", got)
	}
	if got := m.Handled("test"); got != 2 {
		t.Fatalf("events handled: %v, want 2", got)
	}
}

func TestDraftChangedGateways(t *testing.T) {
	tests := map[string]struct {
		ev       DraftChanged
		want     []string
		wantsAll bool
	}{
		"route edit":   {ev: DraftChanged{Changed: []model.Object{&model.Route{Meta: model.Meta{Name: "r"}, Gateway: "public"}}}, want: []string{"public"}},
		"route delete": {ev: DraftChanged{Deleted: []model.Object{&model.Route{Meta: model.Meta{Name: "r"}, Gateway: "internal"}}}, want: []string{"internal"}},
		"gateway":      {ev: DraftChanged{Changed: []model.Object{&model.Gateway{Meta: model.Meta{Name: "public"}}}}, want: []string{"public"}},
		"upstream":     {ev: DraftChanged{Changed: []model.Object{&model.Upstream{Meta: model.Meta{Name: "web"}}}}, wantsAll: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, all := tc.ev.Gateways()
			var names []string
			for n := range got {
				names = append(names, n)
			}
			slices.Sort(names)
			if all != tc.wantsAll || !slices.Equal(names, tc.want) {
				t.Fatalf("Gateways() = %v, all %v; want %v, all %v", names, all, tc.want, tc.wantsAll)
			}
		})
	}
}
