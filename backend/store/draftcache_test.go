package store_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// A reader that comes between a write's commit and the cache of what it
// committed, or whose transaction began just before the commit, is served
// from the kept draft: under a steady stream of writes, readers land there
// all the time, and decoding the whole draft for each is what made a
// server's latency and memory grow with the rate of writes.
func TestDraftReadsAroundACommitDecodeNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		// heldReader: the reader is held after reading the generation
		// until the write committed; otherwise the write is held after
		// its commit until the reader read the generation.
		heldReader bool
	}{
		{name: "reader between commit and cache", heldReader: false},
		{name: "reader of the generation before", heldReader: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := seeded(t)
			mustCreate(t, s, route("r1", "public", "web", 0))
			if _, err := s.GatewayDraft(ctx, "public"); err != nil {
				t.Fatal(err)
			}
			decodes := store.DraftDecodesForTest(s)

			type read struct {
				ws  model.Workspace
				err error
			}
			got := make(chan read, 1)
			readDraft := func() {
				ws, err := s.GatewayDraft(ctx, "public")
				got <- read{ws, err}
			}
			var armed atomic.Bool
			seen := make(chan int64, 1)
			proceed := make(chan struct{})
			onGeneration := func(gen int64) {
				if armed.CompareAndSwap(true, false) {
					seen <- gen
					if tc.heldReader {
						<-proceed
					}
				}
			}
			if tc.heldReader {
				store.DraftHooksForTest(s, onGeneration, nil)
				armed.Store(true)
				go readDraft()
				<-seen
			} else {
				store.DraftHooksForTest(s, onGeneration, func() {
					armed.Store(true)
					go readDraft()
					<-seen
				})
			}

			obj, err := s.Get(ctx, model.KindRoute, "r1")
			if err != nil {
				t.Fatal(err)
			}
			r := obj.(*model.Route)
			r.Description = "edited"
			if err := s.Update(ctx, "t", r); err != nil {
				t.Fatal(err)
			}
			close(proceed)
			res := <-got
			store.DraftHooksForTest(s, nil, nil)
			if res.err != nil {
				t.Fatal(res.err)
			}
			want := "edited" // the reader saw the committed generation
			if tc.heldReader {
				want = "" // the reader's transaction began before the write
			}
			if len(res.ws.Routes) != 1 || res.ws.Routes[0].Description != want {
				t.Fatalf("read %s, want route r1 described %q", fmt.Sprint(res.ws.Routes), want)
			}
			if n := store.DraftDecodesForTest(s) - decodes; n != 0 {
				t.Fatalf("the draft was decoded %d times, want it served from memory", n)
			}
		})
	}
}
