package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written as Go duration text ("1.5s", "250ms")
// in JSON and YAML, the way operators write timeouts.
type Duration time.Duration

// maxDurationSeconds is the longest duration a number of seconds may
// give: time.Duration's range, rounded down, so the conversion cannot wrap.
const maxDurationSeconds = float64(1<<63-1)/float64(time.Second) - 1

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts duration text; a bare number is seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration must be text like \"5s\" or a number of seconds")
		}
		if secs > maxDurationSeconds || secs < -maxDurationSeconds {
			return fmt.Errorf("duration of %g seconds is out of range (at most %.0f)", secs, maxDurationSeconds)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use units like 250ms, 5s, 1m", s)
	}
	*d = Duration(v)
	return nil
}
