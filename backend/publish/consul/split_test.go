package consul

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
)

// bigWorkspace is gateway gw with n routes spread over ups upstreams, the
// first of which uses a CA secret; tag goes into every route's path so two
// versions differ in every route.
func bigWorkspace(gw string, n, ups int, tag string) model.Workspace {
	ca := model.Secret{Meta: model.Meta{Name: gw + "-ca"}, CA: "ca " + tag}
	ws := model.Workspace{Secrets: []model.Secret{ca}, Gateways: []model.Gateway{gateway(gw)}}
	for i := range ups {
		u := upstream(fmt.Sprintf("%s-u%02d", gw, i))
		if i == 0 {
			u.TLS = &model.UpstreamTLS{CASecret: ca.Name}
		}
		ws.Upstreams = append(ws.Upstreams, u)
	}
	for i := range n {
		r := routeOf(gw, fmt.Sprintf("%s-r%03d", gw, i), ws.Upstreams[i%ups].Name)
		r.When.Value = fmt.Sprintf("/%s/%d", tag, i)
		ws.Routes = append(ws.Routes, r)
	}
	return ws
}

// batchLog records the content transactions of publishes.
type batchLog struct {
	mu  sync.Mutex
	ops []int // operations of each transaction, in order
}

func (l *batchLog) hook(_ int, ops api.KVTxnOps) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, len(ops))
	return nil
}

func (l *batchLog) take() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.ops
	l.ops = nil
	return out
}

func readBack(t *testing.T, kv *KV, gw string, want model.Workspace) {
	t.Helper()
	entries, err := kv.ReadGateway(context.Background(), gw)
	if err != nil {
		t.Fatalf("read back %s: %v", gw, err)
	}
	if diff := cmp.Diff(want, Workspace(entries)); diff != "" {
		t.Fatalf("read back %s (-want +got):\n%s", gw, diff)
	}
}

func hasCommitRecord(t *testing.T, client *api.Client, gw string) bool {
	t.Helper()
	pair, _, err := client.KV().Get(DefaultPrefix+"/_commit/"+gw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pair != nil
}

func TestPublishSplitsALargeGateway(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log batchLog
	kv.beforeBatch = log.hook

	tests := map[string]struct {
		ws          model.Workspace
		wantBatches int
	}{
		// 1 secret + 2 upstreams + 59 routes + gateway + the record guard.
		"largest that fits one transaction": {bigWorkspace("fits", 59, 2, "v1"), 1},
		"one route more":                    {bigWorkspace("over", 60, 2, "v1"), 2},
		"300 routes over 40 upstreams":      {bigWorkspace("big", 300, 40, "v1"), 6},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			gw := tc.ws.Gateways[0].Name
			if err := kv.Publish(ctx, gw, tc.ws); err != nil {
				t.Fatalf("publish: %v", err)
			}
			batches := log.take()
			if len(batches) != tc.wantBatches {
				t.Fatalf("publish took transactions of %v operations, want %d of them", batches, tc.wantBatches)
			}
			for _, n := range batches {
				if n >= maxTxnOps {
					t.Fatalf("a batch of %d content operations leaves no room for the lock check", n)
				}
			}
			if got, want := hasCommitRecord(t, client, gw), tc.wantBatches > 1; got != want {
				t.Fatalf("commit record present: %v, want %v", got, want)
			}
			readBack(t, kv, gw, tc.ws)
			entries, err := kv.List(ctx)
			if err != nil {
				t.Fatalf("List with commit records in the tree: %v", err)
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Object.ObjectMeta().Name, "_") {
					t.Fatalf("List returned %v", e.Object)
				}
			}
		})
	}
}

