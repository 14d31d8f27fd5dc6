package model

import (
	"strings"
	"testing"
)

func TestAccessLogValidate(t *testing.T) {
	pct := func(v float64) *float64 { return &v }
	tests := map[string]struct {
		log  AccessLog
		want []string
	}{
		"defaults":             {log: AccessLog{}},
		"sampling and headers": {log: AccessLog{Sampling: pct(0.0125), RequestHeaders: []string{"X-Request-Id", "traceparent"}}},
		"off":                  {log: AccessLog{Disabled: true, Sampling: pct(0)}},
		"sampling out of range": {
			log:  AccessLog{Sampling: pct(100.5)},
			want: []string{"accessLog.sampling: must be a percentage between 0 and 100"},
		},
		"negative sampling": {
			log:  AccessLog{Sampling: pct(-1)},
			want: []string{"accessLog.sampling: must be a percentage"},
		},
		"too fine": {
			log:  AccessLog{Sampling: pct(0.00001)},
			want: []string{"accessLog.sampling: at most four decimals"},
		},
		"credentials and bad names": {
			log: AccessLog{RequestHeaders: []string{"Authorization", "cookie", "X-API-Key", "x-trace", "X-Trace", "bad header", ":path", ""}},
			want: []string{
				`accessLog.requestHeaders[0]: "authorization" carries credentials`,
				`accessLog.requestHeaders[1]: "cookie" carries credentials`,
				`accessLog.requestHeaders[2]: "x-api-key" carries credentials`,
				`accessLog.requestHeaders[4]: duplicate header "x-trace" (also requestHeaders[3])`,
				`accessLog.requestHeaders[5]: invalid header name`,
				`accessLog.requestHeaders[6]: pseudo-header`,
				`accessLog.requestHeaders[7]: empty header name`,
			},
		},
		"too many": {
			log:  AccessLog{RequestHeaders: strings.Split(strings.Repeat("x-h,", MaxAccessLogHeaders+1), ",")},
			want: []string{"accessLog.requestHeaders: at most 32 headers"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := validGateway()
			g.AccessLog = &tc.log
			checkProblems(t, g.Validate(), tc.want)
		})
	}
}

// TestAccessLogRefusesAPIKeyHeader: the header a route of the gateway
// reads API keys from is a credential too, whatever its name.
func TestAccessLogRefusesAPIKeyHeader(t *testing.T) {
	up := Upstream{Meta: Meta{Name: "web-v1"}, DNS: &DNSSource{Host: "web", Port: 80}}
	up2 := Upstream{Meta: Meta{Name: "web-v2"}, DNS: &DNSSource{Host: "web", Port: 80}}
	r := validRoute()
	r.Then.Auth = &Auth{APIKey: &APIKeyAuth{Header: "X-Shop-Key", Keys: []string{"k1"}}}
	g := validGateway()
	g.AccessLog = &AccessLog{RequestHeaders: []string{"x-trace", "x-shop-key"}}
	ws := Workspace{Secrets: []Secret{testSecret(t)}, Gateways: []Gateway{g}, Upstreams: []Upstream{up, up2}, Routes: []Route{r}}
	checkProblems(t, ws.Validate(), []string{
		`gateways[0].accessLog.requestHeaders[1]: "x-shop-key" carries the API keys of route "static-assets"`,
	})
}
