package accesslog

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/routedeck/routedeck/backend/xds"
)

// TestFilesRotate writes entries of two gateways past the size bound:
// each gateway's file rotates, no file passes the bound, no more than
// MaxFiles old files remain, and the lines kept are the newest entries,
// in order, each one whole JSON.
func TestFilesRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	s, c := openTest(t, Options{Files: FileOptions{Dir: dir, MaxBytes: 4096, MaxFiles: 2}})
	now := c.now()
	const n = 200
	for i := range n {
		for _, gw := range []string{"public", "sandbox/public"} {
			offer(t, s, xds.AccessLogBatch{Gateway: gw, Node: "n", Received: now, Entries: []*accesslogdata.HTTPAccessLogEntry{
				entry(now, "rule/shop/0", 200, time.Millisecond, "shop.example.com", "/item/"+strconv.Itoa(i)),
			}})
		}
	}
	// A name no gateway can have gets no file.
	offer(t, s, xds.AccessLogBatch{Gateway: "../escape", Node: "n", Received: now, Entries: []*accesslogdata.HTTPAccessLogEntry{
		entry(now, "rule/shop/0", 200, time.Millisecond, "shop.example.com", "/x"),
	}})
	if err := s.Close(); err != nil { // writes what the files have queued
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	sort.Strings(names)
	want := []string{"public.jsonl", "public.jsonl.1", "public.jsonl.2", "sandbox_public.jsonl", "sandbox_public.jsonl.1", "sandbox_public.jsonl.2"}
	if len(names) != len(want) {
		t.Fatalf("files = %v, want %v", names, want)
	}
	for i, name := range names {
		if filepath.Base(name) != want[i] {
			t.Fatalf("files = %v, want %v", names, want)
		}
	}
	for _, gw := range []string{"public", "sandbox_public"} {
		var paths []string
		for _, suffix := range []string{".2", ".1", ""} { // oldest first
			paths = append(paths, filepath.Join(dir, gw+".jsonl"+suffix))
		}
		var got []string
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > 4096 || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %d bytes, mode %v; want at most 4096, 0600", p, fi.Size(), fi.Mode().Perm())
			}
			f, _ := os.Open(p)
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var e map[string]any
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("%s: a line is not JSON: %v: %s", p, err, sc.Text())
				}
				if _, ok := e["id"]; ok || e["rule"] != "shop" {
					t.Fatalf("%s: line %s", p, sc.Text())
				}
				got = append(got, e["path"].(string))
			}
			f.Close()
		}
		if len(got) < 20 || len(got) >= n {
			t.Fatalf("%s: %d lines kept of %d", gw, len(got), n)
		}
		for i, path := range got { // the newest, in order, up to the last
			if want := "/item/" + strconv.Itoa(n-len(got)+i); path != want {
				t.Fatalf("%s: line %d is %s, want %s", gw, i, path, want)
			}
		}
	}
	if d := testutil.ToFloat64(s.Metrics().fileDropped); d != 1 {
		t.Errorf("file drops = %v, want 1 (the nameless gateway)", d)
	}
}
