package api

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/xds"
)

// newLogAPI is the test API with a real request log; log writes entries
// to it as a proxy's access log stream would.
func newLogAPI(t *testing.T) (*testAPI, func(gateway string, entries ...*accesslogdata.HTTPAccessLogEntry)) {
	t.Helper()
	al, err := accesslog.Open(context.Background(), filepath.Join(t.TempDir(), "accesslog.db"), accesslog.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	a := newTestAPI(t, func(d *Deps) { d.AccessLog = al })
	a.seed(t)
	return a, func(gateway string, entries ...*accesslogdata.HTTPAccessLogEntry) {
		t.Helper()
		if !al.Offer(xds.AccessLogBatch{Gateway: gateway, Node: "edge-1", Version: "1", Received: time.Now(), Entries: entries}) {
			t.Fatal("dropped")
		}
		if err := al.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func logEntry(route string, status int, path string) *accesslogdata.HTTPAccessLogEntry {
	return &accesslogdata.HTTPAccessLogEntry{
		CommonProperties: &accesslogdata.AccessLogCommon{StartTime: timestamppb.Now(), Duration: durationpb.New(5 * time.Millisecond), RouteName: route},
		Request:          &accesslogdata.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Authority: "shop.example.com", Path: path},
		Response:         &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(uint32(status))},
	}
}

func TestLogsList(t *testing.T) {
	a, log := newLogAPI(t)
	for i := range 5 {
		log("public", logEntry("rule/home/0", 200, "/p"+string(rune('0'+i))))
	}
	log("public", logEntry("rule/api/1", 502, "/api/x"), logEntry("", 404, "/nothing"))
	log("sandbox/public", logEntry("rule/home/0", 200, "/sandboxed"))

	var page struct {
		Items []accesslog.Entry `json:"items"`
		Next  string            `json:"next"`
		Limit int               `json:"limit"`
	}
	list := func(query string, want int) {
		t.Helper()
		r := a.do(t, "viewer", "GET", "/api/v1/gateways/public/logs"+query, nil).must(t, http.StatusOK)
		page.Items, page.Next = nil, ""
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != want {
			t.Fatalf("%s: %d entries, want %d: %s", query, len(page.Items), want, r.body)
		}
	}
	list("", 7)
	if page.Items[0].Path != "/nothing" || page.Items[6].Path != "/p0" {
		t.Errorf("not newest first: %+v", page.Items)
	}
	list("?status=5xx", 1)
	if page.Items[0].Rule != "api" || page.Items[0].Route != "rule/api/1" || page.Items[0].Version != "1" {
		t.Errorf("5xx entry = %+v", page.Items[0])
	}
	list("?status=404&path=/no", 1)
	list("?rule=home&host=SHOP.example.com&since=1h", 5)
	list("?sandbox=true", 1)

	// Paging: the cursor continues where the page ended, and only with
	// the same filters.
	list("?rule=home&limit=2", 2)
	seen := map[string]bool{page.Items[0].Path: true, page.Items[1].Path: true}
	next := page.Next
	for next != "" {
		r := a.do(t, "viewer", "GET", "/api/v1/gateways/public/logs?rule=home&limit=2&cursor="+next, nil).must(t, http.StatusOK)
		page.Items, page.Next = nil, ""
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			if seen[e.Path] {
				t.Fatalf("%s on two pages", e.Path)
			}
			seen[e.Path] = true
		}
		if page.Next != "" && !strings.Contains(r.header.Get("Link"), "cursor=") {
			t.Errorf("no Link header: %v", r.header)
		}
		next = page.Next
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d entries, want 5", len(seen))
	}

	bad := a.do(t, "viewer", "GET", "/api/v1/gateways/public/logs?status=6xx&since=yesterday&limit=0&cursor=zz&colour=red", nil).must(t, http.StatusBadRequest)
	fields := bad.problemFields(t)
	for _, f := range []string{"status", "since", "limit", "cursor", "colour"} {
		if fields[f] == "" {
			t.Errorf("no problem for %s: %v", f, fields)
		}
	}
	a.do(t, "viewer", "GET", "/api/v1/gateways/nobody/logs", nil).must(t, http.StatusNotFound)
	a.do(t, "", "GET", "/api/v1/gateways/public/logs", nil).must(t, http.StatusUnauthorized)
	// A cursor is refused with other filters.
	list("?limit=1", 1)
	a.do(t, "viewer", "GET", "/api/v1/gateways/public/logs?limit=1&rule=home&cursor="+page.Next, nil).must(t, http.StatusBadRequest)

	without := newTestAPI(t)
	without.seed(t)
	without.do(t, "viewer", "GET", "/api/v1/gateways/public/logs", nil).must(t, http.StatusNotImplemented)
}

