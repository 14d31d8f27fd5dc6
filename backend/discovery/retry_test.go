package discovery

import (
	"context"
	"testing"
	"time"
)

func TestRetryDoublesUpToMaxAndResets(t *testing.T) {
	r := Retry{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond}
	want := []time.Duration{10, 20, 40, 40}
	for i, w := range want {
		start := time.Now()
		if !r.Wait(context.Background()) {
			t.Fatal("Wait gave up without a cancelled context")
		}
		got := time.Since(start)
		if w *= time.Millisecond; got < w || got > w+200*time.Millisecond {
			t.Errorf("wait %d took %s, want about %s", i, got, w)
		}
	}
	r.Reset()
	start := time.Now()
	r.Wait(context.Background())
	if got := time.Since(start); got > 30*time.Millisecond+200*time.Millisecond || got < 10*time.Millisecond {
		t.Errorf("wait after Reset took %s, want about 10ms", got)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Retry{Min: time.Hour}
	if r.Wait(ctx) {
		t.Fatal("Wait returned true for a cancelled context")
	}
}
