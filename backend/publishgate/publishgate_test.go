package publishgate

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
)

func pct(v float64) *float64 { return &v }

func TestEffective(t *testing.T) {
	day := model.Duration(model.DefaultGateWindow)
	tests := map[string]struct {
		live, draft, want *model.PublishGate
	}{
		"none":      {},
		"live only": {live: &model.PublishGate{MaxChangedPercent: pct(5)}, want: &model.PublishGate{Window: day, MaxChangedPercent: pct(5)}},
		"draft only": {draft: &model.PublishGate{Window: model.Duration(time.Hour), BlockOutsideEditedRules: true},
			want: &model.PublishGate{Window: model.Duration(time.Hour), BlockOutsideEditedRules: true}},
		// No window is the default day, longer than the draft's hour.
		"default window": {live: &model.PublishGate{BlockOutsideEditedRules: true}, draft: &model.PublishGate{Window: model.Duration(time.Hour), BlockOutsideEditedRules: true},
			want: &model.PublishGate{Window: day, BlockOutsideEditedRules: true}},
		"the stricter of each": {
			live:  &model.PublishGate{Window: model.Duration(time.Hour), MaxChangedPercent: pct(5)},
			draft: &model.PublishGate{Window: model.Duration(6 * time.Hour), MaxChangedPercent: pct(10), BlockOutsideEditedRules: true},
			want:  &model.PublishGate{Window: model.Duration(6 * time.Hour), MaxChangedPercent: pct(5), BlockOutsideEditedRules: true},
		},
		"a draft cannot drop the live limit": {
			live:  &model.PublishGate{MaxChangedPercent: pct(1)},
			draft: &model.PublishGate{BlockOutsideEditedRules: true},
			want:  &model.PublishGate{Window: day, MaxChangedPercent: pct(1), BlockOutsideEditedRules: true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Effective(tc.live, tc.draft)
			if (got == nil) != (tc.want == nil) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if got == nil {
				return
			}
			if got.Window != tc.want.Window || got.BlockOutsideEditedRules != tc.want.BlockOutsideEditedRules ||
				(got.MaxChangedPercent == nil) != (tc.want.MaxChangedPercent == nil) ||
				got.MaxChangedPercent != nil && *got.MaxChangedPercent != *tc.want.MaxChangedPercent {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if got == tc.live || got == tc.draft || tc.live != nil && got.MaxChangedPercent == tc.live.MaxChangedPercent && got.MaxChangedPercent != nil {
				t.Error("the effective gate shares memory with an input")
			}
		})
	}
}

func TestEditedRules(t *testing.T) {
	route := func(name, gateway string, prio int, version int64) model.Route {
		return model.Route{Meta: model.Meta{Name: name, Version: version, UpdatedBy: "someone"}, Gateway: gateway, Priority: prio}
	}
	live := model.Workspace{Routes: []model.Route{
		route("same", "public", 1, 3), route("rewritten", "public", 1, 3), route("changed", "public", 1, 3),
		route("removed", "public", 1, 3), route("elsewhere", "internal", 1, 3),
	}}
	draft := model.Workspace{Routes: []model.Route{
		// Written again with the same content: a new object version,
		// not an edit.
		route("same", "public", 1, 3), route("rewritten", "public", 1, 9), route("changed", "public", 2, 4),
		route("added", "public", 1, 1), route("elsewhere", "internal", 5, 4),
	}}
	if got, want := EditedRules(live, draft, "public"), []string{"added", "changed", "removed"}; !slices.Equal(got, want) {
		t.Errorf("edited %v, want %v", got, want)
	}
}

func report(total int, groups ...replay.Group) replay.Report {
	r := replay.Report{Total: total, Groups: groups}
	for _, g := range groups {
		r.Changed += g.Changed
	}
	return r
}

func TestJudge(t *testing.T) {
	edited := []string{"web-canary"}
	shifted := replay.Group{RuleBefore: "web", RuleAfter: "web-canary", Requests: 10, Changed: 10}
	outside := replay.Group{RuleBefore: "", RuleAfter: "", Requests: 3, Changed: 3}
	outsideNamed := replay.Group{RuleBefore: "shop-api", RuleAfter: "shop-api", Requests: 4, Changed: 2}
	tests := map[string]struct {
		gate     *model.PublishGate
		rep      replay.Report
		blocked  bool
		limits   []string
		says     []string
		outside  int
		percent  float64
		noteSays string
	}{
		"no gate blocks nothing": {rep: report(100, shifted, outside), outside: 3, percent: 13},
		"under the share":        {gate: &model.PublishGate{MaxChangedPercent: pct(10)}, rep: report(100, shifted), percent: 10},
		"over the share": {gate: &model.PublishGate{MaxChangedPercent: pct(5)}, rep: report(100, shifted), percent: 10, blocked: true,
			limits: []string{"maxChangedPercent"}, says: []string{"10 of 100 requests would change (10.00%), more than the gate's 5%"}},
		"no change allowed, none made": {gate: &model.PublishGate{MaxChangedPercent: pct(0)}, rep: report(100)},
		"inside the edited rules":      {gate: &model.PublishGate{BlockOutsideEditedRules: true}, rep: report(100, shifted), percent: 10},
		"outside the edited rules": {gate: &model.PublishGate{BlockOutsideEditedRules: true}, rep: report(100, shifted, outside, outsideNamed),
			blocked: true, outside: 5, percent: 15, limits: []string{"blockOutsideEditedRules"},
			says: []string{"5 changed requests outside the edited rules: (no rule) → (no rule), shop-api → shop-api"}},
		"groups left out count against": {gate: &model.PublishGate{BlockOutsideEditedRules: true},
			rep:     func() replay.Report { r := report(100, shifted); r.Changed += 7; r.GroupsOmitted = 2; return r }(),
			blocked: true, percent: 17, limits: []string{"blockOutsideEditedRules"}, says: []string{"7 changed requests are in groups the report leaves out"}},
		"both limits": {gate: &model.PublishGate{MaxChangedPercent: pct(1), BlockOutsideEditedRules: true}, rep: report(10, outside),
			blocked: true, outside: 3, percent: 30, limits: []string{"maxChangedPercent", "blockOutsideEditedRules"}},
		"no traffic": {gate: &model.PublishGate{MaxChangedPercent: pct(0), BlockOutsideEditedRules: true}, rep: report(0), noteSays: "no request was captured"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := Judge(tc.gate, edited, tc.rep)
			if v.Blocked != tc.blocked || v.Outside != tc.outside || v.ChangedPercent != tc.percent {
				t.Fatalf("verdict %+v", v)
			}
			var limits []string
			for _, r := range v.Reasons {
				limits = append(limits, r.Limit)
			}
			if !slices.Equal(limits, tc.limits) {
				t.Errorf("limits %v, want %v", limits, tc.limits)
			}
			for i, s := range tc.says {
				if !strings.Contains(v.Reasons[i].Message, s) {
					t.Errorf("reason %q does not say %q", v.Reasons[i].Message, s)
				}
			}
			if tc.noteSays != "" && (len(v.Notes) != 1 || !strings.Contains(v.Notes[0], tc.noteSays)) {
				t.Errorf("notes %q", v.Notes)
			}
			err := v.Err("public")
			if !tc.blocked {
				if err != nil {
					t.Errorf("not blocked, yet %v", err)
				}
				return
			}
			fields := model.ErrorFields(err)
			if model.ErrorCode(err) != model.ECONFLICT || len(fields) != len(v.Reasons) || fields[0].Field != "publishGate."+tc.limits[0] {
				t.Errorf("refusal %v %+v", err, fields)
			}
		})
	}
}
