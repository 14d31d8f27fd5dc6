package replay

import (
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		req  Request
		want map[string]string // field -> part of the message; nil: valid
	}{
		"captured":           {req: Request{Source: Source{Since: "24h"}}},
		"har, versions":      {req: Request{Source: Source{HAR: "{}"}, From: "v3", To: "live"}},
		"log, format":        {req: Request{Source: Source{Log: "x", Format: FormatJSON}, From: "draft", To: "2"}},
		"tests, examples":    {req: Request{Source: Source{Tests: true}, Examples: MaxExamples}},
		"no source":          {req: Request{}, want: map[string]string{"source": "give one of"}},
		"two sources":        {req: Request{Source: Source{Since: "1h", Tests: true}}, want: map[string]string{"source": "captured, tests"}},
		"bad window":         {req: Request{Source: Source{Since: "yesterday"}}, want: map[string]string{"source.since": "duration"}},
		"negative window":    {req: Request{Source: Source{Since: "-1h"}}, want: map[string]string{"source.since": "positive"}},
		"window too long":    {req: Request{Source: Source{Since: "721h"}}, want: map[string]string{"source.since": "30 days"}},
		"format without log": {req: Request{Source: Source{HAR: "{}", Format: FormatEnvoy}}, want: map[string]string{"source.format": "only with log"}},
		"unknown format":     {req: Request{Source: Source{Log: "x", Format: "apache"}}, want: map[string]string{"source.format": "envoy or json"}},
		"all at once": {
			req:  Request{Source: Source{Tests: true}, From: "v0", To: "latest", Examples: MaxExamples + 1},
			want: map[string]string{"from": "v3", "to": `"latest"`, "examples": "between 0 and 20"},
		},
		"too large": {
			req:  Request{Source: Source{Log: strings.Repeat("x", MaxUploadBytes+1)}},
			want: map[string]string{"source.log": "at most"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.req.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("want EINVALID, got %v", err)
			}
			got := map[string]string{}
			for _, f := range model.ErrorFields(err) {
				got[f.Field] = f.Message
			}
			if len(got) != len(tc.want) {
				t.Errorf("fields %v, want %v", got, tc.want)
			}
			for field, part := range tc.want {
				if !strings.Contains(got[field], part) {
					t.Errorf("%s: %q does not say %q", field, got[field], part)
				}
			}
		})
	}
}

func TestRefs(t *testing.T) {
	tests := map[string]struct {
		from, to string
		want     [2]string
	}{
		"defaults":   {want: [2]string{"live", "draft"}},
		"versions":   {from: "V2", to: "7", want: [2]string{"v2", "v7"}},
		"swapped":    {from: "draft", to: "live", want: [2]string{"draft", "live"}},
		"same twice": {from: "live", to: "LIVE", want: [2]string{"live", "live"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := Request{Source: Source{Tests: true}, From: tc.from, To: tc.to}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			from, to := r.Refs()
			if got := [2]string{from.String(), to.String()}; got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "v", "v-1", "+3", "v+3", "0", "1.5", "draft2"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

func TestSummaryText(t *testing.T) {
	if got := SummaryText(3, 120); got != "3 of 120 requests would change" {
		t.Errorf("got %q", got)
	}
	if got := SummaryText(0, 1); got != "0 of 1 request would change" {
		t.Errorf("got %q", got)
	}
}
