package translate

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/bench/workload"
)

func sameResources(t *testing.T, step string, got, want *Resources) {
	t.Helper()
	if got.Version() != want.Version() {
		t.Errorf("%s: version %s, fresh translation gives %s", step, got.Version(), want.Version())
	}
	gl, wl := map[string][]proto.Message{}, map[string][]proto.Message{}
	for typ, l := range got.lists() {
		gl[typ] = l
	}
	for typ, l := range want.lists() {
		wl[typ] = l
	}
	for typ := range wl {
		if len(gl[typ]) != len(wl[typ]) {
			t.Errorf("%s: %d %s, want %d", step, len(gl[typ]), typ, len(wl[typ]))
			continue
		}
		for i := range wl[typ] {
			if !proto.Equal(gl[typ][i], wl[typ][i]) {
				t.Errorf("%s: %s[%d] differs from a fresh translation", step, typ, i)
			}
		}
	}
}

// TestTranslatorIncremental edits a workspace step by step and checks that a
// warm Translator always produces exactly what a fresh translation does.
func TestTranslatorIncremental(t *testing.T) {
	ws := benchWorkspace(300, 30, 20)
	ws.Routes[7].Then.Mirror = &model.Mirror{Upstream: "svc-0003", Percent: 10}
	tr := NewTranslator()
	opts := Options{}
	steps := []struct {
		name string
		edit func()
		err  bool
	}{
		{"initial", func() {}, false},
		{"path edit", func() { ws.Routes[5].When.All[1].Value = "/changed" }, false},
		{"priority edit", func() { ws.Routes[6].Priority = 100 }, false},
		{"new host", func() {
			ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: "new-host"}, Gateway: "bench",
				When: model.Pred(model.FieldHost, model.OpEquals, "*.new.example.com"),
				Then: model.Action{Respond: &model.Respond{Status: 204}}})
		}, false},
		{"host-less rule", func() {
			ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: "everywhere"}, Gateway: "bench", Priority: 3,
				When: model.Pred("header[x-debug]", model.OpPresent, ""),
				Then: model.Action{Respond: &model.Respond{Status: 418}}})
		}, false},
		{"remove rule", func() { ws.Routes = append(ws.Routes[:10], ws.Routes[11:]...) }, false},
		{"disable rule", func() { ws.Routes[12].Disabled = true }, false},
		{"re-enable rule", func() { ws.Routes[12].Disabled = false }, false},
		{"upstream endpoints", func() { ws.Upstreams[3].Static.Endpoints[0].Port = 9999 }, false},
		{"upstream hash key", func() {
			ws.Upstreams[3].LoadBalancer = &model.LoadBalancer{Policy: model.LBRingHash, HashOn: &model.HashOn{Header: "x-user"}}
		}, false},
		{"default response", func() { ws.Gateways[0].DefaultResponse = &model.Respond{Status: 404, Body: "nothing here"} }, false},
		{"discovered endpoints", func() {
			opts.Endpoints = map[string][]model.Endpoint{"svc-0004": {{Address: "127.0.0.1", Port: 30000}}}
		}, false},
		// The Translator looks a rule's entry up by its position first.
		{"swap rules", func() { ws.Routes[30], ws.Routes[31] = ws.Routes[31], ws.Routes[30] }, false},
		{"rename in place", func() { ws.Routes[32].Name = "renamed" }, false},
		{"duplicate name", func() { ws.Routes[33].Name = ws.Routes[34].Name }, true},
		{"duplicate renamed", func() { ws.Routes[33].Name = "unique-again" }, false},
		// Rules read the upstreams' names and hash keys: a change there
		// checks every rule's whole key again.
		{"new upstream with a rule edit", func() {
			ws.Upstreams = append(ws.Upstreams, model.Upstream{Meta: model.Meta{Name: "svc-new"},
				Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.9.9.9", Port: 80}}}})
			ws.Routes[40].Then.Forward[0].Upstream = "svc-new"
		}, false},
		{"hash key on a shared upstream", func() {
			ws.Upstreams[5].LoadBalancer = &model.LoadBalancer{Policy: model.LBRingHash, HashOn: &model.HashOn{Cookie: "session"}}
		}, false},
		{"broken rule", func() { ws.Routes[20].Then.Forward[0].Upstream = "missing" }, true},
		{"fixed rule", func() { ws.Routes[20].Then.Forward[0].Upstream = "svc-0001" }, false},
		{"delete upstream in use", func() { ws.Upstreams = ws.Upstreams[:len(ws.Upstreams)-1] }, true},
		{"restore upstream", func() {
			ws.Upstreams = append(ws.Upstreams, model.Upstream{Meta: model.Meta{Name: "svc-new"},
				Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.9.9.9", Port: 80}}}})
		}, false},
		// Rules naming listeners split the route configuration.
		{"second listener", func() {
			ws.Gateways[0].Listeners = append(ws.Gateways[0].Listeners, model.Listener{Name: "admin", Port: 8081, Protocol: model.ProtocolHTTP})
		}, false},
		{"rule on one listener", func() { ws.Routes[50].Listeners = []string{"admin"} }, false},
		{"path edit on one listener", func() { ws.Routes[50].When.All[1].Value = "/admin-changed" }, false},
		{"path edit on every listener", func() { ws.Routes[51].When.All[1].Value = "/changed-again" }, false},
		{"rule on an unknown listener", func() { ws.Routes[52].Listeners = []string{"nowhere"} }, true},
		{"rule on both listeners", func() { ws.Routes[52].Listeners = []string{"admin", "http"} }, false},
		{"every rule off one listener", func() {
			ws.Routes[50].Listeners = nil
			ws.Routes[52].Listeners = nil
		}, false},
	}
	var prev *Resources
	for _, s := range steps {
		s.edit()
		got, err := tr.Translate(ws, "bench", opts)
		want, werr := Gateway(ws, "bench", opts)
		if (err != nil) != s.err || (werr != nil) != s.err {
			t.Fatalf("%s: error %v (fresh: %v), want error: %v", s.name, err, werr, s.err)
		}
		if s.err {
			if err.Error() != werr.Error() {
				t.Errorf("%s: error %q, fresh translation says %q", s.name, err, werr)
			}
			continue
		}
		sameResources(t, s.name, got, want)
		if s.name == "path edit on one listener" || s.name == "path edit on every listener" {
			// Each route configuration rebuilds the edited rule's virtual
			// host and keeps the others.
			if len(got.Routes) != 2 || len(prev.Routes) != 2 {
				t.Fatalf("%s: %d route configurations, want 2", s.name, len(got.Routes))
			}
			for k := range got.Routes {
				changed := 0
				for i, vh := range got.Routes[k].VirtualHosts {
					if vh != prev.Routes[k].VirtualHosts[i] {
						changed++
					}
				}
				want := 1
				if s.name == "path edit on one listener" && got.Routes[k].Name == "bench" {
					want = 0 // the rule is not in it
				}
				if changed != want {
					t.Errorf("%s: %s rebuilt %d virtual hosts, want %d", s.name, got.Routes[k].Name, changed, want)
				}
			}
		}
		if s.name == "path edit" {
			// Only the edited rule's virtual host is rebuilt.
			changed := 0
			for i, vh := range got.Routes[0].VirtualHosts {
				if vh != prev.Routes[0].VirtualHosts[i] {
					changed++
				}
			}
			if changed != 1 {
				t.Errorf("path edit rebuilt %d virtual hosts, want 1", changed)
			}
		}
		prev = got
	}
}

// TestKeyCoversEveryField changes every leaf field of a rule and of an
// upstream and expects the cache key to change, so an edit can never be
// served from a stale cache entry.
func TestKeyCoversEveryField(t *testing.T) {
	ignored := map[string]bool{
		"Meta.Version": true, "Meta.UpdatedAt": true, "Meta.UpdatedBy": true, "Description": true,
	}
	tests := map[string]struct {
		value  any
		encode func(e *keyEncoder, v any)
	}{
		"route":    {&model.Route{}, func(e *keyEncoder, v any) { e.route(v.(*model.Route)) }},
		"upstream": {&model.Upstream{}, func(e *keyEncoder, v any) { e.upstream(v.(*model.Upstream)) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var e keyEncoder
			fillAll(reflect.ValueOf(tc.value).Elem(), 1)
			tc.encode(&e, tc.value)
			base := string(e.b)
			for _, path := range leafPaths(reflect.ValueOf(tc.value).Elem(), "") {
				if ignored[path] {
					continue
				}
				leaf := leafAt(reflect.ValueOf(tc.value).Elem(), path)
				old := reflect.ValueOf(leaf.Interface())
				fillAll(leaf, 2)
				e.reset()
				tc.encode(&e, tc.value)
				if string(e.b) == base {
					t.Errorf("changing %s does not change the cache key", path)
				}
				leaf.Set(old)
			}
		})
	}
}

// fillAll sets every reachable field to a value derived from seed.
func fillAll(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if v.Type().Elem().Kind() == reflect.Struct && v.Type().Elem().Name() == "Condition" && seed > 1 {
			return // recursion guard: Condition.Not
		}
		fillAll(v.Elem(), seed)
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).Name == "Not" && seed == 1 {
				continue
			}
			fillAll(v.Field(i), seed)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct && v.Type().Elem().Name() == "Condition" {
			// Condition lists recurse; one predicate is enough.
			c := reflect.MakeSlice(v.Type(), 1, 1)
			c.Index(0).FieldByName("Field").SetString("f" + string(rune('0'+seed)))
			v.Set(c)
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fillAll(s.Index(0), seed)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillAll(k, seed)
		fillAll(val, seed)
		m.SetMapIndex(k, val)
		v.Set(m)
	case reflect.String:
		v.SetString("s" + string(rune('0'+seed)))
	case reflect.Bool:
		v.SetBool(seed%2 == 1)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(seed))
	case reflect.Float64:
		v.SetFloat(float64(seed))
	}
}

