// Package bombs builds inputs meant to exhaust whatever reads them, for
// the tests of the limits that stop them: YAML alias bombs and streams
// that never end.
package bombs

import (
	"fmt"
	"strings"
)

// Laughs returns the items of a YAML block list, each line starting with
// indent, that form a "billion laughs": the first item is first (a YAML
// value, anchored), every next one a flow list of ten aliases to the one
// before, so item n stands for 10^n copies of the first. Item n is on
// line n+1 of the text.
func Laughs(indent, first string, levels int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s- &l0 %s\n", indent, first)
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "%s- &l%d [", indent, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// Endless is a stream that never ends, as /dev/zero or `yes` are. N counts
// the bytes read from it.
type Endless struct{ N int64 }

func (e *Endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '#'
	}
	e.N += int64(len(p))
	return len(p), nil
}
