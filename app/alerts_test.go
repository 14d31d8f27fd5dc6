package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/xds"
)

// TestAlertsInTheService: the service runs the evaluator on its request
// log and its store. Requests a gateway's proxies reported breach a rule
// created through the API; the write's change event makes the evaluator
// look at once (its 15 second round is not waited for), the webhook hears
// of it, and /metrics and the states endpoint say it fires.
func TestAlertsInTheService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleAdmin, auth.RoleViewer)
	got := make(chan map[string]any, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		got <- body
	}))
	defer hook.Close()
	if code, b := call(auth.RoleAdmin, "POST", "/alerts/notifiers", `{"name": "ops", "type": "webhook", "webhook": {"url": "`+hook.URL+`"}}`); code != 201 {
		t.Fatalf("notifier: %d %s", code, b)
	}
	now := time.Now()
	var es []*accesslogdata.HTTPAccessLogEntry
	for i := range 10 {
		es = append(es, &accesslogdata.HTTPAccessLogEntry{
			CommonProperties: &accesslogdata.AccessLogCommon{StartTime: timestamppb.New(now.Add(-time.Duration(i) * time.Second)),
				Duration: durationpb.New(time.Millisecond), RouteName: "rule/shop-api/0"},
			Response: &accesslogdata.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(502)},
		})
	}
	if !svc.AccessLog().Offer(xds.AccessLogBatch{Gateway: "public", Node: "n", Received: now, Entries: es}) {
		t.Fatal("dropped")
	}
	if err := svc.AccessLog().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if code, b := call(auth.RoleAdmin, "POST", "/alerts/rules", `{"name": "shop-5xx", "gateway": "public", "rule": "shop-api",
		"metric": "requests", "statusClass": "5xx", "op": ">=", "threshold": 5, "window": "5m", "notifiers": ["ops"]}`); code != 201 {
		t.Fatalf("rule: %d %s", code, b)
	}
	select {
	case body := <-got:
		if body["status"] != "firing" || body["receiver"] != "ops" {
			t.Errorf("webhook body %v", body)
		}
	case <-ctx.Done():
		t.Fatal("no notification")
	}
	if code, b := call(auth.RoleViewer, "GET", "/alerts/states", ""); code != 200 || !json.Valid([]byte(b)) ||
		!strings.Contains(b, `"state": "firing"`) {
		t.Errorf("states: %d %s", code, b)
	}
	m := scrape(t, ctx, svc.Addr().String(), newToken(t, ctx, svc, auth.RoleViewer))
	if m["routedeck_alerts_firing"] != 1 {
		t.Errorf("routedeck_alerts_firing = %v", m["routedeck_alerts_firing"])
	}
}
