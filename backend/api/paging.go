package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// Every list is paged the same way: ?limit (default store.DefaultPageSize,
// capped at store.MaxPageSize, and the answer says which applied), then
// either ?offset or the ?cursor a previous answer gave as "next".
//
// The cursor is opaque to clients so that it can change: today it holds the
// offset of the next page and a digest of the request's filters, so a
// cursor sent with other filters is refused rather than answered with a
// page of some other list.
type page struct {
	limit, offset int
	filter        string // digest of the query's filters
}

// readPage reads the page a request asks for, reporting every bad
// parameter at once.
func readPage(q url.Values) (page, error) {
	var p model.Problems
	num := func(name string) int {
		v := q.Get(name)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			p.Add(name, "must be a non-negative integer")
		}
		return n
	}
	pg := page{limit: num("limit"), offset: num("offset"), filter: filterDigest(q)}
	switch {
	case pg.limit == 0:
		pg.limit = store.DefaultPageSize
	case pg.limit > store.MaxPageSize:
		pg.limit = store.MaxPageSize
	}
	if c := q.Get("cursor"); c != "" {
		if q.Get("offset") != "" {
			p.Add("cursor", "give either cursor or offset, not both")
		}
		off, ok := decodeCursor(c, pg.filter)
		if !ok {
			p.Add("cursor", "not a cursor of this list with these filters: send back the \"next\" of the previous page with the same filters")
		}
		pg.offset = off
	}
	return pg, p.Err()
}

// filterDigest identifies a list request's filters: every parameter but
// the paging ones.
func filterDigest(q url.Values) string {
	f := url.Values{}
	for k, v := range q {
		if k != "limit" && k != "offset" && k != "cursor" {
			f[k] = v
		}
	}
	sum := sha256.Sum256([]byte(f.Encode())) // Encode sorts by key
	return hex.EncodeToString(sum[:4])
}

func encodeCursor(offset int, filter string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%s", offset, filter)))
}

func decodeCursor(c, filter string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	off, f, ok := strings.Cut(string(raw), ".")
	n, err := strconv.Atoi(off)
	if !ok || err != nil || n < 0 || f != filter {
		return 0, false
	}
	return n, true
}

// writePage answers with one page of a list. total < 0 means the total is
// not known (the audit log); then a full page is taken to mean there may
// be more.
func writePage[T any](w http.ResponseWriter, r *http.Request, pg page, items []T, total int) {
	if items == nil {
		items = []T{}
	}
	resp := listResponse[T]{Items: items, Limit: pg.limit, MaxLimit: store.MaxPageSize}
	end := pg.offset + len(items)
	more := len(items) > 0 && (total >= 0 && end < total || total < 0 && len(items) >= pg.limit)
	if total >= 0 {
		resp.Total = &total
	}
	if more {
		resp.Next = encodeCursor(end, pg.filter)
		q := r.URL.Query()
		q.Del("offset")
		q.Set("cursor", resp.Next)
		w.Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, q.Encode()))
	}
	writeJSON(w, http.StatusOK, resp)
}

// writeSlice pages a list the store returns whole (users, tokens, route
// tests, published versions: lists an operator makes one by one).
func writeSlice[T any](s *server, w http.ResponseWriter, r *http.Request, all []T) {
	pg, err := readPage(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lo := min(pg.offset, len(all))
	hi := min(lo+pg.limit, len(all))
	writePage(w, r, pg, all[lo:hi], len(all))
}
