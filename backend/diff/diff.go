// Package diff computes line-based differences between two texts and prints
// them in the unified format ("--- a", "+++ b", "@@ -l,n +l,n @@") that
// reviewers know from git and patch.
//
// Every write to the store records a diff, so the cost of one must not
// depend on what a hostile editor puts in an object. Memory is linear in
// the number of lines (Myers' divide-and-conquer on the middle snake, see
// myers.go), time is bounded by an edit-cost budget past which a changed
// region is given as a plain delete-and-insert (still a correct script,
// just not a shortest one), and texts past MaxLines or MaxBytes are not
// diffed at all: callers get ErrTooLarge and record that instead.
package diff

import (
	"fmt"
	"strings"
)

// Size caps. A text past either one is not diffed.
const (
	MaxLines = 50_000
	MaxBytes = 4 << 20
)

// ErrTooLarge is returned for a text past MaxLines or MaxBytes.
var ErrTooLarge = fmt.Errorf("too large to diff (over %d lines or %d MiB)", MaxLines, MaxBytes>>20)

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

// TooLarge reports whether a or b is past the size caps.
func TooLarge(a, b string) bool {
	return tooLarge(a) || tooLarge(b)
}

func tooLarge(s string) bool {
	// The byte cap is checked first so a huge text is not scanned.
	return len(s) > MaxBytes || strings.Count(s, "\n") > MaxLines
}

// Lines returns an edit script turning a into b, line by line: a shortest
// one unless the changes are too many to search for it within the cost
// budget. Deletions come before insertions within each changed region.
func Lines(a, b string) ([]Line, error) {
	if TooLarge(a, b) {
		return nil, ErrTooLarge
	}
	edits := script(split(a), split(b))
	for i := range edits {
		edits[i].Text, _ = noNewline(edits[i].Text)
	}
	return edits, nil
}

// Unified returns the unified diff of a and b with the given header names and
// context lines (negative means DefaultContext). Equal texts give "".
// A missing final newline is marked "\ No newline at end of file" so the
// output applies with patch(1). Texts past the size caps give ErrTooLarge.
func Unified(oldName, newName, a, b string, context int) (string, error) {
	if a == b {
		return "", nil
	}
	if TooLarge(a, b) {
		return "", ErrTooLarge
	}
	if context < 0 {
		context = DefaultContext
	}
	edits := script(split(a), split(b))
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", oldName, newName)
	// Lines before each hunk are counted once over the whole script, not
	// again for every hunk.
	var oldBefore, newBefore, at int
	for _, h := range hunks(edits, context) {
		for ; at < h.from; at++ {
			oldBefore, newBefore = advance(edits[at].Op, oldBefore, newBefore)
		}
		writeHunk(&sb, edits[h.from:h.to], oldBefore, newBefore)
	}
	return sb.String(), nil
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

// writeHunk prints one hunk, preceded by oldBefore and newBefore lines of
// the texts. Those counts also give the position of an empty side: diff -u
// addresses it by the line before it ("-0,0" for an empty old file).
func writeHunk(sb *strings.Builder, hunk []Line, oldBefore, newBefore int) {
	var oldCount, newCount int
	for _, e := range hunk {
		oldCount, newCount = advance(e.Op, oldCount, newCount)
	}
	fmt.Fprintf(sb, "@@ -%s +%s @@\n", rng(oldBefore, oldCount), rng(newBefore, newCount))
	for _, e := range hunk {
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

// advance counts one edit's lines on each side.
func advance(op Op, oldN, newN int) (int, int) {
	if op != Insert {
		oldN++
	}
	if op != Delete {
		newN++
	}
	return oldN, newN
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
