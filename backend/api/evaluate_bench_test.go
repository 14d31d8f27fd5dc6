package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/bench/workload"
)

// BenchmarkEvaluate serves POST /evaluate (the draft) and POST
// /gateways/{name}/explain against the live version in process over a
// 1,000-route gateway, so a profile shows what one call costs: the
// compiled rules of either come from the cache.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{3, 1000} {
		for _, live := range []bool{false, true} {
			name := fmt.Sprint(n)
			if live {
				name += "/live"
			}
			b.Run(name, func(b *testing.B) { benchmarkEvaluate(b, n, live) })
		}
	}
}

func benchmarkEvaluate(b *testing.B, n int, live bool) {
	a := newTestAPI(b)
	hosts := min(n, 100)
	if _, err := a.store.Apply(context.Background(), "bench", workload.Workspace(n, hosts, hosts)); err != nil {
		b.Fatal(err)
	}
	request := fmt.Sprintf(`{"method":"GET","url":"http://h%d.example.com/api/%d/x","headers":{"accept":"*/*"}}`, (n-1)%hosts, (n-1)/hosts)
	path, body := "/api/v1/evaluate", fmt.Sprintf(`{"gateway":%q,"request":%s}`, workload.Gateway, request)
	if live {
		if _, err := a.store.Publish(context.Background(), "bench", workload.Gateway, ""); err != nil {
			b.Fatal(err)
		}
		path, body = "/api/v1/gateways/"+workload.Gateway+"/explain", fmt.Sprintf(`{"version":"live","request":%s}`, request)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.tokens["viewer"])
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
