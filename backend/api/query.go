package api

import (
	"net/http"
	"slices"
	"sort"

	"github.com/routedeck/routedeck/backend/model"
)

// onlyQuery rejects query parameters other than allowed, and any given
// twice: a misspelt parameter must not be ignored silently.
func onlyQuery(r *http.Request, allowed ...string) error {
	return onlyQueryRepeating(r, nil, allowed...)
}

// onlyQueryRepeating is onlyQuery where the parameters named in
// repeatable (also allowed) may be given several times.
func onlyQueryRepeating(r *http.Request, repeatable []string, allowed ...string) error {
	allowed = append(slices.Clip(allowed), repeatable...)
	var problems model.Problems
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case !slices.Contains(allowed, k):
			problems.Add(k, "unknown query parameter")
		case len(q[k]) > 1 && !slices.Contains(repeatable, k):
			problems.Add(k, "given %d times; give it once", len(q[k]))
		}
	}
	return problems.Err()
}
