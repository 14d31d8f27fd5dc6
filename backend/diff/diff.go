// Package diff computes line-based differences between two texts and prints
// them in the unified format ("--- a", "+++ b", "@@ -l,n +l,n @@") that
// reviewers know from git and patch.
//
// The edit script is a shortest one, found with Myers' O(ND) algorithm, so
// small changes to large documents stay cheap.
package diff

import (
	"fmt"
	"strings"
)

// Op is the kind of one line edit.
type Op int

// Edit operations.
const (
	Equal Op = iota
	Delete
	Insert
)

// Line is one line of an edit script. Text carries no trailing newline.
type Line struct {
	Op   Op
	Text string
	// OldLine and NewLine are 1-based line numbers; 0 where the line does not
	// exist on that side (an insert has no old line, a delete no new line).
	OldLine, NewLine int
}

// DefaultContext is the number of unchanged lines shown around each change,
// as in `diff -u`.
const DefaultContext = 3

// Lines returns a shortest edit script turning a into b, line by line.
// Deletions come before insertions within each changed region.
func Lines(a, b string) []Line {
	edits := script(split(a), split(b))
	for i := range edits {
		edits[i].Text, _ = noNewline(edits[i].Text)
	}
	return edits
}

// Unified returns the unified diff of a and b with the given header names and
// context lines (negative means DefaultContext). Equal texts give "".
// A missing final newline is marked "\ No newline at end of file" so the
// output applies with patch(1).
func Unified(oldName, newName, a, b string, context int) string {
	if a == b {
		return ""
	}
	if context < 0 {
		context = DefaultContext
	}
	edits := script(split(a), split(b))
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", oldName, newName)
	for _, h := range hunks(edits, context) {
		writeHunk(&sb, edits, h)
	}
	return sb.String()
}

// split cuts text into lines without their newlines. A final newline does not
// start another line; "" has no lines. When the text does not end in a
// newline its last line keeps a "\n" as a marker, so "x" and "x\n" compare
// as different lines (as they are to patch) and the printer knows to say so.
func split(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = l[:len(l)-1]
		} else {
			lines[i] = l + "\n"
		}
	}
	return lines
}

// noNewline strips the missing-newline marker that split leaves on a last
// line and reports whether it was there.
func noNewline(text string) (string, bool) {
	if t, ok := strings.CutSuffix(text, "\n"); ok {
		return t, true
	}
	return text, false
}

// script runs Myers' greedy forward search, keeping a copy of the furthest
// reaching paths per edit distance, then walks back to recover the edits.
func script(a, b []string) []Line {
	n, m := len(a), len(b)
	max := n + m
	if max == 0 {
		return nil
	}
	offset := max + 1
	v := make([]int, 2*max+3)
	var trace [][]int
	var d int
search:
	for d = 0; d <= max; d++ {
		snapshot := make([]int, len(v))
		copy(snapshot, v)
		trace = append(trace, snapshot)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
				x = v[offset+k+1] // step down: insert from b
			} else {
				x = v[offset+k-1] + 1 // step right: delete from a
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[offset+k] = x
			if x >= n && y >= m {
				break search
			}
		}
	}

	// Walk back from (n, m) through the saved frontiers, collecting edits in
	// reverse.
	rev := make([]Line, 0, n+m)
	x, y := n, m
	for ; d > 0; d-- {
		vd := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && vd[offset+k-1] < vd[offset+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vd[offset+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, Line{Op: Equal, Text: a[x], OldLine: x + 1, NewLine: y + 1})
		}
		if x == prevX {
			y--
			rev = append(rev, Line{Op: Insert, Text: b[y], NewLine: y + 1})
		} else {
			x--
			rev = append(rev, Line{Op: Delete, Text: a[x], OldLine: x + 1})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, Line{Op: Equal, Text: a[x], OldLine: x + 1, NewLine: y + 1})
	}
	out := make([]Line, len(rev))
	for i := range rev {
		out[len(rev)-1-i] = rev[i]
	}
	return normalize(out)
}

// normalize orders each run of changes as all deletions, then all insertions,
// the form unified diffs are read in. Myers may interleave them.
func normalize(edits []Line) []Line {
	for i := 0; i < len(edits); {
		if edits[i].Op == Equal {
			i++
			continue
		}
		j := i
		for j < len(edits) && edits[j].Op != Equal {
			j++
		}
		run := make([]Line, 0, j-i)
		for _, e := range edits[i:j] {
			if e.Op == Delete {
				run = append(run, e)
			}
		}
		for _, e := range edits[i:j] {
			if e.Op == Insert {
				run = append(run, e)
			}
		}
		copy(edits[i:j], run)
		i = j
	}
	return edits
}

type span struct{ from, to int }

// hunks groups changes whose context would touch or overlap into one hunk.
func hunks(edits []Line, context int) []span {
	var out []span
	for i := 0; i < len(edits); i++ {
		if edits[i].Op == Equal {
			continue
		}
		start := max(i-context, 0)
		end := i
		// Extend over changes and the equal gaps between them that are short
		// enough to be shown as context of both neighbours.
		for j := i; j < len(edits); j++ {
			if edits[j].Op != Equal {
				end = j + 1
				continue
			}
			if j-end >= 2*context {
				break
			}
		}
		stop := min(end+context, len(edits))
		if len(out) > 0 && start <= out[len(out)-1].to {
			out[len(out)-1].to = stop
		} else {
			out = append(out, span{start, stop})
		}
		i = end - 1
	}
	return out
}

// writeHunk prints edits[from:to]. Line numbers come from counting what
// precedes the hunk, which also gives the position of an empty side: diff -u
// addresses it by the line before it ("-0,0" for an empty old file).
func writeHunk(sb *strings.Builder, edits []Line, sp span) {
	var oldBefore, newBefore int
	for _, e := range edits[:sp.from] {
		if e.Op != Insert {
			oldBefore++
		}
		if e.Op != Delete {
			newBefore++
		}
	}
	var oldCount, newCount int
	for _, e := range edits[sp.from:sp.to] {
		if e.Op != Insert {
			oldCount++
		}
		if e.Op != Delete {
			newCount++
		}
	}
	fmt.Fprintf(sb, "@@ -%s +%s @@\n", rng(oldBefore, oldCount), rng(newBefore, newCount))
	for _, e := range edits[sp.from:sp.to] {
		prefix := " "
		switch e.Op {
		case Delete:
			prefix = "-"
		case Insert:
			prefix = "+"
		}
		text, missing := noNewline(e.Text)
		sb.WriteString(prefix)
		sb.WriteString(text)
		sb.WriteByte('\n')
		if missing {
			sb.WriteString("\\ No newline at end of file\n")
		}
	}
}

// rng formats a hunk range from the count of lines before it and its length.
func rng(before, count int) string {
	start := before + 1
	if count == 0 {
		start = before
	}
	if count == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}
