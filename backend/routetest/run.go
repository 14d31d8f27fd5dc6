package routetest

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// EngineEvaluator names the reference evaluator in results.
const EngineEvaluator = "evaluator"

// DataPlane sends a test request through a gateway's draft on a running data
// plane (the sandbox's simulated Envoy, or a real Envoy) and reports what
// happened. The sandbox provides it; without one tests run through the
// evaluator alone.
type DataPlane interface {
	// Name says which data plane ran the request ("sim", "envoy").
	Name() string
	Observe(ctx context.Context, gateway string, req rules.Request) (Outcome, error)
}

// Report is the result of running a set of tests.
type Report struct {
	// Engines lists what ran the tests, the evaluator first.
	Engines []string `json:"engines"`
	Passed  int      `json:"passed"`
	Failed  int      `json:"failed"`
	Items   []Result `json:"items"`
}

// Result is one test's verdict.
type Result struct {
	Name    string `json:"name"`
	Gateway string `json:"gateway"`
	Passed  bool   `json:"passed"`
	// Message is every failure on one line, for a table cell.
	Message  string     `json:"message,omitempty"`
	Failures []Mismatch `json:"failures,omitempty"`
}

// OK reports whether every test passed.
func (r Report) OK() bool { return r.Failed == 0 }

// Err returns nil when every test passed, else an *model.Error with code
// code listing each failure as a field error ("tests.NAME.FIELD").
func (r Report) Err(code string) error {
	if r.OK() {
		return nil
	}
	e := &model.Error{Code: code, Message: fmt.Sprintf("%d of %d route tests failed", r.Failed, r.Passed+r.Failed)}
	for _, res := range r.Items {
		for _, m := range res.Failures {
			field := "tests." + res.Name
			if m.Field != "" {
				field += "." + m.Field
			}
			msg := m.Engine + ": " + m.Actual
			if m.Field != "" {
				msg = fmt.Sprintf("%s: expected %s, got %s", m.Engine, m.Expected, m.Actual)
			}
			e.Fields = append(e.Fields, model.FieldError{Field: field, Message: msg})
		}
	}
	return e
}

// Run runs tests over the draft ws with the reference evaluator and, when
// dp is not nil, through dp as well. A test of a gateway ws does not have
// fails with that reason.
func Run(ctx context.Context, ws model.Workspace, tests []Test, dp DataPlane) Report {
	rep := Report{Engines: []string{EngineEvaluator}, Items: make([]Result, 0, len(tests))}
	if dp != nil {
		rep.Engines = append(rep.Engines, dp.Name())
	}
	gateways := map[string]*model.Gateway{}
	for i := range ws.Gateways {
		gateways[ws.Gateways[i].Name] = &ws.Gateways[i]
	}
	programs := map[string]*rules.Program{}
	credentials := map[string]map[string]bool{}
	for _, t := range tests {
		res := Result{Name: t.Name, Gateway: t.Gateway}
		gw, ok := gateways[t.Gateway]
		if !ok {
			res.Failures = []Mismatch{{Engine: EngineEvaluator, Actual: fmt.Sprintf("gateway %q does not exist", t.Gateway)}}
		} else {
			prog := programs[t.Gateway]
			if prog == nil {
				prog = rules.Compile(ws.Routes, t.Gateway)
				programs[t.Gateway] = prog
			}
			ref := EvaluatorOutcome(prog.Evaluate(t.Request), t.Request, gw)
			// A request with its own random value picks its member of a
			// split in the evaluator as in router_check_tool; a data plane
			// picks by chance whatever the test says.
			evalSplit := ref.Split
			if t.Request.Random != 0 {
				evalSplit = nil
			}
			res.Failures = Check(EngineEvaluator, t.Expect, ref, evalSplit)
			if dp != nil {
				if err := ctx.Err(); err != nil {
					res.Failures = append(res.Failures, Mismatch{Engine: dp.Name(), Actual: "not run: " + err.Error()})
				} else if o, err := dp.Observe(ctx, t.Gateway, t.Request); err != nil {
					res.Failures = append(res.Failures, Mismatch{Engine: dp.Name(), Actual: "request failed: " + err.Error()})
				} else {
					res.Failures = append(res.Failures, Check(dp.Name(), t.Expect, o, ref.Split)...)
				}
			}
		}
		if credentials[t.Gateway] == nil {
			credentials[t.Gateway] = CredentialHeaders(ws, t.Gateway)
		}
		hideCredentials(res.Failures, credentials[t.Gateway])
		res.Passed = len(res.Failures) == 0
		if res.Passed {
			rep.Passed++
		} else {
			rep.Failed++
			msgs := make([]string, len(res.Failures))
			for i, m := range res.Failures {
				msgs[i] = m.String()
			}
			res.Message = strings.Join(msgs, "; ")
		}
		rep.Items = append(rep.Items, res)
	}
	return rep
}

// EvaluatorOutcome turns an evaluator result into an outcome. The evaluator
// sends nothing, so it assumes what the sandbox's mock upstreams do: a
// forwarded request is answered 200. Request headers are the test request's
// after the rule's (and the picked backend's) request mutations; response
// headers are only those the rules set, so the outcome is partial there.
func EvaluatorOutcome(res rules.Result, req rules.Request, gw *model.Gateway) Outcome {
	o := Outcome{Rule: res.Rule, PartialResponseHeaders: true, ResponseHeaders: http.Header{}}
	a := res.Action
	switch {
	case a == nil:
		o.Status = http.StatusNotFound
		if gw != nil && gw.DefaultResponse != nil {
			o.Status = gw.DefaultResponse.Status
			setAll(o.ResponseHeaders, gw.DefaultResponse.Headers)
		}
		return o
	case a.Respond != nil:
		o.Status = res.Status
		setAll(o.ResponseHeaders, a.Respond.Headers)
	case a.Redirect != nil:
		o.Status = res.Status
		o.Redirect = res.RedirectURL
		o.ResponseHeaders.Set("Location", res.RedirectURL)
	default:
		o.Status = http.StatusOK
		o.Upstream, o.Path, o.Host = res.Upstream, res.Path, res.Host
		for i, b := range a.Forward {
			if model.EffectiveWeight(a.Forward, i) > 0 {
				o.Split = append(o.Split, b.Upstream)
			}
		}
		o.RequestHeaders = http.Header{}
		for name, vals := range req.Headers {
			if strings.EqualFold(name, "host") || strings.HasPrefix(name, ":") {
				continue
			}
			for _, v := range vals {
				o.RequestHeaders.Add(name, v)
			}
		}
		if a.Headers != nil {
			mutate(o.RequestHeaders, a.Headers.Request)
		}
		for _, b := range a.Forward {
			if b.Upstream == res.Upstream && b.Headers != nil {
				mutate(o.RequestHeaders, b.Headers.Request)
			}
		}
		o.RequestHeaders.Set("Host", res.Host)
	}
	if a.Headers != nil {
		mutate(o.ResponseHeaders, a.Headers.Response)
	}
	return o
}

func setAll(h http.Header, m map[string]string) {
	for k, v := range m {
		h.Set(k, v)
	}
}

// mutate applies a header mutation in Envoy's order: remove, set, add,
// add-if-absent.
func mutate(h http.Header, m *model.HeaderMutation) {
	if m == nil {
		return
	}
	for _, name := range m.Remove {
		h.Del(name)
	}
	for k, v := range m.Set {
		h.Set(k, v)
	}
	for k, v := range m.Add {
		h.Add(k, v)
	}
	for k, v := range m.AddIfAbsent {
		if h.Get(k) == "" {
			h.Set(k, v)
		}
	}
}
