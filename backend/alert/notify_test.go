package alert_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/xds"
)

// mailbox is a real SMTP server (go-smtp) on loopback that offers
// STARTTLS with a certificate the test's pool trusts and AUTH PLAIN, and
// hands every message it accepts to the test.
type mailbox struct {
	addr  string
	roots *x509.CertPool
	got   chan received
}

type received struct {
	from     string
	to       []string
	data     []byte
	tls      bool
	username string
}

type smtpSession struct {
	box  *mailbox
	conn *smtp.Conn
	msg  received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alerts" || pass != "mail-password-1" {
			return errors.New("bad credentials")
		}
		s.msg.username = user
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.msg.username == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.msg.tls = s.conn.TLSConnectionState()
	s.msg.data = b
	s.box.got <- s.msg
	return nil
}
func (s *smtpSession) Reset()        { s.msg = received{username: s.msg.username} }
func (s *smtpSession) Logout() error { return nil }

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	cert, roots := selfSigned(t)
	box := &mailbox{roots: roots, got: make(chan received, 16)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{box: box, conn: c}, nil
	}))
	srv.Domain = "mail.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box.addr = lis.Addr().String()
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return box
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// hook is a webhook receiver that hands the test every body it gets.
type hook struct {
	url string
	got chan hookCall
}

type hookCall struct {
	auth string
	body map[string]any
}

func startHook(t *testing.T) *hook {
	h := &hook{got: make(chan hookCall, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		h.got <- hookCall{auth: r.Header.Get("Authorization"), body: body}
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/alerts?token=q"
	return h
}

// logSource measures windows on the real request log.
type logSource struct{ log *accesslog.Store }

func (l logSource) Window(ctx context.Context, gateway, rule string, since, until time.Time) (alert.Stats, error) {
	w, err := l.log.Window(ctx, gateway, rule, since, until)
	return alert.Stats{Requests: w.Requests, Classes: w.Classes, P50: w.P50, P90: w.P90, P99: w.P99}, err
}

func request(at time.Time, status int) *accesslogdata.HTTPAccessLogEntry {
	return &accesslogdata.HTTPAccessLogEntry{
		CommonProperties: &accesslogdata.AccessLogCommon{StartTime: timestamppb.New(at), Duration: durationpb.New(20 * time.Millisecond),
			RouteName: "rule/shop/0"},
		Request:  &accesslogdata.HTTPRequestProperties{Authority: "shop.example.com", Path: "/cart"},
		Response: &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(uint32(status))},
	}
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second): // a hang, not a deadline the test races
		t.Fatalf("no %s", what)
	}
	var zero T
	return zero
}

