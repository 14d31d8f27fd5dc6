package ruleset_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/ruleset"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

func route(t *testing.T, name, when string, priority int) model.Route {
	t.Helper()
	c, err := rules.Parse(when)
	if err != nil {
		t.Fatal(err)
	}
	return model.Route{Meta: model.Meta{Name: name}, Gateway: "edge", Priority: priority,
		When: c, Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}}
}

// history gives gateway edge three versions whose rules differ:
//
//	v1:    api (path.prefix("/api"))
//	v2:    api, and beta (path.prefix("/beta") && header["x-beta"] == "1")
//	draft: api moved to /v2/api, beta as in v2
//
// and a gateway "fresh" that was never published.
func history(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := storetest.MustOpen(t)
	ws := model.Workspace{
		Gateways: []model.Gateway{
			{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: "HTTP"}}},
			{Meta: model.Meta{Name: "fresh"}, Listeners: []model.Listener{{Name: "http", Port: 8081, Protocol: "HTTP"}}},
		},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"},
			Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "127.0.0.1", Port: 9001}}}}},
		Routes: []model.Route{route(t, "api", `path.prefix("/api")`, 0)},
	}
	if _, err := st.Apply(ctx, "test", ws); err != nil {
		t.Fatal(err)
	}
	must := func(_ store.Published, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Publish(ctx, "test", "edge", "v1"))
	beta := route(t, "beta", `path.prefix("/beta") && header["x-beta"] == "1"`, 5)
	if err := st.Create(ctx, "test", &beta); err != nil {
		t.Fatal(err)
	}
	must(st.Publish(ctx, "test", "edge", "v2"))
	api, err := st.Get(ctx, model.KindRoute, "api")
	if err != nil {
		t.Fatal(err)
	}
	moved := api.(*model.Route)
	moved.When = route(t, "api", `path.prefix("/v2/api")`, 0).When
	if err := st.Update(ctx, "test", moved); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestLoadVersions asks each version what it does with the same
// requests: the answers differ exactly where the versions do.
func TestLoadVersions(t *testing.T) {
	st := history(t)
	l := ruleset.NewLoader(ruleset.FromStore(st), 0)
	get := func(v string, rq rules.Request) string {
		t.Helper()
		ver, err := ruleset.ParseVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := l.Load(context.Background(), "edge", ver)
		if err != nil {
			t.Fatalf("load %s: %v", v, err)
		}
		return rs.Program.Evaluate(rq).Rule
	}
	beta := rules.Request{URL: "/beta/x", Headers: map[string][]string{"X-Beta": {"1"}}}
	tests := map[string]struct {
		req                 rules.Request
		v1, live, v2, draft string
	}{
		"old api path":   {rules.Request{URL: "/api/cart"}, "api", "api", "api", ""},
		"new api path":   {rules.Request{URL: "/v2/api/cart"}, "", "", "", "api"},
		"beta with flag": {beta, "", "beta", "beta", "beta"},
		"beta without":   {rules.Request{URL: "/beta/x"}, "", "", "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for v, want := range map[string]string{"v1": tc.v1, "1": tc.v1, "live": tc.live, "v2": tc.v2, "draft": tc.draft} {
				if got := get(v, tc.req); got != want {
					t.Errorf("%s: rule %q, want %q", v, got, want)
				}
			}
		})
	}

	live, err := l.Load(context.Background(), "edge", ruleset.Live)
	if err != nil {
		t.Fatal(err)
	}
	if live.Version != ruleset.Published(2) || live.Version.String() != "v2" || live.Stamp() != -2 {
		t.Errorf("live resolved to %v (stamp %d), want v2", live.Version, live.Stamp())
	}
	if len(live.Workspace.Routes) != 2 || live.Workspace.Gateways[0].Name != "edge" {
		t.Errorf("live workspace: %d routes, gateways %v", len(live.Workspace.Routes), live.Workspace.Gateways)
	}
}

// TestLoadErrors: versions that do not exist are problems on the field
// "version", saying what does exist.
func TestLoadErrors(t *testing.T) {
	st := history(t)
	l := ruleset.NewLoader(ruleset.FromStore(st), 0)
	tests := map[string]struct {
		gateway string
		version ruleset.Version
		code    string
		want    string
	}{
		"version past the latest": {"edge", ruleset.Published(9), model.EINVALID, `version: gateway "edge" has no version 9: its versions are v1 to v2`},
		"live never published":    {"fresh", ruleset.Live, model.EINVALID, `version: gateway "fresh" has never been published`},
		"vN never published":      {"fresh", ruleset.Published(1), model.EINVALID, `version: gateway "fresh" has never been published`},
		"draft of no gateway":     {"nope", ruleset.Draft, model.ENOTFOUND, `nope`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := l.Load(context.Background(), tc.gateway, tc.version)
			if model.ErrorCode(err) != tc.code || err == nil || !strings.Contains(problemText(err), tc.want) {
				t.Fatalf("err = %v (%s), want %s containing %q", err, model.ErrorCode(err), tc.code, tc.want)
			}
		})
	}
	if l.Len() != 0 {
		t.Errorf("failed loads left %d cache entries", l.Len())
	}
}