func TestLogsFollow(t *testing.T) {
	a, log := newLogAPI(t)
	log("public", logEntry("rule/home/0", 200, "/old"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	open := func(lastID string, query ...string) (*bufio.Reader, func()) {
		req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/api/v1/gateways/public/logs?follow=true&rule=api"+strings.Join(query, ""), nil)
		req.Header.Set("Authorization", "Bearer "+a.tokens["viewer"])
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("follow: %d %v", resp.StatusCode, resp.Header)
		}
		br := bufio.NewReader(resp.Body)
		if line, _ := br.ReadString('\n'); line != ": following\n" {
			t.Fatalf("first line %q", line)
		}
		return br, func() { resp.Body.Close() }
	}
	next := func(br *bufio.Reader) (string, accesslog.Entry) {
		t.Helper()
		var id string
		var e accesslog.Entry
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimSpace(line[4:])
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &e); err != nil {
					t.Fatal(err)
				}
				return id, e
			}
		}
	}
	br, closeStream := open("")
	// Only new entries, only of the rule asked for.
	log("public", logEntry("rule/home/0", 200, "/other"), logEntry("rule/api/0", 200, "/api/1"))
	log("public", logEntry("rule/api/0", 503, "/api/2"))
	id1, e1 := next(br)
	_, e2 := next(br)
	if e1.Path != "/api/1" || e2.Path != "/api/2" || e2.Status != 503 {
		t.Fatalf("followed %+v then %+v", e1, e2)
	}
	closeStream()
	// Resuming after the first entry gets the second again.
	br, closeStream = open(id1)
	if _, e := next(br); e.Path != "/api/2" {
		t.Fatalf("resumed at %+v", e)
	}
	closeStream()
	// A listing's newest entry starts a stream after it: entries stored
	// before the stream opened are not lost.
	br, closeStream = open("", "&after="+id1)
	if _, e := next(br); e.Path != "/api/2" {
		t.Fatalf("after the listing: %+v", e)
	}
	closeStream()
	// A reconnecting browser's Last-Event-ID wins over the after it first sent.
	br, closeStream = open(id1, "&after=0")
	defer closeStream()
	if _, e := next(br); e.Path != "/api/2" {
		t.Fatalf("Last-Event-ID with after: %+v", e)
	}
	for _, q := range []string{"?follow=true&after=x", "?after=3"} {
		if f := a.do(t, "viewer", "GET", "/api/v1/gateways/public/logs"+q, nil).must(t, http.StatusBadRequest).problemFields(t); f["after"] == "" {
			t.Errorf("%s: %v", q, f)
		}
	}
}

func TestTraffic(t *testing.T) {
	a, log := newLogAPI(t)
	a.do(t, "editor", "GET", "/api/v1/gateways/public/traffic?window=10s", nil).must(t, http.StatusBadRequest)
	// Before any publish: the rules with traffic only.
	log("public", logEntry("rule/api/0", 200, "/api/a"), logEntry("rule/api/1", 503, "/api/b"), logEntry("", 404, "/x"))
	var tr Traffic
	r := a.do(t, "viewer", "GET", "/api/v1/gateways/public/traffic?window=1h", nil).must(t, http.StatusOK)
	if err := json.Unmarshal(r.body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Version != 0 || len(tr.Items) != 2 || tr.Items[0].Rule != "api" || tr.Items[0].Requests != 2 || tr.Items[0].ErrorRate != 0.5 ||
		len(tr.Failing) != 1 || tr.Failing[0] != "api" || len(tr.NoTraffic) != 0 {
		t.Fatalf("traffic = %+v", tr)
	}
	// Published: rule home has had no request.
	if _, err := a.store.Publish(context.Background(), "test", "public", ""); err != nil {
		t.Fatal(err)
	}
	r = a.do(t, "viewer", "GET", "/api/v1/gateways/public/traffic", nil).must(t, http.StatusOK)
	tr = Traffic{}
	if err := json.Unmarshal(r.body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Version != 1 || tr.Window != "1h0m0s" || len(tr.NoTraffic) != 1 || tr.NoTraffic[0] != "home" || len(tr.Items) != 3 {
		t.Fatalf("traffic after publish = %+v", tr)
	}
	// The sandbox's traffic is apart, and lists no published rules.
	log("sandbox/public", logEntry("rule/home/0", 200, "/"))
	r = a.do(t, "viewer", "GET", "/api/v1/gateways/public/traffic?sandbox=true", nil).must(t, http.StatusOK)
	tr = Traffic{}
	if err := json.Unmarshal(r.body, &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Items) != 1 || tr.Items[0].Rule != "home" || len(tr.NoTraffic) != 0 || tr.Version != 0 {
		t.Fatalf("sandbox traffic = %+v", tr)
	}
}

// TestLogsFollowOutlivesWriteTimeout: a follow stream served by the
// production server outlives its write timeout (each write gets its own
// deadline) and ends when the server shuts down instead of holding the
// shutdown up.
func TestLogsFollowOutlivesWriteTimeout(t *testing.T) {
	a, log := newLogAPI(t)
	srv := NewServer(a.h, Timeouts{Write: 300 * time.Millisecond}, nil)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+lis.Addr().String()+"/api/v1/gateways/public/logs?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+a.tokens["viewer"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	// Past the write timeout, an entry still arrives.
	time.Sleep(600 * time.Millisecond)
	log("public", logEntry("rule/home/0", 200, "/late"))
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("stream ended before the entry")
			}
			got = strings.Contains(line, `"path":"/late"`)
		case <-deadline:
			t.Fatal("no entry")
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown held up by the stream: %v", err)
	}
	for range lines {
	}
}
