package export

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
)

func pred(field, op, value string, values ...string) model.Condition {
	return model.Condition{Field: field, Op: op, Value: value, Values: values}
}

func TestAlternatives(t *testing.T) {
	tests := map[string]struct {
		when    model.Condition
		want    [][]string // per alternative: "path field op value"
		wantErr string
	}{
		"empty matches everything": {model.Condition{}, [][]string{{}}, ""},
		"one predicate":            {pred("path", "prefix", "/a"), [][]string{{"when path prefix /a"}}, ""},
		"all": {model.Condition{All: []model.Condition{pred("host", "equals", "a.com"), pred("method", "equals", "GET")}},
			[][]string{{"when.all[0] host equals a.com", "when.all[1] method equals GET"}}, ""},
		"any of predicate and all": {model.Condition{Any: []model.Condition{
			pred("header[x]", "present", ""),
			{All: []model.Condition{pred("path", "exact", "/b"), pred("query[q]", "equals", "1")}},
		}}, [][]string{{"when.any[0] header[x] present "}, {"when.any[1].all[0] path exact /b", "when.any[1].all[1] query[q] equals 1"}}, ""},
		"in expands, host in does not": {model.Condition{All: []model.Condition{
			pred("host", "in", "", "a.com", "b.com"), pred("method", "in", "", "GET", "HEAD"),
		}}, [][]string{
			{"when.all[0] host in ", "when.all[1] method equals GET"},
			{"when.all[0] host in ", "when.all[1] method equals HEAD"},
		}, ""},
		"not":            {model.Condition{Not: &model.Condition{Field: "path", Op: "prefix", Value: "/x"}}, nil, "when.not: negation"},
		"nested in all":  {model.Condition{All: []model.Condition{{Any: []model.Condition{pred("path", "prefix", "/")}}}}, nil, "when.all[0]: nested"},
		"any inside any": {model.Condition{Any: []model.Condition{{Any: []model.Condition{pred("path", "prefix", "/")}}}}, nil, "when.any[0]: any inside any"},
		"too many": {model.Condition{All: []model.Condition{
			pred("method", "in", "", "A", "B", "C", "D", "E"), pred("header[x]", "in", "", "1", "2", "3", "4"),
		}}, nil, "more than 16"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			alts, err := Alternatives(tc.when)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, alt := range alts {
				row := []string{}
				for _, p := range alt {
					row = append(row, p.Path+" "+p.Field+" "+p.Op+" "+p.Value)
				}
				got = append(got, row)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestGuarded(t *testing.T) {
	tests := map[string]struct {
		then  model.Action
		field string
	}{
		"auth":   {model.Action{Auth: &model.Auth{Basic: &model.BasicAuth{}}}, "then.auth"},
		"access": {model.Action{Access: &model.Access{Deny: []string{"10.0.0.0/8"}}}, "then.access"},
		"open":   {model.Action{RateLimit: &model.RateLimit{Requests: 1}}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var rep Report
			r := &model.Route{Meta: model.Meta{Name: "r"}, Then: tc.then}
			if got := Guarded(&rep, r); got != (tc.field != "") {
				t.Fatalf("Guarded = %v", got)
			}
			if tc.field != "" && (len(rep.Issues) != 1 || rep.Issues[0].Field != tc.field || !rep.Issues[0].Skipped) {
				t.Errorf("report %+v", rep.Issues)
			}
		})
	}
}
