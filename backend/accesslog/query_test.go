package accesslog

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"

	"github.com/routedeck/routedeck/backend/xds"
)

// fillMixed stores n entries of gateway g and n/4 of another, spread over
// n milliseconds before now with start times shared in pairs: rules r0-r4
// (every 13th none), hosts h0-h6, paths /a/<i%10> and /b/<i%3>, status 200
// with every 9th a 404 and every 31st a 503.
func fillMixed(t *testing.T, s *Store, g string, n int, now time.Time) {
	t.Helper()
	for _, gw := range []struct {
		name string
		n    int
	}{{g, n}, {"other", n / 4}} {
		var es []*accesslogdata.HTTPAccessLogEntry
		for i := range gw.n {
			route := "rule/r" + strconv.Itoa(i%5) + "/0"
			if i%13 == 0 {
				route = "default"
			}
			status := 200
			switch {
			case i%31 == 0:
				status = 503
			case i%9 == 0:
				status = 404
			}
			path := "/a/" + strconv.Itoa(i%10)
			if i%2 == 1 {
				path = "/b/" + strconv.Itoa(i%3)
			}
			start := now.Add(-time.Duration(gw.n-i/2*2) * time.Millisecond)
			es = append(es, entry(start, route, status, time.Millisecond, "h"+strconv.Itoa(i%7), path))
		}
		for len(es) > 0 {
			k := min(len(es), 100)
			offer(t, s, xds.AccessLogBatch{Gateway: gw.name, Received: now, Entries: es[:k]})
			es = es[k:]
		}
	}
}

// matches is the filter of q written out in Go, to check the store's SQL
// against.
func (q Query) matches(e Entry) bool {
	switch {
	case q.NoRule && e.Rule != "", q.Rule != "" && e.Rule != q.Rule,
		q.StatusMin > 0 && e.Status < q.StatusMin, q.StatusMax > 0 && e.Status > q.StatusMax,
		q.Host != "" && e.Host != strings.ToLower(q.Host), !strings.HasPrefix(e.Path, q.PathPrefix),
		!q.Since.IsZero() && e.Time.Before(q.Since), !q.Until.IsZero() && !e.Time.Before(q.Until):
		return false
	}
	return true
}

// TestListingIsBoundedAndComplete pages through every filter shape with
// a search bound far below the log's size: the pages together hold
// exactly the matching entries, newest first, each once; a rare filter's
// first page stops at the bound instead of reading the log.
func TestListingIsBoundedAndComplete(t *testing.T) {
	s, c := openTest(t, Options{})
	s.scanRows = 60
	now := c.now()
	fillMixed(t, s, "g", 1200, now)
	all, err := s.query(context.Background(), `SELECT `+columns+` FROM entries WHERE gateway = 'g' ORDER BY ts DESC, id DESC`)
	if err != nil || len(all) != 1200 {
		t.Fatalf("%d entries, %v", len(all), err)
	}
	mid := all[600].Time
	tests := map[string]Query{
		"all":                   {},
		"rule":                  {Rule: "r2"},
		"no rule":               {NoRule: true},
		"unknown rule":          {Rule: "nope"},
		"status":                {StatusMin: 404, StatusMax: 404},
		"class":                 {StatusMin: 500, StatusMax: 599},
		"range in a class":      {StatusMin: 500, StatusMax: 504},
		"range over classes":    {StatusMin: 400, StatusMax: 599},
		"status none":           {StatusMin: 502, StatusMax: 502},
		"host":                  {Host: "H3"},
		"host + status":         {Host: "h3", StatusMin: 404, StatusMax: 404},
		"path":                  {PathPrefix: "/a/7"},
		"path none":             {PathPrefix: "/c"},
		"rule + class":          {Rule: "r1", StatusMin: 500, StatusMax: 599},
		"rule + host + path":    {Rule: "r3", Host: "h1", PathPrefix: "/b/"},
		"window":                {Since: mid.Add(-200 * time.Millisecond), Until: mid},
		"rule + since":          {Rule: "r4", Since: mid},
		"path + until":          {PathPrefix: "/a/", Until: mid},
		"host + status + since": {Host: "h0", StatusMin: 400, StatusMax: 499, Since: mid},
	}
	for name, q := range tests {
		t.Run(name, func(t *testing.T) {
			q.Gateway, q.Limit = "g", 7
			var want []int64
			inWindow := 0
			for _, e := range all {
				if q.matches(e) {
					want = append(want, e.ID)
				}
				if (Query{Since: q.Since, Until: q.Until}).matches(e) {
					inWindow++
				}
			}
			var got []int64
			short := 0
			for pages := 0; ; pages++ {
				if pages > 1200 {
					t.Fatal("the listing does not end")
				}
				p, err := s.List(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Entries) > q.Limit {
					t.Fatalf("%d entries in a page of %d", len(p.Entries), q.Limit)
				}
				for _, e := range p.Entries {
					got = append(got, e.ID)
				}
				if p.Next == nil {
					break
				}
				if len(p.Entries) < q.Limit {
					short++
				}
				if q.Before != nil && *p.Next == *q.Before {
					t.Fatal("the listing does not move on")
				}
				q.Before = p.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d entries %v\nwant %d %v", len(got), got, len(want), want)
			}
			// The bound shows: a filter matching under one entry in
			// ten of what a search may examine gets short pages.
			if len(want) > 0 && len(want)*10 < inWindow && len(want) > q.Limit && short == 0 && q.filtered() {
				t.Fatalf("%d matches, no short page: the search was not bounded", len(want))
			}
		})
	}
}

