// Package publishgate judges a publish by the traffic it would change: it
// reads a replay of the requests a gateway served lately, against its
// live version and the draft about to be published, with the gateway's
// PublishGate, and says whether the publish may go ahead and why not.
//
// The replay itself is not run here (the engine is in sandbox/replay); the
// publish flow (backend/release) runs it and asks for the verdict, and the
// publish screen shows the same verdict before anyone presses the button.
package publishgate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
)

// Check is a replay of the gateway's recent requests against its live
// version and its draft, and the gate's verdict on it: the answer of
// POST /gateways/{name}/publish/check and what a refused publish reports.
type Check struct {
	// Live is the version the draft is compared with; 0 when nothing is
	// published, and then there is no Report (no traffic to judge by).
	Live int64 `json:"live"`
	// Window is how far back the replayed requests go: the gate's, or
	// model.DefaultGateWindow without a gate.
	Window  string         `json:"window"`
	Report  *replay.Report `json:"report"`
	Verdict Verdict        `json:"verdict"`
}

// Verdict is the gate's judgement of a publish.
type Verdict struct {
	// Gate is the gate that applies (see Effective); nil when neither the
	// live version nor the draft has one, and nothing is blocked.
	Gate *model.PublishGate `json:"gate"`
	// Blocked says the publish needs an admin's override; Reasons say
	// which limit each problem passes.
	Blocked bool     `json:"blocked"`
	Reasons []Reason `json:"reasons"`
	// Notes say what the verdict could not see (no captured requests).
	Notes []string `json:"notes"`
	// EditedRules are the gateway's rules the draft adds, removes or
	// changes against the live version, sorted.
	EditedRules []string `json:"editedRules"`
	// Outside counts the changed requests no edited rule decides, before
	// or after; OutsideGroups are their groups, as "before → after".
	Outside       int      `json:"outside"`
	OutsideGroups []string `json:"outsideGroups"`
	// ChangedPercent is the share of the replayed requests that change.
	ChangedPercent float64 `json:"changedPercent"`
}

// Reason is one limit of the gate a publish passes.
type Reason struct {
	// Limit is the PublishGate field: maxChangedPercent or
	// blockOutsideEditedRules.
	Limit   string `json:"limit"`
	Message string `json:"message"`
}

// Err is the refusal of a blocked publish: ECONFLICT with a field error
// per reason (publishGate.<limit>); nil when not blocked.
func (v Verdict) Err(gateway string) error {
	if !v.Blocked {
		return nil
	}
	e := &model.Error{Code: model.ECONFLICT, Message: fmt.Sprintf("the publish gate of %q holds this publish back", gateway)}
	for _, r := range v.Reasons {
		e.Fields = append(e.Fields, model.FieldError{Field: "publishGate." + r.Limit, Message: r.Message})
	}
	return e
}

// Messages are the reasons' messages.
func (v Verdict) Messages() []string {
	out := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		out[i] = r.Message
	}
	return out
}

// Effective is the gate a publish is judged by: the live version's and
// the draft's together, the stricter of each limit. The live gate keeps
// applying to the publish that removes or loosens it, so taking a gate
// away takes an admin or a publish that passes it; a gate the draft adds
// applies at once. nil when neither has one.
func Effective(live, draft *model.PublishGate) *model.PublishGate {
	if live == nil && draft == nil {
		return nil
	}
	var g model.PublishGate
	for _, in := range []*model.PublishGate{live, draft} {
		if in == nil {
			continue
		}
		g.Window = max(g.Window, model.Duration(in.WindowOrDefault()))
		g.BlockOutsideEditedRules = g.BlockOutsideEditedRules || in.BlockOutsideEditedRules
		if m := in.MaxChangedPercent; m != nil && (g.MaxChangedPercent == nil || *m < *g.MaxChangedPercent) {
			v := *m
			g.MaxChangedPercent = &v
		}
	}
	return &g
}

// GatewayGate is the PublishGate of gateway in ws; nil without one.
func GatewayGate(ws model.Workspace, gateway string) *model.PublishGate {
	for i := range ws.Gateways {
		if ws.Gateways[i].Name == gateway {
			return ws.Gateways[i].PublishGate
		}
	}
	return nil
}