func TestRepublishWritesOnlyWhatChanged(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := bigWorkspace("public", 300, 10, "v1")

	// Counts include the record guard of a single transaction.
	tests := map[string]struct {
		change  func(ws *model.Workspace)
		wantOps []int
	}{
		"nothing changed": {func(*model.Workspace) {}, nil},
		// The route, and as claims the unchanged upstream it uses and
		// that upstream's CA secret.
		"one route changed": {func(ws *model.Workspace) {
			ws.Routes[150].When.Value = "/changed"
		}, []int{4}},
		"one route removed": {func(ws *model.Workspace) {
			ws.Routes = slices.Delete(ws.Routes, 7, 8)
		}, []int{2}},
		"the gateway document changed": {func(ws *model.Workspace) {
			ws.Gateways[0].Listeners[0].Port = 9090
		}, []int{2}},
		"an upstream's secret changed": {func(ws *model.Workspace) {
			ws.Secrets[0].CA = "rotated"
		}, []int{2}},
		// 300 routes and, claimed, 10 upstreams and 1 secret.
		"every route changed": {func(ws *model.Workspace) {
			for i := range ws.Routes {
				ws.Routes[i].When.Value += "/v2"
			}
		}, []int{63, 63, 63, 63, 59}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
				t.Fatal(err)
			}
			if err := kv.Publish(ctx, "public", base); err != nil {
				t.Fatalf("publish the base: %v", err)
			}
			next := bigWorkspace("public", 300, 10, "v1")
			tc.change(&next)
			var log batchLog
			kv.beforeBatch = log.hook
			defer func() { kv.beforeBatch = nil }()
			if err := kv.Publish(ctx, "public", next); err != nil {
				t.Fatalf("re-publish: %v", err)
			}
			// The guard is not a content operation: a single transaction
			// shows its content operations only.
			got := log.take()
			if len(got) == 1 {
				got[0]++
			}
			if diff := cmp.Diff(tc.wantOps, got); diff != "" {
				t.Fatalf("operations per transaction (-want +got):\n%s", diff)
			}
			if len(tc.wantOps) == 1 && hasCommitRecord(t, client, "public") {
				t.Fatal("a single-transaction publish left the record of the split one before it")
			}
			readBack(t, kv, "public", next)
		})
	}
}

// pausingPublish starts publishing ws for gw in the background and stops
// it before batch at; release lets it go on (or fail with err, when not
// nil). The returned channel yields Publish's result.
func pausingPublish(ctx context.Context, kv *KV, gw string, ws model.Workspace, at int) (paused <-chan struct{}, release func(err error), result <-chan error) {
	pausedCh, releaseCh, resultCh := make(chan struct{}), make(chan error, 1), make(chan error, 1)
	kv.beforeBatch = func(batch int, _ api.KVTxnOps) error {
		if batch != at {
			return nil
		}
		close(pausedCh)
		return <-releaseCh
	}
	go func() { resultCh <- kv.Publish(ctx, gw, ws) }()
	return pausedCh, func(err error) { releaseCh <- err }, resultCh
}

