package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/internal/testservers"
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
// stored without it; the webhook URL goes whole and by the parts that
// carry tokens, escaped or not.
func TestCredentialsStayOutOfErrors(t *testing.T) {
	secrets := Secrets{Password: "hunter2-password", URL: "https://hooks.example.com/services/T1/B2/tok%2Fen?key=q-secret"}
	tests := map[string]struct{ msg, want string }{
		"password":     {"535 authentication failed for hunter2-password", "535 authentication failed for [redacted]"},
		"whole URL":    {`Post "https://hooks.example.com/services/T1/B2/tok%2Fen?key=q-secret": EOF`, `Post "[redacted]": EOF`},
		"echoed path":  {"404 no hook at /services/T1/B2/tok%2Fen", "404 no hook at [redacted]"},
		"decoded path": {"404 no hook at /services/T1/B2/tok/en", "404 no hook at [redacted]"},
		"query":        {"403 bad key=q-secret", "403 bad [redacted]"},
		"host stays":   {"POST to hooks.example.com: 503", "POST to hooks.example.com: 503"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := scrub(tc.msg, secrets); got != tc.want {
				t.Errorf("scrub(%q) = %q, want %q", tc.msg, got, tc.want)
			}
		})
	}
}

// TestWebhookURLStaysOutOfFailures: however a delivery to a webhook
// fails (nobody listening, a receiver that echoes the URL in its status
// line, one that never answers), the failure names the host and none of
// the URL's path or query.
func TestWebhookURLStaysOutOfFailures(t *testing.T) {
	const path, query = "/services/T9/B9/path-token-71c2", "key=query-token-0b4e"
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	echo := testservers.URLEcho(t)
	stop := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop }))
	defer silent.Close()
	defer close(stop) // before Close, which waits for the handler
	for name, base := range map[string]string{"nobody listens": closed.URL, "echoes the URL": echo.URL, "never answers": silent.URL} {
		t.Run(name, func(t *testing.T) {
			s := newSender(DeliveryOptions{Attempts: 1, Timeout: 200 * time.Millisecond}, "", time.Now)
			to := &Notifier{Name: "hook", Type: TypeWebhook, Webhook: &Webhook{URL: base + path + "?" + query}}
			d := s.deliver(context.Background(), to, &notice{event: EventTest})
			host := strings.TrimPrefix(base, "http://")
			if d.OK || !strings.Contains(d.Error, host) || strings.Contains(d.Error, "token") {
				t.Errorf("delivery %+v: want a failure that names %s and no token", d, host)
			}
		})
	}
}

// TestWebhookURLIsShownByFingerprint: an answer shows the URL's origin
// and fingerprint; the fingerprint sent back restores the URL, any other
// is refused; a URL stored in clear by an older version is still read.
func TestWebhookURLIsShownByFingerprint(t *testing.T) {
	fp := model.FingerprintFunc(func(v string) string { return fmt.Sprintf("fp:%012x", len(v)) })
	const url = "https://hooks.example.com:8443/services/T1?key=k"
	n := Notifier{Name: "hook", Type: TypeWebhook, Webhook: &Webhook{}}
	n.SetSecrets(Secrets{URL: url, Authorization: "Bearer x"})
	shown := n.Redacted(fp)
	if w := shown.Webhook; w.Shown != fp(url) || w.Origin != "https://hooks.example.com:8443" || !w.AuthorizationSet {
		t.Errorf("shown %+v", w)
	}
	if n.Webhook.Shown != "" || n.Webhook.URL != url {
		t.Errorf("Redacted changed the notifier: %+v", n.Webhook)
	}
	b, _ := json.Marshal(shown)
	if strings.Contains(string(b), "services") || strings.Contains(string(b), "Bearer") {
		t.Errorf("encoded: %s", b)
	}
	if got := RestoreURL(fp(url), n.Secrets(), fp); got != url {
		t.Errorf("restored %q", got)
	}
	other := fp("https://elsewhere.example.com/")
	n.Webhook.URL = RestoreURL(other, n.Secrets(), fp)
	if err := n.Validate(); err == nil || !strings.Contains(err.Error(), "unknown fingerprint") {
		t.Errorf("an unknown fingerprint validates: %v", err)
	}
	var old Notifier
	if err := json.Unmarshal([]byte(`{"name":"hook","type":"webhook","webhook":{"url":"`+url+`"}}`), &old); err != nil {
		t.Fatal(err)
	}
	old.SetSecrets(Secrets{})
	if old.Webhook.URL != url || old.Webhook.Shown != "" || old.Webhook.Origin != "https://hooks.example.com:8443" {
		t.Errorf("a notifier stored with its URL in clear reads %+v", old.Webhook)
	}
}
