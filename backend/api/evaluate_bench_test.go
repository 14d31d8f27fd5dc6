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

// BenchmarkEvaluate serves POST /evaluate in process over a 1,000-route
// gateway, so a profile shows what one call costs.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{3, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			a := newTestAPI(b)
			hosts := min(n, 100)
			if _, err := a.store.Apply(context.Background(), "bench", workload.Workspace(n, hosts, hosts)); err != nil {
				b.Fatal(err)
			}
			body := fmt.Sprintf(`{"gateway":%q,"request":{"method":"GET","url":"http://h%d.example.com/api/%d/x","headers":{"accept":"*/*"}}}`,
				workload.Gateway, (n-1)%hosts, (n-1)/hosts)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/api/v1/evaluate", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+a.tokens["viewer"])
				w := httptest.NewRecorder()
				a.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
