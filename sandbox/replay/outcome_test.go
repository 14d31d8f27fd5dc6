package replay

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
)

func TestClassify(t *testing.T) {
	fwd := func(rule string, targets ...target) outcome { return outcome{rule: rule, forward: targets} }
	up := func(name string, share float64) target {
		return target{upstream: name, share: share, path: "/x", host: "h"}
	}
	withPath := func(tg target, p string) target { tg.path = p; return tg }
	withReq := func(tg target, k, v string) target { tg.req = edits{set: map[string]string{k: v}}; return tg }
	tests := map[string]struct {
		before, after outcome
		want          []string
	}{
		"same":             {before: fwd("a", up("u", 1)), after: fwd("a", up("u", 1))},
		"other upstream":   {before: fwd("a", up("u", 1)), after: fwd("a", up("v", 1)), want: []string{replay.ClassOtherUpstream}},
		"other shares":     {before: fwd("a", up("u", .9), up("v", .1)), after: fwd("a", up("u", .5), up("v", .5)), want: []string{replay.ClassOtherUpstream}},
		"other rule":       {before: fwd("a", up("u", 1)), after: fwd("b", up("u", 1)), want: []string{replay.ClassOtherRule}},
		"now 404":          {before: fwd("a", up("u", 1)), after: outcome{status: 404, body: "gone"}, want: []string{replay.ClassOtherRule, replay.ClassNow404}},
		"404 stays":        {before: outcome{status: 404}, after: outcome{status: 404}},
		"no longer 404":    {before: outcome{status: 404}, after: fwd("a", up("u", 1)), want: []string{replay.ClassOtherRule, replay.ClassStatusChanged}},
		"now redirect":     {before: fwd("a", up("u", 1)), after: outcome{rule: "a", status: 301, redirect: "https://h/x"}, want: []string{replay.ClassNowRedirect}},
		"redirect moves":   {before: outcome{rule: "a", status: 301, redirect: "https://h/x"}, after: outcome{rule: "a", status: 301, redirect: "https://g/x"}, want: []string{replay.ClassRewriteChanged}},
		"redirect code":    {before: outcome{rule: "a", status: 301, redirect: "https://h/x"}, after: outcome{rule: "a", status: 308, redirect: "https://h/x"}, want: []string{replay.ClassStatusChanged}},
		"path rewrite":     {before: fwd("a", up("u", 1)), after: fwd("a", withPath(up("u", 1), "/y")), want: []string{replay.ClassRewriteChanged}},
		"rewrite, moved":   {before: fwd("a", up("u", 1)), after: fwd("a", withPath(up("v", 1), "/y")), want: []string{replay.ClassOtherUpstream, replay.ClassRewriteChanged}},
		"request header":   {before: fwd("a", up("u", 1)), after: fwd("a", withReq(up("u", 1), "x-a", "1")), want: []string{replay.ClassHeadersChanged}},
		"response header":  {before: outcome{rule: "a", status: 200, body: "ok"}, after: outcome{rule: "a", status: 200, body: "ok", resp: edits{removed: []string{"server"}}}, want: []string{replay.ClassHeadersChanged}},
		"direct body":      {before: outcome{rule: "a", status: 200, body: "ok"}, after: outcome{rule: "a", status: 200, body: "healthy"}, want: []string{replay.ClassBodyChanged}},
		"direct to status": {before: outcome{rule: "a", status: 200, body: "ok"}, after: outcome{rule: "a", status: 503, body: "down"}, want: []string{replay.ClassStatusChanged, replay.ClassBodyChanged}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := classNames(classify(&tc.before, &tc.after))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFidelityAlarm: where the simulated Envoy runs a translation that
// does not do what the rules say, every request it routes otherwise is
// an alarm naming the field, and the report still shows the evaluator's
// outcomes.
func TestFidelityAlarm(t *testing.T) {
	ws := loadYAML(t, "live.yaml")
	from, err := prepare(replay.Ref{Version: 1}, 1, ws, "shop", true)
	if err != nil {
		t.Fatal(err)
	}
	to, err := prepare(replay.Ref{Draft: true}, 0, ws, "shop", true)
	if err != nil {
		t.Fatal(err)
	}
	// A translation that rewrites the cart to /basket and moves the
	// static files, standing for a translator that is wrong.
	wrong := loadYAML(t, "live.yaml")
	for i := range wrong.Routes {
		switch r := &wrong.Routes[i]; r.Name {
		case "cart":
			r.Then.Rewrite = &model.Rewrite{PathPrefix: "/basket"}
		case "static":
			r.Then.Forward = []model.Backend{{Upstream: "web-v2"}}
		}
	}
	bad, err := prepare(replay.Ref{Draft: true}, 0, wrong, "shop", true)
	if err != nil {
		t.Fatal(err)
	}
	to.plain = bad.plain
	reqs := []Request{
		{Method: "GET", Scheme: "http", Authority: "shop.example.com", Target: "/api/cart/items", Origin: "line 1"},
		{Method: "GET", Scheme: "http", Authority: "shop.example.com", Target: "/static/a.css", Origin: "line 2"},
		{Method: "GET", Scheme: "http", Authority: "shop.example.com", Target: "/", Origin: "line 3"},
	}
	rep, err := run(context.Background(), from, to, reqs, options{examples: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 0 || rep.Fidelity.Requests != 2 || len(rep.Fidelity.Alarms) != 2 {
		t.Fatalf("%s, %d alarms: %+v", rep.Summary, rep.Fidelity.Requests, rep.Fidelity.Alarms)
	}
	want := []replay.Alarm{
		{Side: "to", Version: "draft", Field: "path", Evaluator: `"/cart/items"`, Sim: `"/basket/items"`},
		{Side: "to", Version: "draft", Field: "upstream", Evaluator: "web-v1", Sim: "web-v2"},
	}
	for i, w := range want {
		a := rep.Fidelity.Alarms[i]
		if a.Side != w.Side || a.Version != w.Version || a.Field != w.Field || a.Evaluator != w.Evaluator || a.Sim != w.Sim {
			t.Errorf("alarm %d: %+v, want %+v", i, a, w)
		}
	}
	if o := rep.Fidelity.Alarms[0].Request.Origin; o != "line 1" {
		t.Errorf("alarm request origin %q", o)
	}
}

// A mock response or default answer that sets its own content-type and
// other headers: the evaluator and the simulated Envoy agree on them, so
// no fidelity alarm is raised where there is no disagreement.
func TestLocalReplyHeadersAgree(t *testing.T) {
	ws := loadYAML(t, "live.yaml")
	for i := range ws.Routes {
		if r := &ws.Routes[i]; r.Then.Respond != nil {
			r.Then.Respond.Headers = map[string]string{"content-type": "application/json", "x-mock": "1"}
		}
	}
	ws.Gateways[0].DefaultResponse.Headers = map[string]string{"Content-Type": "text/html"}
	v, err := prepare(replay.Ref{Draft: true}, 0, ws, "shop", true)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []Request
	for i, target := range []string{"/healthz", "/nowhere-at-all", "/"} {
		for _, host := range []string{"shop.example.com", "unknown.example.com"} {
			reqs = append(reqs, Request{Method: "GET", Scheme: "http", Authority: host, Target: target, Origin: fmt.Sprintf("line %d", i+1)})
		}
	}
	rep, err := run(context.Background(), v, v, reqs, options{examples: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fidelity.Requests != 0 {
		t.Errorf("%d alarms: %+v", rep.Fidelity.Requests, rep.Fidelity.Alarms)
	}
}
