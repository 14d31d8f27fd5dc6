package translate

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// benchWorkspace is a large gateway: routes spread over hosts and
// upstreams, one rule in a thousand host-less (placed in every virtual
// host), some with policies.
func benchWorkspace(routes, hosts, upstreams int) model.Workspace {
	ws := model.Workspace{Gateways: []model.Gateway{{
		Meta:      model.Meta{Name: "bench"},
		Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}},
	}}}
	for i := range upstreams {
		ws.Upstreams = append(ws.Upstreams, model.Upstream{
			Meta: model.Meta{Name: fmt.Sprintf("svc-%04d", i)},
			Static: &model.StaticSource{Endpoints: []model.Endpoint{
				{Address: fmt.Sprintf("10.%d.%d.1", i/250, i%250), Port: 8080},
				{Address: fmt.Sprintf("10.%d.%d.2", i/250, i%250), Port: 8080},
			}},
		})
	}
	for i := range routes {
		r := model.Route{
			Meta:     model.Meta{Name: fmt.Sprintf("route-%05d", i)},
			Gateway:  "bench",
			Priority: i % 7,
			When: model.And(
				model.Pred(model.FieldHost, model.OpEquals, fmt.Sprintf("h%d.example.com", i%hosts)),
				model.Pred(model.FieldPath, model.OpPrefix, fmt.Sprintf("/api/%d", i/hosts)),
			),
			Then: model.Action{Forward: []model.Backend{{Upstream: fmt.Sprintf("svc-%04d", i%upstreams)}}},
		}
		if i%1000 == 999 {
			r.When = model.Pred(model.FieldPath, model.OpPrefix, fmt.Sprintf("/global/%d", i))
		}
		if i%10 == 0 {
			r.Then.Timeout = model.Duration(5 * time.Second)
			r.Then.Retries = &model.Retries{Attempts: 2, On: []string{model.Retry5xx}}
			r.Then.Headers = &model.HeaderPolicy{Request: &model.HeaderMutation{Set: map[string]string{"x-route": r.Name}}}
		}
		ws.Routes = append(ws.Routes, r)
	}
	return ws
}

// reportCPU adds the process CPU time per operation (user + system, all
// threads, GC included) next to the wall-clock ns/op, which on a shared
// machine also counts time spent waiting for a core.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTranslateFull is a cold translation of 10,000 routes over 1,000
// hosts and 1,000 upstreams.
func BenchmarkTranslateFull(b *testing.B) {
	ws := benchWorkspace(10000, 1000, 1000)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := Gateway(ws, "bench", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTranslateOneRouteChange edits one rule between translations on a
// warm Translator, as the ADS server does after a route edit.
func BenchmarkTranslateOneRouteChange(b *testing.B) {
	ws := benchWorkspace(10000, 1000, 1000)
	tr := NewTranslator()
	if _, err := tr.Translate(ws, "bench", Options{}); err != nil {
		b.Fatal(err)
	}
	edited := &ws.Routes[4242]
	paths := []string{"/edited/a", "/edited/b"}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		edited.When.All[1].Value = paths[i%2]
		i++
		if _, err := tr.Translate(ws, "bench", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVersion hashes the full output from scratch.
func BenchmarkVersion(b *testing.B) {
	res, err := Gateway(benchWorkspace(10000, 1000, 1000), "bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		cold := *res
		cold.digests = newDigestCache()
		_ = cold.Version()
	}
}

// BenchmarkOneRouteChangeWithVersion is a one-rule edit followed by the
// snapshot version, what the ADS server pays per route edit.
func BenchmarkOneRouteChangeWithVersion(b *testing.B) {
	ws := benchWorkspace(10000, 1000, 1000)
	tr := NewTranslator()
	res, err := tr.Translate(ws, "bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	_ = res.Version()
	edited := &ws.Routes[4242]
	paths := []string{"/edited/a", "/edited/b"}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		edited.When.All[1].Value = paths[i%2]
		i++
		res, err := tr.Translate(ws, "bench", Options{})
		if err != nil {
			b.Fatal(err)
		}
		_ = res.Version()
	}
}
