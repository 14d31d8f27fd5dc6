package model

import (
	"math"
	"time"
)

// PublishGate holds back publishes of a gateway that would change too much
// of its real traffic. Before a publish, the requests the gateway served
// over Window (its request log) are replayed against the live version and
// the draft about to be published; the publish is refused (an admin may
// override it, which is audited) when one of the limits set is passed.
type PublishGate struct {
	// Window is how far back the captured requests go; default 24h, from
	// one minute to 30 days.
	Window Duration `json:"window,omitempty"`
	// MaxChangedPercent refuses a publish that would change the outcome
	// of more than this percentage of the replayed requests, 0 to 100
	// (0: any change). Unset sets no limit.
	MaxChangedPercent *float64 `json:"maxChangedPercent,omitempty"`
	// BlockOutsideEditedRules refuses a publish that would change a
	// request no edited rule decides, before or after: a change the
	// draft's author did not set out to make (a rule that now shadows
	// another's traffic counts as edited, the gateway's default answer
	// does not).
	BlockOutsideEditedRules bool `json:"blockOutsideEditedRules,omitempty"`
}

// Bounds of PublishGate.Window.
const (
	DefaultGateWindow = 24 * time.Hour
	MinGateWindow     = time.Minute
	MaxGateWindow     = 30 * 24 * time.Hour
)

// WindowOrDefault is Window, DefaultGateWindow when unset.
func (g *PublishGate) WindowOrDefault() time.Duration {
	if g.Window == 0 {
		return DefaultGateWindow
	}
	return g.Window.Std()
}

func validatePublishGate(p *Problems, path string, g *PublishGate) {
	if w := g.Window.Std(); w != 0 && (w < MinGateWindow || w > MaxGateWindow) {
		p.Add(path+".window", "must be from 1m to 720h (30 days), not %s", w)
	}
	if m := g.MaxChangedPercent; m != nil {
		switch v := *m; {
		case math.IsNaN(v) || v < 0 || v > 100:
			p.Add(path+".maxChangedPercent", "must be a percentage between 0 and 100")
		case math.Abs(v*100-math.Round(v*100)) > 1e-6:
			p.Add(path+".maxChangedPercent", "at most two decimals (%v)", v)
		}
	}
	if g.MaxChangedPercent == nil && !g.BlockOutsideEditedRules {
		p.Add(path, "sets no limit: give maxChangedPercent, blockOutsideEditedRules or both (or remove publishGate)")
	}
}
