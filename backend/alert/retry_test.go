package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestWebhookRetries has a receiver fail its first requests: the
// notification is tried again after growing waits until it passes; a
// 4xx is not retried; a receiver that never recovers is given up on
// after the bounded attempts.
func TestWebhookRetries(t *testing.T) {
	tests := map[string]struct {
		fail     int // the receiver fails this many requests first
		status   int // with this status
		attempts int
		ok       bool
	}{
		"recovers after two 503s": {fail: 2, status: http.StatusServiceUnavailable, attempts: 3, ok: true},
		"429 is retried":          {fail: 1, status: http.StatusTooManyRequests, attempts: 2, ok: true},
		"400 is not retried":      {fail: 1, status: http.StatusBadRequest, attempts: 1, ok: false},
		"gives up after 4 tries":  {fail: 100, status: http.StatusInternalServerError, attempts: 4, ok: false},
		"first try passes":        {fail: 0, attempts: 1, ok: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var times []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				times = append(times, time.Now())
				n := len(times)
				mu.Unlock()
				var m amMessage
				if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.Version != "4" || r.Header.Get("Authorization") != "Bearer s3cret-token" {
					t.Errorf("request %d: body %+v (%v), authorization %q", n, m, err, r.Header.Get("Authorization"))
				}
				if n <= tc.fail {
					w.WriteHeader(tc.status)
				}
			}))
			defer srv.Close()
			backoff := 20 * time.Millisecond
			s := newSender(DeliveryOptions{Attempts: 4, Backoff: backoff, MaxBackoff: 50 * time.Millisecond, Timeout: 5 * time.Second}, "", time.Now)
			to := &Notifier{Name: "hook", Type: TypeWebhook, Webhook: &Webhook{URL: srv.URL, Authorization: "Bearer s3cret-token"}}
			n := &notice{event: EventFiring, rule: Rule{Name: "r", Gateway: "g", Metric: MetricRequests, Op: ">"}, incident: Incident{ID: 1}}
			d := s.deliver(context.Background(), to, n)
			if d.Attempts != tc.attempts || d.OK != tc.ok || len(times) != tc.attempts {
				t.Fatalf("delivery %+v after %d requests; want %d attempts, ok %v", d, len(times), tc.attempts, tc.ok)
			}
			if !d.OK && d.Error == "" {
				t.Error("a failed delivery says nothing")
			}
			// The waits grow: 20ms, 40ms, then capped at 50ms.
			want := backoff
			for i := 1; i < len(times); i++ {
				if gap := times[i].Sub(times[i-1]); gap < want {
					t.Errorf("attempt %d came %s after the one before, want at least %s", i+1, gap, want)
				}
				want = min(2*want, 50*time.Millisecond)
			}
		})
	}
}

// TestSenderGivesUpWhenStopped: a server stopping ends the waits.
func TestSenderGivesUpWhenStopped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer srv.Close()
	s := newSender(DeliveryOptions{Attempts: 5, Backoff: time.Hour}, "", time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Delivery)
	go func() {
		done <- s.deliver(ctx, &Notifier{Name: "hook", Webhook: &Webhook{URL: srv.URL}}, &notice{event: EventFiring})
	}()
	// Whether the first attempt has failed yet or is under way, stopping
	// must end the delivery now rather than after the hour's wait.
	time.Sleep(50 * time.Millisecond)
	cancel()
	if d := <-done; d.OK || d.Attempts != 1 {
		t.Errorf("delivery %+v, want one failed attempt", d)
	}
}

// TestCredentialsStayOutOfErrors: an error that quotes a credential is
// stored without it.
func TestCredentialsStayOutOfErrors(t *testing.T) {
	got := scrub("535 authentication failed for hunter2-password", Secrets{Password: "hunter2-password"})
	if got != "535 authentication failed for [redacted]" {
		t.Errorf("scrubbed: %q", got)
	}
}