func waitPaused(t *testing.T, paused <-chan struct{}, result <-chan error) {
	t.Helper()
	select {
	case <-paused:
	case err := <-result:
		t.Fatalf("publish ended before it paused: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("publish never reached its pause")
	}
}

func TestReadDuringASplitPublishNeverSeesAMix(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	old, next := bigWorkspace("public", 200, 5, "v1"), bigWorkspace("public", 200, 5, "v2")

	tests := map[string]struct {
		attempts    int
		releaseWhen string // "reader-waiting" or "reader-done"
		wantCode    string
	}{
		"the reader waits and gets the new version": {attempts: 50, releaseWhen: "reader-waiting"},
		"the reader gives up with a clear conflict": {attempts: 3, releaseWhen: "reader-done", wantCode: model.ECONFLICT},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
				t.Fatal(err)
			}
			if err := kv.Publish(ctx, "public", old); err != nil {
				t.Fatal(err)
			}
			writer := New(kv.client)
			paused, release, result := pausingPublish(ctx, writer, "public", next, 2)
			waitPaused(t, paused, result)

			reader := New(kv.client)
			reader.readAttempts, reader.readPause = tc.attempts, 20*time.Millisecond
			type read struct {
				entries []Entry
				err     error
			}
			got := make(chan read, 1)
			go func() {
				entries, err := reader.ReadGateway(ctx, "public")
				got <- read{entries, err}
			}()
			var r read
			switch tc.releaseWhen {
			case "reader-waiting":
				time.Sleep(100 * time.Millisecond) // a few of the reader's attempts
				release(nil)
				r = <-got
			case "reader-done":
				r = <-got
				release(nil)
			}
			if err := <-result; err != nil {
				t.Fatalf("the paused publish: %v", err)
			}
			wantCode(t, r.err, tc.wantCode)
			if r.err != nil {
				if !strings.Contains(r.err.Error(), "is being published") {
					t.Fatalf("error %q does not say a publish is in progress", r.err)
				}
				return
			}
			if diff := cmp.Diff(next, Workspace(r.entries)); diff != "" {
				t.Fatalf("read during the publish (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterruptedPublishReadsAsInterruptedUntilRepublished(t *testing.T) {
	kv, client := newKV(t)
	old, next := bigWorkspace("public", 200, 5, "v1"), bigWorkspace("public", 200, 5, "v2")
	small := bigWorkspace("public", 10, 2, "v3")

	tests := map[string]struct {
		stop   func(cancel context.CancelFunc, release func(error))
		repair model.Workspace
	}{
		"a batch fails, repaired by the same publish": {
			stop:   func(_ context.CancelFunc, release func(error)) { release(errors.New("agent went away")) },
			repair: next,
		},
		"the context is cancelled, repaired by a single-transaction publish": {
			stop: func(cancel context.CancelFunc, release func(error)) {
				cancel()
				release(nil)
			},
			repair: small,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
				t.Fatal(err)
			}
			if err := kv.Publish(ctx, "public", old); err != nil {
				t.Fatal(err)
			}
			writer := New(kv.client)
			pubCtx, pubCancel := context.WithCancel(ctx)
			defer pubCancel()
			paused, release, result := pausingPublish(pubCtx, writer, "public", next, 2)
			waitPaused(t, paused, result)
			tc.stop(pubCancel, release)
			err := <-result
			if err == nil || !strings.Contains(err.Error(), "2 of 4 batches committed") {
				t.Fatalf("interrupted publish returned %v, want it to say how many batches committed", err)
			}

			start := time.Now()
			_, err = kv.ReadGateway(ctx, "public")
			wantCode(t, err, model.ECONFLICT)
			if !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "publishing the gateway again repairs it") {
				t.Fatalf("read after the interruption: %q does not say it was interrupted and how to repair it", err)
			}
			if waited := time.Since(start); waited > time.Second {
				t.Fatalf("reading an interrupted publish waited %s: nothing will finish it", waited)
			}
			// Reading every gateway refuses the same way.
			_, err = kv.ReadAll(ctx)
			wantCode(t, err, model.ECONFLICT)

			if err := kv.Publish(ctx, "public", tc.repair); err != nil {
				t.Fatalf("re-publish: %v", err)
			}
			readBack(t, kv, "public", tc.repair)
		})
	}
}

func TestASecondPublisherConflictsWithASplitPublish(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	old := bigWorkspace("public", 200, 5, "v1")
	other := bigWorkspace("internal", 3, 1, "v1")

	tests := map[string]struct {
		gw       string
		ws       model.Workspace
		wantCode string
	}{
		"a split publish of the same gateway":              {"public", bigWorkspace("public", 200, 5, "v9"), model.ECONFLICT},
		"a single-transaction publish of the same gateway": {"public", bigWorkspace("public", 5, 1, "v9"), model.ECONFLICT},
		// It must not collect the upstreams the paused publish wrote for
		// routes it has not written yet.
		"another gateway": {"internal", other, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
				t.Fatal(err)
			}
			// The paused publish moves public to 100 new upstreams, so its
			// first batch writes 63 of them and nothing else: while it is
			// paused before the second, they are used by nothing.
			moved := bigWorkspace("public", 200, 100, "v2")
			for i := range moved.Upstreams {
				moved.Upstreams[i].Name += "-moved"
			}
			for i := range moved.Routes {
				moved.Routes[i].Then.Forward[0].Upstream += "-moved"
			}
			moved.Upstreams[0].TLS = nil
			moved.Secrets = nil
			if err := kv.Publish(ctx, "public", old); err != nil {
				t.Fatal(err)
			}
			writer := New(kv.client)
			paused, release, result := pausingPublish(ctx, writer, "public", moved, 1)
			waitPaused(t, paused, result)

			err := New(kv.client).Publish(ctx, tc.gw, tc.ws)
			wantCode(t, err, tc.wantCode)
			if tc.wantCode != "" && !strings.Contains(err.Error(), "in progress") {
				t.Fatalf("second publisher's error %q does not say a publish is in progress", err)
			}
			release(nil)
			if err := <-result; err != nil {
				t.Fatalf("the first publish: %v", err)
			}
			readBack(t, kv, "public", moved)
			if tc.wantCode == "" {
				readBack(t, kv, tc.gw, tc.ws)
			}
		})
	}
}

