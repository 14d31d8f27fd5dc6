package replay

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// TestHostIndexAgrees: the evaluator over the rules a request's host
// leaves in play decides every request as it does over all the rules:
// rules on exact hosts (any case), host lists, wildcard hosts, hosts
// under not/any, conditions in text, disabled rules, no host at all.
func TestHostIndexAgrees(t *testing.T) {
	hosts := []string{"a.example.com", "B.example.com", "c.example.com"}
	conds := []func(i int) model.Condition{
		func(i int) model.Condition {
			return model.And(model.Pred(model.FieldHost, model.OpEquals, hosts[i%3]), model.Pred(model.FieldPath, model.OpPrefix, fmt.Sprintf("/p%d", i%5)))
		},
		func(i int) model.Condition {
			return model.Condition{Field: model.FieldHost, Op: model.OpIn, Values: []string{hosts[i%3], hosts[(i+1)%3]}}
		},
		func(i int) model.Condition { return model.Pred(model.FieldHost, model.OpEquals, "*.example.com") },
		func(i int) model.Condition {
			return model.Condition{Not: &model.Condition{Field: model.FieldHost, Op: model.OpEquals, Value: hosts[i%3]}}
		},
		func(i int) model.Condition {
			return model.Condition{Any: []model.Condition{model.Pred(model.FieldHost, model.OpEquals, hosts[i%3]), model.Pred(model.FieldPath, model.OpPrefix, "/any")}}
		},
		func(i int) model.Condition {
			return model.Condition{Text: fmt.Sprintf(`host == %q && path.prefix("/t%d")`, hosts[i%3], i%4)}
		},
		func(i int) model.Condition {
			return model.Pred(model.FieldPath, model.OpPrefix, fmt.Sprintf("/p%d", i%5))
		},
		func(i int) model.Condition {
			return model.And(model.And(model.Pred(model.FieldMethod, model.OpEquals, "GET"), model.Pred(model.FieldHost, model.OpEquals, hosts[i%3])))
		},
	}
	r := rand.New(rand.NewPCG(3, 4))
	var routes []model.Route
	for i := range 200 {
		routes = append(routes, model.Route{
			Meta: model.Meta{Name: fmt.Sprintf("r%03d", i)}, Gateway: "gw", Priority: r.IntN(5), Disabled: i%17 == 0,
			When: conds[r.IntN(len(conds))](i),
			Then: model.Action{Forward: []model.Backend{{Upstream: "u"}}},
		})
	}
	routes = append(routes, model.Route{Meta: model.Meta{Name: "other-gateway"}, Gateway: "other", Priority: 100,
		When: model.Pred(model.FieldHost, model.OpEquals, "a.example.com"), Then: model.Action{Forward: []model.Backend{{Upstream: "u"}}}})
	full := rules.Compile(routes, "gw")
	ix := newHostIndex(routes, "gw")
	if len(ix.byHost) != 3 {
		t.Errorf("indexed hosts: %v", len(ix.byHost))
	}
	authorities := []string{"a.example.com", "A.EXAMPLE.COM:8080", "b.example.com", "c.example.com:443", "d.example.com", "", "[::1]:80", "example.com"}
	for i := range 3000 {
		authority := authorities[r.IntN(len(authorities))]
		req := rules.Request{Method: []string{"GET", "POST"}[r.IntN(2)],
			URL: fmt.Sprintf("http://%s/%s%d/x", authority, []string{"p", "t", "any"}[r.IntN(3)], r.IntN(6)), Headers: http.Header{}}
		if authority != "" {
			req.Headers.Set("Host", authority)
		}
		want := full.Explain(req, rules.ExplainOptions{}).Result.Rule
		if got := ix.program(authority).Explain(req, rules.ExplainOptions{}).Result.Rule; got != want {
			t.Fatalf("request %d %s %s: index says %q, every rule %q", i, req.Method, req.URL, got, want)
		}
	}
}
