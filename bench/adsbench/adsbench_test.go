package adsbench

import (
	"context"
	"testing"
	"time"
)

// TestRunFanOut measures a small fleet against every server: every publish
// must reach every client, and the figures must be filled in.
func TestRunFanOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range []Server{Routedeck, RoutedeckMTLS, GoControlPlane} {
		t.Run(s.Name(), func(t *testing.T) {
			r, err := RunFanOut(ctx, s, 5, 20, 3)
			if err != nil {
				t.Fatal(err)
			}
			if r.Server != s.Name() || r.Clients != 5 || r.Publishes != 3 {
				t.Errorf("result = %+v", r)
			}
			if r.P50Ms <= 0 || r.MaxMs < r.P50Ms || r.ConnectMs <= 0 {
				t.Errorf("timings = %+v", r)
			}
		})
	}
}

func TestProcStatus(t *testing.T) {
	rss, err := ProcStatus("VmRSS")
	if err != nil || rss <= 0 {
		t.Errorf("VmRSS = %v, %v", rss, err)
	}
	if _, err := ProcStatus("NoSuchField"); err == nil {
		t.Error("want an error for a missing field")
	}
}

// TestRunEdit: one-route edits reach every client, whole route
// configurations over state of the world and one virtual host over delta
// with VHDS.
func TestRunEdit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, vhds := range []bool{false, true} {
		r, err := RunEdit(ctx, vhds, 5, 200, 20, 3)
		if err != nil {
			t.Fatal(err)
		}
		if r.Clients != 5 || r.Edits != 3 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.MaxMs < r.P99Ms || r.ConnectMs <= 0 {
			t.Errorf("result = %+v", r)
		}
	}
}
