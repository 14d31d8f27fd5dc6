package discovery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
)

// feedSource is a Source whose reports the test sends by hand, one feed
// per started watch.
type feedSource struct {
	mu     sync.Mutex
	feeds  map[string]chan Update // by upstream name, the latest watch
	starts map[string]int
}

func newFeedSource() *feedSource {
	return &feedSource{feeds: map[string]chan Update{}, starts: map[string]int{}}
}

func (f *feedSource) Watch(ctx context.Context, up model.Upstream, report func(Update)) error {
	ch := make(chan Update)
	f.mu.Lock()
	f.feeds[up.Name] = ch
	f.starts[up.Name]++
	f.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-ch:
			report(u)
		}
	}
}

// send delivers u to the current watch of upstream, waiting for it to start.
func (f *feedSource) send(t *testing.T, upstream string, u Update) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		f.mu.Lock()
		ch := f.feeds[upstream]
		f.mu.Unlock()
		if ch != nil {
			select {
			case ch <- u:
				return
			case <-deadline:
				t.Fatalf("watch of %s did not take the update", upstream)
			}
		}
		select {
		case <-deadline:
			t.Fatalf("no watch of %s started", upstream)
		case <-time.After(time.Millisecond):
		}
	}
}

// wantStarts waits until want watches of upstream have started, then
// checks no further one follows (watches start asynchronously).
func (f *feedSource) wantStarts(t *testing.T, upstream string, want int) {
	t.Helper()
	count := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.starts[upstream]
	}
	deadline := time.Now().Add(5 * time.Second)
	for count() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := count(); n != want {
		t.Fatalf("%s watch started %d times, want %d", upstream, n, want)
	}
}

type change struct {
	upstream string
	eps      []Endpoint
}

// recorder collects onChange calls.
type recorder chan change

func (r recorder) onChange(upstream string, eps []Endpoint) { r <- change{upstream, eps} }

func (r recorder) next(t *testing.T) change {
	t.Helper()
	select {
	case c := <-r:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no endpoint change reported")
		return change{}
	}
}

func (r recorder) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-r:
		t.Fatalf("unexpected endpoint change: %+v", c)
	case <-time.After(50 * time.Millisecond):
	}
}

func consulUpstream(name, service string) model.Upstream {
	return model.Upstream{Meta: model.Meta{Name: name}, Consul: &model.ConsulSource{Service: service}}
}

func ep(addr string, port int, healthy, stale bool) Endpoint {
	return Endpoint{Address: addr, Port: port, Weight: 1, Healthy: healthy, Source: SourceConsul, Stale: stale}
}

func newTestManager(t *testing.T) (*Manager, *feedSource, recorder) {
	src := newFeedSource()
	rec := make(recorder, 16)
	m := NewManager(map[string]Source{SourceConsul: src}, rec.onChange, slog.New(slog.DiscardHandler))
	t.Cleanup(m.Close)
	return m, src, rec
}

func TestManagerKeepsLastEndpointsWhenStale(t *testing.T) {
	m, src, rec := newTestManager(t)
	m.Sync([]model.Upstream{consulUpstream("web", "web")})

	// Reported out of order, without a source: the manager sorts and fills it in.
	src.send(t, "web", Update{Endpoints: []Endpoint{
		{Address: "10.0.0.2", Port: 80, Weight: 1, Healthy: true},
		{Address: "10.0.0.1", Port: 80, Weight: 1, Healthy: true},
	}})
	fresh := []Endpoint{ep("10.0.0.1", 80, true, false), ep("10.0.0.2", 80, true, false)}
	if diff := cmp.Diff(change{"web", fresh}, rec.next(t), cmp.AllowUnexported(change{})); diff != "" {
		t.Fatalf("first report (-want +got):\n%s", diff)
	}

	src.send(t, "web", Update{Stale: true, Err: errors.New("connection refused")})
	stale := []Endpoint{ep("10.0.0.1", 80, true, true), ep("10.0.0.2", 80, true, true)}
	if diff := cmp.Diff(change{"web", stale}, rec.next(t), cmp.AllowUnexported(change{})); diff != "" {
		t.Fatalf("outage (-want +got):\n%s", diff)
	}
	st, ok := m.Status("web")
	if !ok || !st.Stale || st.Error != "connection refused" {
		t.Fatalf("status during outage = %+v, %v; want stale with the error", st, ok)
	}
	// A second failure changes nothing a consumer can see.
	src.send(t, "web", Update{Stale: true, Err: errors.New("connection refused")})
	rec.none(t)

	src.send(t, "web", Update{Endpoints: []Endpoint{{Address: "10.0.0.1", Port: 80, Weight: 1, Healthy: true}}})
	recovered := []Endpoint{ep("10.0.0.1", 80, true, false)}
	if diff := cmp.Diff(change{"web", recovered}, rec.next(t), cmp.AllowUnexported(change{})); diff != "" {
		t.Fatalf("recovery (-want +got):\n%s", diff)
	}
	if st, _ := m.Status("web"); st.Stale || st.Error != "" {
		t.Fatalf("status after recovery = %+v, want fresh without error", st)
	}
}