// TestAlertFiresAndResolves is the whole path on real parts: requests
// stored in the request log breach an error-rate rule; the evaluator,
// following the store's change events, records the incident and notifies
// a webhook receiver (Alertmanager body, Authorization header) and an
// SMTP server (STARTTLS, AUTH PLAIN); healthy traffic then resolves it
// and both hear that too.
func TestAlertFiresAndResolves(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)}
	log, err := accesslog.Open(ctx, filepath.Join(t.TempDir(), "accesslog.db"), accesslog.Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	st := openStore(t)
	box, wh := startMailbox(t), startHook(t)
	e := alert.New(alert.Options{Store: st, Source: logSource{log}, Now: c.now, Interval: 20 * time.Millisecond,
		Changes: st.Events().Alerts.Subscribe(), Events: events.NewMetrics(), ExternalURL: "https://routedeck.example.com",
		Delivery: alert.DeliveryOptions{Backoff: 10 * time.Millisecond, RootCAs: box.roots}})
	// Started before any rule exists: it only learns of the rule from
	// the store's change event (rounds do not read the store).
	e.Start()
	defer e.Stop()

	for _, n := range []*alert.Notifier{
		{Name: "ops-hook", Type: alert.TypeWebhook, Webhook: &alert.Webhook{URL: wh.url, Authorization: "Bearer hook-secret-1"}},
		{Name: "ops-mail", Type: alert.TypeEmail, Email: &alert.Email{Smarthost: box.addr, From: "routedeck@example.com",
			To: []string{"oncall@example.com", "lead@example.com"}, Username: "alerts", Password: "mail-password-1", RequireTLS: true}},
	} {
		if err := st.CreateAlertNotifier(ctx, "test", n); err != nil {
			t.Fatal(err)
		}
	}
	rule := alert.Rule{Name: "shop-errors", Description: "The shop answers 5xx.", Gateway: "public", Metric: alert.MetricErrorRate,
		Op: ">", Threshold: 10, Window: model.Duration(time.Minute), Notifiers: []string{"ops-hook", "ops-mail"}}
	rule.Normalize()
	if err := st.CreateAlertRule(ctx, "test", &rule); err != nil {
		t.Fatal(err)
	}

	// 20 requests in the last 20 seconds, 5 of them 503: 25%.
	breach := c.now().Add(-20 * time.Second)
	var es []*accesslogdata.HTTPAccessLogEntry
	for i := range 20 {
		status := 200
		if i%4 == 0 {
			status = 503
		}
		es = append(es, request(breach.Add(time.Duration(i)*time.Second), status))
	}
	if !log.Offer(xds.AccessLogBatch{Gateway: "public", Node: "n1", Received: c.now(), Entries: es}) {
		t.Fatal("batch dropped")
	}

	firing := wait(t, wh.got, "firing webhook")
	if firing.auth != "Bearer hook-secret-1" {
		t.Errorf("webhook Authorization %q", firing.auth)
	}
	checkBody(t, firing.body, "firing", "25%")
	mailed := wait(t, box.got, "firing mail")
	checkMail(t, mailed, "[FIRING] shop-errors")
	in, _ := st.OpenIncidents(ctx)
	if len(in) != 1 || in[0].Value != 25 || in[0].StartedAt.Sub(breach) > time.Minute {
		t.Fatalf("open incidents %+v: want one at 25%%, started within a minute of the breach", in)
	}
	if s := e.States(); len(s) != 1 || s[0].State != alert.StateFiring || s[0].Incident != in[0].ID {
		t.Errorf("states %+v", s)
	}
	// A minute later only healthy requests are in the window. They are
	// stored before the clock moves, so no round sees the window empty.
	later := c.now().Add(time.Minute)
	es = es[:0]
	for i := range 30 {
		es = append(es, request(later.Add(-time.Duration(i)*time.Second), 200))
	}
	if !log.Offer(xds.AccessLogBatch{Gateway: "public", Node: "n1", Received: later, Entries: es}) {
		t.Fatal("batch dropped")
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Minute)
	resolved := wait(t, wh.got, "resolved webhook")
	checkBody(t, resolved.body, "resolved", "0%")
	checkMail(t, wait(t, box.got, "resolved mail"), "[RESOLVED] shop-errors")

	hist, err := st.Incidents(ctx, "shop-errors", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].ResolvedAt == nil || *hist[0].ResolvedValue != 0 {
		t.Fatalf("history %+v", hist)
	}
	// Deliveries are recorded after the receivers answer: wait for all
	// four by asking again until they are there.
	for deadline := time.Now().Add(10 * time.Second); ; {
		hist, _ = st.Incidents(ctx, "shop-errors", 0, 10)
		if len(hist[0].Deliveries) == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, d := range hist[0].Deliveries {
		if !d.OK || d.Attempts != 1 {
			t.Errorf("delivery %+v", d)
		}
	}
	if len(hist[0].Deliveries) != 4 {
		t.Errorf("deliveries %+v, want firing and resolved to both notifiers", hist[0].Deliveries)
	}
	if m := e.Metrics(); m.Sent(alert.TypeWebhook) != 2 || m.Sent(alert.TypeEmail) != 2 || m.Firing() != 0 {
		t.Errorf("metrics: sent %v webhooks and %v mails, %v firing", m.Sent(alert.TypeWebhook), m.Sent(alert.TypeEmail), m.Firing())
	}
}

func checkBody(t *testing.T, body map[string]any, status, value string) {
	t.Helper()
	alerts, _ := body["alerts"].([]any)
	if body["version"] != "4" || body["status"] != status || body["receiver"] != "ops-hook" || len(alerts) != 1 {
		t.Fatalf("webhook body %v", body)
	}
	a := alerts[0].(map[string]any)
	labels := a["labels"].(map[string]any)
	ann := a["annotations"].(map[string]any)
	if labels["alertname"] != "shop-errors" || labels["gateway"] != "public" || a["status"] != status ||
		ann["value"] != value || !strings.HasPrefix(a["generatorURL"].(string), "https://routedeck.example.com/#/alerts?rule=shop-errors") {
		t.Errorf("alert %v", a)
	}
	if (status == "firing") != (a["endsAt"] == "0001-01-01T00:00:00Z") {
		t.Errorf("%s alert ends at %v", status, a["endsAt"])
	}
}

func checkMail(t *testing.T, got received, subject string) {
	t.Helper()
	if !got.tls || got.username != "alerts" || got.from != "routedeck@example.com" ||
		strings.Join(got.to, ",") != "oncall@example.com,lead@example.com" {
		t.Errorf("mail tls=%v user=%q from=%q to=%v", got.tls, got.username, got.from, got.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got.data)))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if !strings.HasPrefix(subj, subject) || msg.Header.Get("To") != "oncall@example.com, lead@example.com" {
		t.Errorf("mail headers %v (subject %q)", msg.Header, subj)
	}
	if strings.Contains(string(got.data), "mail-password-1") || strings.Contains(string(got.data), "hook-secret-1") {
		t.Error("a credential is in the mail")
	}
}
