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
		case len(q[k]) > 1:
			problems.Add(k, "given %d times; give it once", len(q[k]))
		}
	}
	return problems.Err()
}
