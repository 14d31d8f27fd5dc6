package main

import (
	"testing"
)

// oldestAcked reads the fleet's position from its per-version counts.
func TestOldestAcked(t *testing.T) {
	tests := map[string]struct {
		byVersion map[string]int
		n         int
		want      int64
		ok        bool
	}{
		"all at one":          {map[string]int{"7": 3}, 3, 7, true},
		"spread":              {map[string]int{"7": 1, "9": 1, "8": 1}, 3, 7, true},
		"suffixed label":      {map[string]int{"7.3fa2": 2, "8": 1}, 3, 7, true},
		"one not yet counted": {map[string]int{"7": 2}, 3, 0, false},
		"one with nothing":    {map[string]int{"7": 2, "": 1}, 3, 0, false},
		"none":                {map[string]int{}, 3, 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := oldestAcked(tc.byVersion, tc.n)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("oldestAcked = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// The churn run edits every host and path route once before any twice.
func TestChurnRoutes(t *testing.T) {
	routes := churnRoutes(10000)
	seen := map[string]bool{}
	for _, r := range routes {
		if seen[r] {
			t.Fatalf("%s visited twice", r)
		}
		seen[r] = true
	}
	if len(routes) != 9990 || seen["route-00999"] {
		t.Fatalf("%d routes (route-00999 %v), want the 9,990 host and path routes", len(routes), seen["route-00999"])
	}
}

func TestRSSGrowth(t *testing.T) {
	got, quarter, lastMax := rssGrowth([]float64{90, 100, 104, 101, 103, 102, 108, 105})
	if quarter != 104 || lastMax != 108 || got < 3.84 || got > 3.85 {
		t.Fatalf("rssGrowth = %v%%, %v, %v; want 3.85%%, 104, 108", got, quarter, lastMax)
	}
}
