package difftest

import (
	"maps"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// judge routes one request both ways on the in-process path (translate,
// sim.New); ok is false when the rule set does not translate.
func judge(ws model.Workspace, q request, random uint64) (want, got outcome, ok bool) {
	res, err := translate.Gateway(ws, "gw", translate.Options{})
	if err != nil || len(res.Routes) == 0 {
		return want, got, false
	}
	router, err := sim.New(res.Routes[0], sim.Options{})
	if err != nil {
		return want, got, false
	}
	want = evaluatorOutcome(rules.Compile(ws.Routes, "gw").Evaluate(q.evaluatorRequest(random)))
	got = simOutcome(router.RouteWith(q.simRequest(), random, sim.RouteOptions{NoTrace: true}))
	return want, got, true
}

func disagrees(ws model.Workspace, q request, random uint64) bool {
	want, got, ok := judge(ws, q, random)
	return ok && want != got
}

// shrink reduces a failing rule set and request while they still fail:
// drop rules, replace condition nodes by their parts, drop headers,
// simplify the path and host.
func shrink(ws model.Workspace, q request, random uint64, fails func(model.Workspace, request, uint64) bool) (model.Workspace, request) {
	disagrees := fails
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(ws.Routes) && len(ws.Routes) > 1; i++ {
			try := ws
			try.Routes = append(append([]model.Route(nil), ws.Routes[:i]...), ws.Routes[i+1:]...)
			if disagrees(try, q, random) {
				ws, changed = try, true
				i--
			}
		}
		for i := range ws.Routes {
			for _, c := range simpler(ws.Routes[i].When) {
				try := ws
				try.Routes = append([]model.Route(nil), ws.Routes...)
				try.Routes[i].When = c
				if disagrees(try, q, random) {
					ws, changed = try, true
					break
				}
			}
		}
		for _, k := range sortedKeys(q.Headers) {
			try := q
			try.Headers = maps.Clone(q.Headers)
			delete(try.Headers, k)
			if disagrees(ws, try, random) {
				q, changed = try, true
			}
		}
		// Each simplification moves one way only (towards "/" and
		// a.example.com), so the loop ends.
		if q.Path != "/" {
			try := q
			try.Path = "/"
			if disagrees(ws, try, random) {
				q, changed = try, true
			}
		}
		if q.Host != "a.example.com" {
			try := q
			try.Host = "a.example.com"
			if disagrees(ws, try, random) {
				q, changed = try, true
			}
		}
	}
	return ws, q
}

// simpler lists conditions one step simpler than c: each child in place of
// its parent, each child left out of an all/any, and the same for every
// descendant.
func simpler(c model.Condition) []model.Condition {
	var out []model.Condition
	switch {
	case c.Not != nil:
		out = append(out, *c.Not)
		for _, s := range simpler(*c.Not) {
			out = append(out, model.Not(s))
		}
	case len(c.All) > 0 || len(c.Any) > 0:
		kids, wrap := c.All, model.And
		if len(c.Any) > 0 {
			kids, wrap = c.Any, model.Or
		}
		out = append(out, kids...)
		for i := range kids {
			rest := append(append([]model.Condition(nil), kids[:i]...), kids[i+1:]...)
			if len(rest) > 0 {
				out = append(out, wrap(rest...))
			}
			for _, s := range simpler(kids[i]) {
				k := append([]model.Condition(nil), kids...)
				k[i] = s
				out = append(out, wrap(k...))
			}
		}
	}
	return out
}

func TestShrink(t *testing.T) {
	// A stand-in failure: any rule that tests header x-a, hit by a
	// request that carries it.
	fails := func(ws model.Workspace, q request, _ uint64) bool {
		if _, ok := q.Headers["x-a"]; !ok {
			return false
		}
		for _, r := range ws.Routes {
			if strings.Contains(rules.Format(r.When), `header["x-a"]`) {
				return true
			}
		}
		return false
	}
	ws := model.Workspace{Routes: []model.Route{
		{Meta: model.Meta{Name: "a"}, When: model.Pred(model.FieldPath, model.OpPrefix, "/api")},
		{Meta: model.Meta{Name: "b"}, When: model.And(model.Pred(model.FieldHost, model.OpEquals, "x.com"),
			model.Not(model.Or(model.Pred("header[x-a]", model.OpEquals, "1"), model.Pred(model.FieldMethod, model.OpEquals, "GET"))))},
		{Meta: model.Meta{Name: "c"}, When: model.Pred("header[x-b]", model.OpPresent, "")},
	}}
	q := request{Method: "GET", Host: "x.com", Path: "/api/v1", Scheme: "http", Headers: map[string]string{"x-a": "1", "x-b": "2", "cookie": "s=1"}}
	sws, sq := shrink(ws, q, 0, fails)
	if len(sws.Routes) != 1 || rules.Format(sws.Routes[0].When) != `header["x-a"] == "1"` {
		t.Errorf("rules not minimal:%s", describeRules(sws.Routes))
	}
	if len(sq.Headers) != 1 || sq.Path != "/" || sq.Host != "a.example.com" {
		t.Errorf("request not minimal: %s", sq)
	}
}
