package model

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestPublishGateValidate(t *testing.T) {
	pct := func(v float64) *float64 { return &v }
	tests := map[string]struct {
		gate PublishGate
		want []string
	}{
		"share only":         {gate: PublishGate{MaxChangedPercent: pct(5)}},
		"outside rules only": {gate: PublishGate{BlockOutsideEditedRules: true}},
		"both, a window":     {gate: PublishGate{Window: Duration(time.Hour), MaxChangedPercent: pct(0.25), BlockOutsideEditedRules: true}},
		"no change allowed":  {gate: PublishGate{MaxChangedPercent: pct(0)}},
		"the longest window": {gate: PublishGate{Window: Duration(MaxGateWindow), BlockOutsideEditedRules: true}},
		"no limit":           {gate: PublishGate{Window: Duration(time.Hour)}, want: []string{"publishGate: sets no limit"}},
		"window too short":   {gate: PublishGate{Window: Duration(time.Second), BlockOutsideEditedRules: true}, want: []string{"publishGate.window: must be from 1m to 720h"}},
		"window too long":    {gate: PublishGate{Window: Duration(31 * 24 * time.Hour), BlockOutsideEditedRules: true}, want: []string{"publishGate.window: must be from 1m"}},
		"negative window":    {gate: PublishGate{Window: Duration(-time.Hour), BlockOutsideEditedRules: true}, want: []string{"publishGate.window"}},
		"over 100":           {gate: PublishGate{MaxChangedPercent: pct(101)}, want: []string{"publishGate.maxChangedPercent: must be a percentage between 0 and 100"}},
		"negative":           {gate: PublishGate{MaxChangedPercent: pct(-1)}, want: []string{"publishGate.maxChangedPercent: must be a percentage"}},
		"NaN":                {gate: PublishGate{MaxChangedPercent: pct(math.NaN())}, want: []string{"publishGate.maxChangedPercent: must be a percentage"}},
		"three decimals":     {gate: PublishGate{MaxChangedPercent: pct(0.125)}, want: []string{"publishGate.maxChangedPercent: at most two decimals"}},
		"every problem at once": {gate: PublishGate{Window: Duration(time.Second), MaxChangedPercent: pct(200)},
			want: []string{"publishGate.window", "publishGate.maxChangedPercent"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := validGateway()
			g.PublishGate = &tc.gate
			checkProblems(t, g.Validate(), tc.want)
		})
	}
}

func TestPublishGateJSON(t *testing.T) {
	var g Gateway
	if err := json.Unmarshal([]byte(`{"name":"public","publishGate":{"window":"6h","maxChangedPercent":2.5}}`), &g); err != nil {
		t.Fatal(err)
	}
	if g.PublishGate == nil || g.PublishGate.WindowOrDefault() != 6*time.Hour || *g.PublishGate.MaxChangedPercent != 2.5 {
		t.Fatalf("decoded %+v", g.PublishGate)
	}
	if (&PublishGate{}).WindowOrDefault() != DefaultGateWindow {
		t.Error("the default window is not 24h")
	}
}