// TestPublishClaimsWhatItRefersTo checks that an unchanged upstream a newly
// written route uses is written too, so that another gateway's publish
// collecting it as unused in the meantime makes this publish conflict
// instead of leaving the route pointing at nothing.
func TestPublishClaimsWhatItRefersTo(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	tests := map[string]struct {
		routes int // a split publish past one transaction
	}{
		"single transaction": {routes: 3},
		"split publish":      {routes: 100},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
				t.Fatal(err)
			}
			// "spare" is in the tree, used by nothing.
			spare := upstream("spare")
			if _, err := kv.Put(ctx, &spare, 0); err != nil {
				t.Fatal(err)
			}
			internal := model.Workspace{Gateways: []model.Gateway{gateway("internal")}, Upstreams: []model.Upstream{upstream("web")},
				Routes: []model.Route{routeOf("internal", "admin", "web")}}
			ws := bigWorkspace("public", tc.routes, 1, "v1")
			ws.Upstreams = append(ws.Upstreams, spare)
			ws.Routes[0].Then.Forward[0].Upstream = "spare"
			// Between this publish's read and its first write, the other
			// gateway's publish collects spare.
			kv.beforeTxn = func() {
				if err := New(client).Publish(ctx, "internal", internal); err != nil {
					t.Errorf("the other gateway's publish: %v", err)
				}
				if _, err := kv.Get(ctx, model.KindUpstream, "spare"); model.ErrorCode(err) != model.ENOTFOUND {
					t.Errorf("the other gateway's publish left spare (%v); the test proves nothing", err)
				}
			}
			defer func() { kv.beforeTxn = nil }()
			wantCode(t, kv.Publish(ctx, "public", ws), model.ECONFLICT)
			kv.beforeTxn = nil
			// Read again, it publishes whole.
			if err := kv.Publish(ctx, "public", ws); err != nil {
				t.Fatalf("publish after the conflict: %v", err)
			}
			readBack(t, kv, "public", ws)
		})
	}
}

// TestSplitPublishConflictingInItsFirstBatchLeavesNoTrace checks that a
// split publish refused before anything was written puts the commit record
// back, so the gateway reads as it was rather than as interrupted.
func TestSplitPublishConflictingInItsFirstBatchLeavesNoTrace(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	next := bigWorkspace("public", 100, 5, "v2")

	tests := map[string]model.Workspace{
		"published before in one transaction": bigWorkspace("public", 5, 5, "v1"),
		"published before in batches":         bigWorkspace("public", 100, 5, "v1"),
	}
	for name, old := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
				t.Fatal(err)
			}
			if err := kv.Publish(ctx, "public", old); err != nil {
				t.Fatal(err)
			}
			recordBefore, _, err := client.KV().Get(DefaultPrefix+"/_commit/public", nil)
			if err != nil {
				t.Fatal(err)
			}
			kv.beforeBatch = func(batch int, _ api.KVTxnOps) error {
				if batch == 0 { // someone else changes an upstream this publish writes
					u := upstream("public-u03")
					e, err := kv.Get(ctx, model.KindUpstream, u.Name)
					if err != nil {
						return err
					}
					u.Consul.Service = "elsewhere"
					_, err = kv.Put(ctx, &u, e.ModifyIndex)
					return err
				}
				return nil
			}
			defer func() { kv.beforeBatch = nil }()
			err = kv.Publish(ctx, "public", next)
			wantCode(t, err, model.ECONFLICT)
			if !strings.Contains(err.Error(), "nothing was written") {
				t.Fatalf("error %q does not say nothing was written", err)
			}
			recordAfter, _, err := client.KV().Get(DefaultPrefix+"/_commit/public", nil)
			if err != nil {
				t.Fatal(err)
			}
			if (recordBefore == nil) != (recordAfter == nil) ||
				recordBefore != nil && (string(recordBefore.Value) != string(recordAfter.Value) || recordAfter.Session != "") {
				t.Fatalf("commit record before %+v, after %+v", recordBefore, recordAfter)
			}
			entries, err := kv.ReadGateway(ctx, "public")
			if err != nil {
				t.Fatalf("read after the refused publish: %v", err)
			}
			want := old
			want.Upstreams = slices.Clone(old.Upstreams)
			want.Upstreams[3].Consul = &model.ConsulSource{Service: "elsewhere"}
			if diff := cmp.Diff(want, Workspace(entries)); diff != "" {
				t.Fatalf("read after the refused publish (-want +got):\n%s", diff)
			}
		})
	}
}