// leafPaths lists the fields below v as dotted paths; slices, maps and
// pointers count as leaves (changing them changes everything inside).
func leafPaths(v reflect.Value, prefix string) []string {
	var out []string
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		path := f.Name
		if prefix != "" {
			path = prefix + "." + f.Name
		}
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.Struct && fv.Type().PkgPath() != "time":
			out = append(out, leafPaths(fv, path)...)
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct && !fv.IsNil() && f.Name != "Not":
			out = append(out, leafPaths(fv.Elem(), path)...)
		default:
			out = append(out, path)
		}
	}
	return out
}

func leafAt(v reflect.Value, path string) reflect.Value {
	for _, name := range splitPath(path) {
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		v = v.FieldByName(name)
	}
	return v
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// TestTranslatorConcurrentUse translates and hashes from several goroutines
// (run with -race): the ADS server may publish while a sandbox translates.
func TestTranslatorConcurrentUse(t *testing.T) {
	tr := NewTranslator()
	want, err := Gateway(benchWorkspace(200, 20, 10), "bench", Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantVersion := want.Version()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 5 {
				res, err := tr.Translate(benchWorkspace(200, 20, 10), "bench", Options{})
				if err != nil {
					errs <- err
					return
				}
				if v := res.Version(); v != wantVersion {
					errs <- fmt.Errorf("version %s, want %s", v, wantVersion)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestParallelTranslationIsSerialTranslation translates a gateway large
// enough for rules to be compiled and placed on several goroutines, and
// again on one, and requires the same resources.
func TestParallelTranslationIsSerialTranslation(t *testing.T) {
	ws := workload.Workspace(3000, 300, 300)
	ws.Routes[7].When = model.Or(ws.Routes[7].When, model.Pred(model.FieldHost, model.OpSuffix, ".example.org"))
	parallel, err := Gateway(ws, workload.Gateway, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	serial, err := Gateway(ws, workload.Gateway, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(parallel.Routes[0], serial.Routes[0]) || len(parallel.Clusters) != len(serial.Clusters) {
		t.Fatal("parallel and serial translations differ")
	}
	if parallel.Version() != serial.Version() {
		t.Errorf("versions %s and %s differ", parallel.Version(), serial.Version())
	}
}

// TestTranslatorIdentified: with Options.Identified, objects edited as the
// store edits them (a new version each write) translate exactly as a fresh
// translation does, a rule whose upstream changed is translated again, and
// a rule whose identity did not change is taken as unchanged without its
// key being computed again.
func TestTranslatorIdentified(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ws := benchWorkspace(300, 30, 20)
	for i := range ws.Routes {
		ws.Routes[i].Version, ws.Routes[i].UpdatedAt = 1, at
	}
	for i := range ws.Upstreams {
		ws.Upstreams[i].Version, ws.Upstreams[i].UpdatedAt = 1, at
	}
	write := func(m *model.Meta) { m.Version++; m.UpdatedAt = m.UpdatedAt.Add(time.Second) }
	tr := NewTranslator()
	opts := Options{Identified: true}
	steps := []struct {
		name       string
		edit       func()
		translated int64 // rules translated again
	}{
		{"initial", func() {}, 300},
		{"unchanged", func() {}, 0},
		{"path edit", func() { ws.Routes[5].When.All[1].Value = "/changed"; write(&ws.Routes[5].Meta) }, 1},
		{"upstream edit", func() {
			ws.Upstreams[3].LoadBalancer = &model.LoadBalancer{Policy: model.LBRingHash, HashOn: &model.HashOn{Header: "x-user"}}
			write(&ws.Upstreams[3].Meta)
		}, 15}, // the rules forwarding to svc-0003
		{"rule to another upstream", func() { ws.Routes[20].Then.Forward[0].Upstream = "svc-0001"; write(&ws.Routes[20].Meta) }, 1},
		{"written unchanged", func() { write(&ws.Routes[21].Meta) }, 0},
		{"remove rule", func() { ws.Routes = append(ws.Routes[:10], ws.Routes[11:]...) }, 0},
	}
	for _, s := range steps {
		s.edit()
		before := tr.Stats().Routes
		got, err := tr.Translate(ws, "bench", opts)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n := tr.Stats().Routes - before; n != s.translated {
			t.Errorf("%s: %d rules translated, want %d", s.name, n, s.translated)
		}
		want, err := Gateway(ws, "bench", Options{})
		if err != nil {
			t.Fatal(err)
		}
		sameResources(t, s.name, got, want)
	}
	// An object changed in memory, its identity kept, is not what
	// Identified promises: it is taken for the rule it was.
	ws.Routes[30].When.All[1].Value = "/unseen"
	before := tr.Stats().Routes
	if _, err := tr.Translate(ws, "bench", opts); err != nil {
		t.Fatal(err)
	}
	if n := tr.Stats().Routes - before; n != 0 {
		t.Errorf("a rule changed in memory under its old identity was translated again (%d): its key was computed", n)
	}
}