func TestManagerStaleBeforeFirstReportHasNoEndpoints(t *testing.T) {
	m, src, rec := newTestManager(t)
	m.Sync([]model.Upstream{consulUpstream("web", "web")})
	src.send(t, "web", Update{Stale: true, Err: errors.New("no route to host")})
	if c := rec.next(t); len(c.eps) != 0 {
		t.Fatalf("endpoints = %+v, want none", c.eps)
	}
	st, _ := m.Status("web")
	if !st.Reported || !st.Stale {
		t.Fatalf("status = %+v, want reported and stale", st)
	}
	if got := m.Routable(); len(got["web"]) != 0 {
		t.Fatalf("routable = %+v, want an empty set for web", got)
	}
}

func TestManagerSuppressesUnchangedReports(t *testing.T) {
	m, src, rec := newTestManager(t)
	m.Sync([]model.Upstream{consulUpstream("web", "web")})
	u := Update{Endpoints: []Endpoint{ep("10.0.0.1", 80, true, false)}}
	src.send(t, "web", u)
	rec.next(t)
	src.send(t, "web", u)
	rec.none(t)
}

func TestManagerSync(t *testing.T) {
	m, src, rec := newTestManager(t)
	m.Sync([]model.Upstream{consulUpstream("web", "web"), consulUpstream("api", "api")})
	src.send(t, "web", Update{Endpoints: []Endpoint{ep("10.0.0.1", 80, true, false)}})
	rec.next(t)

	// Same settings: the watch and its endpoints stay.
	m.Sync([]model.Upstream{consulUpstream("web", "web"), consulUpstream("api", "api")})
	src.wantStarts(t, "web", 1)
	if eps, _ := m.Endpoints("web"); len(eps) != 1 {
		t.Fatalf("web endpoints after unchanged sync = %+v", eps)
	}

	// Changed settings restart the watch; a dropped upstream is reported gone.
	m.Sync([]model.Upstream{consulUpstream("web", "web-v2")})
	src.wantStarts(t, "web", 2)
	if _, ok := m.Status("api"); ok {
		t.Fatal("api still watched after it was dropped")
	}
	rec.none(t) // api never reported, so there is nothing to withdraw
	src.send(t, "web", Update{Endpoints: []Endpoint{ep("10.0.0.9", 80, true, false)}})
	if c := rec.next(t); c.upstream != "web" || len(c.eps) != 1 || c.eps[0].Address != "10.0.0.9" {
		t.Fatalf("after restart got %+v", c)
	}

	m.Sync(nil)
	if c := rec.next(t); c.upstream != "web" || c.eps != nil {
		t.Fatalf("removal reported as %+v, want web with nil endpoints", c)
	}
}

func TestManagerStatic(t *testing.T) {
	m, _, rec := newTestManager(t)
	m.Sync([]model.Upstream{{
		Meta: model.Meta{Name: "web"},
		Static: &model.StaticSource{Endpoints: []model.Endpoint{
			{Address: "10.0.0.12", Port: 8080, Weight: 2},
			{Address: "10.0.0.11", Port: 8080},
		}},
	}})
	want := []Endpoint{
		{Address: "10.0.0.11", Port: 8080, Weight: 1, Healthy: true, Health: HealthUnknown, Source: SourceStatic},
		{Address: "10.0.0.12", Port: 8080, Weight: 2, Healthy: true, Health: HealthUnknown, Source: SourceStatic},
	}
	if diff := cmp.Diff(want, rec.next(t).eps); diff != "" {
		t.Fatalf("static endpoints (-want +got):\n%s", diff)
	}
	wantRoutable := map[string][]model.Endpoint{"web": {
		{Address: "10.0.0.11", Port: 8080, Weight: 1},
		{Address: "10.0.0.12", Port: 8080, Weight: 2},
	}}
	if diff := cmp.Diff(wantRoutable, m.Routable()); diff != "" {
		t.Fatalf("routable (-want +got):\n%s", diff)
	}
}

func TestManagerSkipsUpstreamsWithoutSource(t *testing.T) {
	m, _, _ := newTestManager(t)
	m.Sync([]model.Upstream{{Meta: model.Meta{Name: "dns"}, DNS: &model.DNSSource{Host: "web.internal", Port: 80}}})
	if _, ok := m.Status("dns"); ok {
		t.Fatal("a DNS upstream is watched though no DNS source was given")
	}
}

func TestRoutable(t *testing.T) {
	tests := map[string]struct {
		in   []Endpoint
		want []model.Endpoint
	}{
		"empty": {in: nil, want: []model.Endpoint{}},
		"unhealthy dropped, stale kept": {
			in: []Endpoint{
				{Address: "10.0.0.1", Port: 80, Weight: 1, Healthy: true},
				{Address: "10.0.0.2", Port: 80, Weight: 1, Healthy: false},
				{Address: "10.0.0.3", Port: 80, Weight: 3, Healthy: true, Stale: true},
			},
			want: []model.Endpoint{{Address: "10.0.0.1", Port: 80, Weight: 1}, {Address: "10.0.0.3", Port: 80, Weight: 3}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Routable(tc.in)); diff != "" {
				t.Errorf("Routable (-want +got):\n%s", diff)
			}
		})
	}
}