// TestASplitPublishThatLostItsLockStops checks that every batch checks the
// publish still holds the commit record: once its session is gone (as when
// its TTL runs out) and another publish has repaired the gateway, the rest
// of it must not land on top, even where no key's index would stop it.
func TestASplitPublishThatLostItsLockStops(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old, next := bigWorkspace("public", 200, 5, "v1"), bigWorkspace("public", 200, 5, "v2")
	if err := kv.Publish(ctx, "public", old); err != nil {
		t.Fatal(err)
	}
	writer := New(client)
	paused, release, result := pausingPublish(ctx, writer, "public", next, 1)
	waitPaused(t, paused, result)

	rec, _, err := client.KV().Get(DefaultPrefix+"/_commit/public", nil)
	if err != nil || rec == nil || rec.Session == "" {
		t.Fatalf("commit record during the publish: %+v, %v; want it locked", rec, err)
	}
	if _, err := client.Session().Destroy(rec.Session, nil); err != nil {
		t.Fatal(err)
	}
	// The repair writes back only what the first batch changed, so the
	// keys of the later batches keep the indexes the writer read.
	if err := New(client).Publish(ctx, "public", old); err != nil {
		t.Fatalf("repair: %v", err)
	}
	release(nil)
	err = <-result
	wantCode(t, err, model.ECONFLICT)
	if !strings.Contains(err.Error(), "1 of 4 batches committed") {
		t.Fatalf("error %q does not say how many batches committed", err)
	}
	readBack(t, kv, "public", old)
}

// TestReadAll reads every published gateway: a split one and a single-
// transaction one that share an upstream come back whole, the shared
// upstream once.
func TestReadAll(t *testing.T) {
	kv, client := newKV(t)
	ctx := context.Background()
	if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
		t.Fatal(err)
	}
	if entries, err := kv.ReadAll(ctx); err != nil || len(entries) != 0 {
		t.Fatalf("empty tree: %d entries, %v", len(entries), err)
	}
	public := bigWorkspace("public", 200, 5, "v1")
	internal := bigWorkspace("internal", 3, 1, "v1")
	// internal also sends a route to one of public's upstreams.
	shared := routeOf("internal", "internal-shared", public.Upstreams[1].Name)
	shared.When.Value = "/shared"
	internal.Routes = append(internal.Routes, shared)
	internal.Upstreams = append(internal.Upstreams, public.Upstreams[1])
	for gw, ws := range map[string]model.Workspace{"public": public, "internal": internal} {
		if err := kv.Publish(ctx, gw, ws); err != nil {
			t.Fatalf("publish %s: %v", gw, err)
		}
	}
	entries, err := kv.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := Workspace(entries)
	if len(got.Gateways) != 2 || len(got.Routes) != 204 || len(got.Upstreams) != 6 || len(got.Secrets) != 2 {
		t.Fatalf("read %d gateways, %d routes, %d upstreams, %d secrets; want 2, 204, 6, 2",
			len(got.Gateways), len(got.Routes), len(got.Upstreams), len(got.Secrets))
	}
}