// TestRareRuleSkipsMinutes: a listing of a rule with little traffic skips
// the minutes the rollups say it served nothing in, so no page comes
// back empty, though each examines a small part of the log.
func TestRareRuleSkipsMinutes(t *testing.T) {
	s, c := openTest(t, Options{})
	s.scanRows = 30
	now := c.now()
	// Three hours, an entry every 10 s; every 97th of rule "rare",
	// every other of those a 503.
	var es []*accesslogdata.HTTPAccessLogEntry
	for i := range 1080 {
		route, status := "rule/busy/0", 200
		if i%97 == 5 {
			route = "rule/rare/0"
			if i%2 == 0 {
				status = 503
			}
		}
		es = append(es, entry(now.Add(-3*time.Hour+time.Duration(i)*10*time.Second), route, status, time.Millisecond, "h", "/"))
	}
	for len(es) > 0 {
		// Received when sent: a start time more than an hour from
		// arrival is not believed.
		k := min(len(es), 100)
		offer(t, s, xds.AccessLogBatch{Gateway: "g", Received: es[k-1].CommonProperties.StartTime.AsTime(), Entries: es[:k]})
		es = es[k:]
	}
	for name, q := range map[string]Query{"rule": {Rule: "rare"}, "rule + class": {Rule: "rare", StatusMin: 500, StatusMax: 599},
		"rule + class + window": {Rule: "rare", StatusMin: 500, StatusMax: 599, Since: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)}} {
		t.Run(name, func(t *testing.T) {
			q.Gateway, q.Limit = "g", 2
			want, _, err := s.Entries(context.Background(), Query{Gateway: "g", Limit: 2000, Since: q.Since, Until: q.Until})
			if err != nil {
				t.Fatal(err)
			}
			var wantIDs, got []int64
			for _, e := range want {
				if q.matches(e) {
					wantIDs = append(wantIDs, e.ID)
				}
			}
			for pages := 0; ; pages++ {
				p, err := s.List(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Entries) == 0 && p.Next != nil {
					t.Fatalf("page %d empty, before %+v", pages, q.Before)
				}
				for _, e := range p.Entries {
					got = append(got, e.ID)
				}
				if p.Next == nil {
					break
				}
				q.Before = p.Next
			}
			if len(wantIDs) < 2 || !slices.Equal(got, wantIDs) {
				t.Fatalf("got %v, want %v", got, wantIDs)
			}
		})
	}
}

// TestFollowingIsBounded reads a gateway's entries after an id the way a
// follower does, with a bound far below the log's size: every matching
// entry once, in id order, each call examining at most the bound.
func TestFollowingIsBounded(t *testing.T) {
	s, c := openTest(t, Options{})
	s.scanRows = 50
	fillMixed(t, s, "g", 800, c.now())
	all, err := s.query(context.Background(), `SELECT `+columns+` FROM entries WHERE gateway = 'g' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]Query{"all": {}, "host + status": {Host: "h2", StatusMin: 404, StatusMax: 404}, "none": {PathPrefix: "/c"}} {
		t.Run(name, func(t *testing.T) {
			q.Gateway = "g"
			var want, got []int64
			for _, e := range all {
				if q.matches(e) {
					want = append(want, e.ID)
				}
			}
			after := int64(0)
			for calls := 0; ; calls++ {
				if calls > 1000 {
					t.Fatal("following does not catch up")
				}
				tail, err := s.Since(context.Background(), q, after, 10)
				if err != nil {
					t.Fatal(err)
				}
				if tail.After-after > int64(s.scanRows) || tail.After < after || len(tail.Entries) > 10 {
					t.Fatalf("after %d: %d entries, next after %d", after, len(tail.Entries), tail.After)
				}
				for _, e := range tail.Entries {
					got = append(got, e.ID)
				}
				after = tail.After
				if !tail.More {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		})
	}
}

// TestEntriesReadsOnlyThePagesItNeeds: a whole answer of a few entries
// reads a few bounded pages, and finds whether more follow with one
// more entry, not by walking the rest of the log (which made a replay of
// an hour of traffic take minutes).
func TestEntriesReadsOnlyThePagesItNeeds(t *testing.T) {
	s, c := openTest(t, Options{})
	s.scanRows = 50
	fillMixed(t, s, "g", 2000, c.now())
	for _, q := range []Query{
		{Gateway: "g", Limit: 10},
		{Gateway: "g", Host: "h0", Limit: 10},
	} {
		before := s.pagesRead.Load()
		got, more, err := s.Entries(context.Background(), q)
		if err != nil || len(got) != 10 || !more {
			t.Fatalf("%+v: %d entries, more %v, %v", q, len(got), more, err)
		}
		if pages := s.pagesRead.Load() - before; pages > 5 {
			t.Errorf("%+v: %d pages read for 10 entries", q, pages)
		}
	}
	// The end of the log: every match, and none said to follow.
	got, more, err := s.Entries(context.Background(), Query{Gateway: "other", Limit: 10_000})
	if err != nil || len(got) != 500 || more {
		t.Fatalf("whole gateway: %d entries, more %v, %v", len(got), more, err)
	}
}
