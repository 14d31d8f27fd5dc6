package diff

// costBudget bounds the work of one search for a shortest script, counted
// as (lines in the region) x (edit steps searched): about a tenth of a
// second at worst. Regions that cannot be settled within it are given as
// a delete of the old lines and an insert of the new ones.
const costBudget = 1 << 24

// minSteps is the search depth always allowed, however large the region,
// so a few scattered edits in a long text still get a shortest script.
const minSteps = 64

// script returns an edit script turning a into b: a shortest one when the
// search for it fits the cost budget. Lines are compared by number after
// interning, so long equal lines cost no more than short ones.
func script(a, b []string) []Line {
	ids := map[string]int32{}
	intern := func(lines []string) []int32 {
		out := make([]int32, len(lines))
		for i, l := range lines {
			id, ok := ids[l]
			if !ok {
				id = int32(len(ids))
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	s := &search{a: intern(a), b: intern(b)}
	s.deleted = make([]bool, len(a))
	s.inserted = make([]bool, len(b))
	s.compare(0, len(a), 0, len(b))
	return s.edits(a, b)
}

// search is the state of Myers' linear-space algorithm ("An O(ND)
// Difference Algorithm and Its Variations", section 4b): find the middle
// snake of a shortest path, recurse on both sides of it. Only the two
// frontiers and one flag per line are kept, so memory is linear in the
// number of lines, where the greedy algorithm with a stored trace needs
// memory proportional to lines times edits.
type search struct {
	a, b              []int32
	deleted, inserted []bool
	fwd, bwd          []int // furthest-reaching x per diagonal, reused by every call
}

// compare marks the lines of a[a0:a1] to delete and of b[b0:b1] to insert.
func (s *search) compare(a0, a1, b0, b1 int) {
	for a0 < a1 && b0 < b1 && s.a[a0] == s.b[b0] {
		a0++
		b0++
	}
	for a0 < a1 && b0 < b1 && s.a[a1-1] == s.b[b1-1] {
		a1--
		b1--
	}
	switch {
	case a0 == a1:
		s.mark(a1, a1, b0, b1)
		return
	case b0 == b1:
		s.mark(a0, a1, b1, b1)
		return
	}
	x, y, u, v, ok := s.middleSnake(a0, a1, b0, b1, steps(a1-a0+b1-b0))
	if !ok {
		s.mark(a0, a1, b0, b1)
		return
	}
	// Each side holds at most half the edits of this region, so their
	// searches need at most the depth this one reached and always finish.
	s.compare(a0, x, b0, y)
	s.compare(u, a1, v, b1)
}

// steps is the search depth the budget allows a region of size lines.
func steps(size int) int {
	return max(costBudget/size, minSteps)
}

func (s *search) mark(a0, a1, b0, b1 int) {
	for i := a0; i < a1; i++ {
		s.deleted[i] = true
	}
	for j := b0; j < b1; j++ {
		s.inserted[j] = true
	}
}

// middleSnake searches from both ends of the region at once for the
// snake (diagonal run of equal lines, maybe empty) in the middle of a
// shortest edit path, returning its start (x, y) and end (u, v). It gives
// up, returning ok false, once either search has taken limit edit steps.
func (s *search) middleSnake(a0, a1, b0, b1, limit int) (x, y, u, v int, ok bool) {
	n, m := a1-a0, b1-b0
	delta := n - m
	odd := delta%2 != 0
	depth := min((n+m+1)/2, limit)
	// Diagonal k (x - y = k) of either search is at index off+k.
	off := depth + 1
	if size := 2*depth + 3; len(s.fwd) < size {
		s.fwd, s.bwd = make([]int, size), make([]int, size)
	}
	// fwd[k] is the furthest x reached on diagonal k from (a0, b0); bwd[k]
	// the furthest distance back from (a1, b1) on diagonal k counted from
	// that end, which is diagonal delta-k counted from the start.
	fwd, bwd := s.fwd, s.bwd
	fwd[off+1], bwd[off+1] = 0, 0
	for d := 0; d <= depth; d++ {
		for k := -d; k <= d; k += 2 {
			var px int
			if k == -d || (k != d && fwd[off+k-1] < fwd[off+k+1]) {
				px = fwd[off+k+1] // down: insert b's line
			} else {
				px = fwd[off+k-1] + 1 // right: delete a's line
			}
			py := px - k
			ex, ey := px, py
			for ex < n && ey < m && s.a[a0+ex] == s.b[b0+ey] {
				ex++
				ey++
			}
			fwd[off+k] = ex
			// With an odd delta the paths can first meet on a forward step,
			// against the backward frontier of the previous depth.
			if kb := delta - k; odd && kb >= -(d-1) && kb <= d-1 && ex+bwd[off+kb] >= n {
				return a0 + px, b0 + py, a0 + ex, b0 + ey, true
			}
		}
		for k := -d; k <= d; k += 2 {
			var px int
			if k == -d || (k != d && bwd[off+k-1] < bwd[off+k+1]) {
				px = bwd[off+k+1]
			} else {
				px = bwd[off+k-1] + 1
			}
			py := px - k
			ex, ey := px, py
			for ex < n && ey < m && s.a[a1-1-ex] == s.b[b1-1-ey] {
				ex++
				ey++
			}
			bwd[off+k] = ex
			if kf := delta - k; !odd && kf >= -d && kf <= d && fwd[off+kf]+ex >= n {
				return a1 - ex, b1 - ey, a1 - px, b1 - py, true
			}
		}
	}
	return 0, 0, 0, 0, false
}

// edits turns the marks into a script, deletions before insertions in
// each changed region: between two kept lines every old line is deleted
// and every new line inserted, so one pass over both texts orders them.
func (s *search) edits(a, b []string) []Line {
	out := make([]Line, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && s.deleted[i] {
			out = append(out, Line{Op: Delete, Text: a[i], OldLine: i + 1})
			i++
		}
		for j < len(b) && s.inserted[j] {
			out = append(out, Line{Op: Insert, Text: b[j], NewLine: j + 1})
			j++
		}
		if i < len(a) && j < len(b) {
			out = append(out, Line{Op: Equal, Text: a[i], OldLine: i + 1, NewLine: j + 1})
			i++
			j++
		}
	}
	return out
}