// problemText is the field problems of err as "path: message" lines, or
// its message.
func problemText(err error) string {
	var me *model.Error
	if errors.As(err, &me) && len(me.Fields) > 0 {
		var b strings.Builder
		for _, f := range me.Fields {
			b.WriteString(f.Field + ": " + f.Message + "\n")
		}
		return b.String()
	}
	return err.Error()
}

func TestParseVersion(t *testing.T) {
	tests := map[string]struct {
		in, want string
		err      bool
	}{
		"live":        {in: "live", want: "live"},
		"draft":       {in: "draft", want: "draft"},
		"v3":          {in: "v3", want: "v3"},
		"bare number": {in: "12", want: "v12"},
		"empty":       {in: "", err: true},
		"v0":          {in: "v0", err: true},
		"negative":    {in: "-1", err: true},
		"plus":        {in: "v+1", err: true},
		"latest":      {in: "latest", err: true},
		"Live":        {in: "Live", want: "live"},
		"overflow":    {in: "v99999999999999999999", err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := ruleset.ParseVersion(tc.in)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), "want live, draft or a published version such as v3") {
					t.Fatalf("ParseVersion(%q) = %v, %v; want an error", tc.in, v, err)
				}
				return
			}
			if err != nil || v.String() != tc.want {
				t.Fatalf("ParseVersion(%q) = %v, %v; want %s", tc.in, v, err, tc.want)
			}
		})
	}
}

// countingSource counts the workspaces read, which is what a cache miss
// costs besides compiling.
type countingSource struct {
	ruleset.Source
	drafts, published atomic.Int64
}

func (c *countingSource) Draft(ctx context.Context, gateway string) (model.Workspace, int64, error) {
	c.drafts.Add(1)
	return c.Source.Draft(ctx, gateway)
}

func (c *countingSource) GetPublished(ctx context.Context, gateway string, n int64) (store.Published, error) {
	c.published.Add(1)
	return c.Source.GetPublished(ctx, gateway, n)
}

// TestLoaderCaches: a version is read and compiled once however many ask
// at once; a new draft generation replaces the old one; the cache keeps
// no more than its size.
func TestLoaderCaches(t *testing.T) {
	st := history(t)
	ctx := context.Background()
	src := &countingSource{Source: ruleset.FromStore(st)}
	l := ruleset.NewLoader(src, 3)

	var wg sync.WaitGroup
	got := make([]*ruleset.Rules, 16)
	for i := range got {
		wg.Go(func() {
			rs, err := l.Load(ctx, "edge", ruleset.Published(1))
			if err != nil {
				t.Error(err)
			}
			got[i] = rs
		})
	}
	wg.Wait()
	if n := src.published.Load(); n != 1 {
		t.Errorf("16 concurrent loads of v1 read it %d times, want 1", n)
	}
	for _, rs := range got[1:] {
		if rs != got[0] {
			t.Fatal("concurrent loads of v1 got different rules")
		}
	}
	if live, _ := l.Load(ctx, "edge", ruleset.Live); live == got[0] || src.published.Load() != 2 {
		t.Errorf("live: %d published reads, want 2", src.published.Load())
	}
	if v2, _ := l.Load(ctx, "edge", ruleset.Published(2)); v2.Version.String() != "v2" || src.published.Load() != 2 {
		t.Errorf("v2 after live: %d published reads, want 2 (live is v2)", src.published.Load())
	}

	d1, err := l.Load(ctx, "edge", ruleset.Draft)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := l.Load(ctx, "edge", ruleset.Draft); again != d1 {
		t.Error("the same draft generation was compiled twice")
	}
	if l.Len() != 3 {
		t.Errorf("cache holds %d versions, want 3", l.Len())
	}
	later := route(t, "later", `path == "/later"`, 0)
	if err := st.Create(ctx, "test", &later); err != nil {
		t.Fatal(err)
	}
	d2, err := l.Load(ctx, "edge", ruleset.Draft)
	if err != nil {
		t.Fatal(err)
	}
	if d2 == d1 || d2.Generation <= d1.Generation || d2.Program.Evaluate(rules.Request{URL: "/later"}).Rule != "later" {
		t.Errorf("draft after a write: generation %d -> %d, sees the new rule: %v", d1.Generation, d2.Generation,
			d2.Program.Evaluate(rules.Request{URL: "/later"}).Rule == "later")
	}
	if l.Len() != 3 {
		t.Errorf("after a new draft generation the cache holds %d versions, want 3 (the old draft dropped, not added to)", l.Len())
	}
	// Another gateway's draft makes the least recently used (v1) go;
	// asking for it reads it again.
	if _, err := l.Load(ctx, "fresh", ruleset.Draft); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load(ctx, "edge", ruleset.Published(1)); err != nil || src.published.Load() != 3 {
		t.Errorf("v1 after eviction: %d published reads, want 3 (%v)", src.published.Load(), err)
	}
	if l.Len() != 3 {
		t.Errorf("cache holds %d versions, want at most 3", l.Len())
	}
}