// Window is the window of captured requests a check replays: the gate's,
// or the default without one.
func Window(gate *model.PublishGate) time.Duration {
	if gate == nil {
		return model.DefaultGateWindow
	}
	return gate.WindowOrDefault()
}

// EditedRules lists the gateway's rules that differ between live and
// draft: added, removed, or changed in anything but their bookkeeping
// (object version, time and author of the last write).
func EditedRules(live, draft model.Workspace, gateway string) []string {
	before, after := rulesOf(live, gateway), rulesOf(draft, gateway)
	var out []string
	for name, b := range before {
		if a, ok := after[name]; !ok || !bytes.Equal(a, b) {
			out = append(out, name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// rulesOf is the gateway's routes in ws as JSON without their
// bookkeeping, by name.
func rulesOf(ws model.Workspace, gateway string) map[string][]byte {
	out := map[string][]byte{}
	for _, r := range ws.Routes {
		if r.Gateway != gateway {
			continue
		}
		r.Meta = model.Meta{Name: r.Name}
		b, err := json.Marshal(r)
		if err != nil {
			// A route that does not marshal is not the same as any.
			b = []byte(err.Error())
		}
		out[r.Name] = b
	}
	return out
}

// Unjudged is the verdict of a check that replayed nothing, with notes
// saying why: it blocks nothing.
func Unjudged(gate *model.PublishGate, notes ...string) Verdict {
	return Verdict{Gate: gate, Reasons: []Reason{}, Notes: append([]string{}, notes...), EditedRules: []string{}, OutsideGroups: []string{}}
}

// Judge gives the verdict of gate (nil: none) on rep, the replay of the
// live version against the draft whose edited rules are edited.
func Judge(gate *model.PublishGate, edited []string, rep replay.Report) Verdict {
	v := Unjudged(gate)
	if edited != nil {
		v.EditedRules = edited
	}
	if rep.Total > 0 {
		v.ChangedPercent = 100 * float64(rep.Changed) / float64(rep.Total)
	}
	isEdited := func(rule string) bool { return rule != "" && slices.Contains(edited, rule) }
	listed := 0
	for _, g := range rep.Groups {
		listed += g.Changed
		if g.Changed > 0 && !isEdited(g.RuleBefore) && !isEdited(g.RuleAfter) {
			v.Outside += g.Changed
			v.OutsideGroups = append(v.OutsideGroups, ruleName(g.RuleBefore)+" → "+ruleName(g.RuleAfter))
		}
	}
	if rep.Total == 0 {
		v.Notes = append(v.Notes, "no request was captured in the window: the change cannot be judged by traffic")
	}
	if gate == nil {
		return v
	}
	if m := gate.MaxChangedPercent; m != nil && rep.Changed > 0 && v.ChangedPercent > *m {
		v.Reasons = append(v.Reasons, Reason{"maxChangedPercent",
			fmt.Sprintf("%s (%.2f%%), more than the gate's %v%%", replay.SummaryText(rep.Changed, rep.Total), v.ChangedPercent, *m)})
	}
	if gate.BlockOutsideEditedRules {
		if v.Outside > 0 {
			v.Reasons = append(v.Reasons, Reason{"blockOutsideEditedRules", fmt.Sprintf("%d changed %s outside the edited rules: %s",
				v.Outside, plural(v.Outside, "request", "requests"), strings.Join(v.OutsideGroups, ", "))})
		}
		// Groups past the report's bound cannot be told apart: counted
		// against the publish rather than waved through.
		if unlisted := rep.Changed - listed; unlisted > 0 {
			v.Reasons = append(v.Reasons, Reason{"blockOutsideEditedRules", fmt.Sprintf("%d changed %s in groups the report leaves out, which cannot be checked against the edited rules",
				unlisted, plural(unlisted, "request is", "requests are"))})
		}
	}
	v.Blocked = len(v.Reasons) > 0
	return v
}

func ruleName(rule string) string {
	if rule == "" {
		return "(no rule)"
	}
	return rule
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
