package replay

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/rules"
)

const envoyLine = `[2026-12-07T18:00:00.120Z] "GET /static/app.js?v=2 HTTP/1.1" 200 - 0 5120 3 2 "203.0.113.7" "curl/8" "id-1" "shop.example.com:8080" "10.0.0.11:8080"`

// TestParseLogLines reads one line of each format: what a valid line
// gives, which lines are skipped, and the problem of a malformed one.
func TestParseLogLines(t *testing.T) {
	tests := map[string]struct {
		format, line string
		want         string // method scheme://authority target [headers]
		skip, err    string
	}{
		"envoy":                {format: replay.FormatEnvoy, line: envoyLine, want: "GET http://shop.example.com:8080/static/app.js?v=2 [user-agent=curl/8 x-forwarded-for=203.0.113.7]"},
		"envoy quote in agent": {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, `"curl/8"`, `"a "quoted" agent"`, 1), want: `GET http://shop.example.com:8080/static/app.js?v=2 [user-agent=a "quoted" agent x-forwarded-for=203.0.113.7]`},
		"envoy no authority":   {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, `"shop.example.com:8080"`, `"-"`, 1), want: "GET http:///static/app.js?v=2 [user-agent=curl/8 x-forwarded-for=203.0.113.7]"},
		"envoy flags":          {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, " 200 - ", " 503 UF,URX ", 1), want: "GET http://shop.example.com:8080/static/app.js?v=2 [user-agent=curl/8 x-forwarded-for=203.0.113.7]"},
		"envoy no request":     {format: replay.FormatEnvoy, line: `[2026-12-07T18:00:01.400Z] "- - HTTP/1.1" 400 DPE 0 11 0 - "-" "-" "-" "-" "-"`, skip: skipNoRequest},
		"envoy connect":        {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, "GET /static/app.js?v=2", "CONNECT shop.example.com:443", 1), skip: skipConnect},
		"envoy asterisk":       {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, "GET /static/app.js?v=2", "OPTIONS *", 1), skip: skipNotOrigin},
		"envoy bad time":       {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, "2026-12-07T18:00:00.120Z", "now", 1), err: `start time "now" is not an RFC 3339 time`},
		"envoy bad status":     {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, " 200 ", " 2x0 ", 1), err: `status "2x0" is not a number`},
		"envoy bad bytes":      {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, " 5120 ", " lots ", 1), err: `bytes sent "lots" is not a number`},
		"envoy bad flags":      {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, " 200 - ", " 200 uf ", 1), err: `response flags "uf" are not Envoy's`},
		"envoy short":          {format: replay.FormatEnvoy, line: `[2026-12-07T18:00:00.120Z] "GET / HTTP/1.1" 200 - 0`, err: "want the status, flags"},
		"envoy missing quotes": {format: replay.FormatEnvoy, line: strings.TrimSuffix(envoyLine, `"`), err: "want five quoted values"},
		"envoy bad method":     {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, "GET /", "G(T /", 1), err: `method "G(T" is not an HTTP method`},
		"envoy relative path":  {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, "GET /static", "GET static", 1), err: `does not start with /`},
		"envoy bad authority":  {format: replay.FormatEnvoy, line: strings.Replace(envoyLine, `"shop.example.com:8080"`, `"shop example"`, 1), err: `authority "shop example" is not a host`},
		"envoy other":          {format: replay.FormatEnvoy, line: `127.0.0.1 - - [07/Dec/2026:18:00:00 +0000] "GET / HTTP/1.1" 200 612`, err: "not Envoy's default format"},
		"json":                 {format: replay.FormatJSON, line: `{"method":"POST","path":"/cart/x","x-envoy-original-path":"/api/cart/x","authority":"shop.example.com","scheme":"https","user_agent":"app/1","headers":{"x-canary":"1","Cookie":"a=1"}}`, want: "POST https://shop.example.com/api/cart/x [cookie=a=1 user-agent=app/1 x-canary=1]"},
		"json pseudo names":    {format: replay.FormatJSON, line: `{":method":"get",":path":"/x",":authority":"h","other":{"nested":[1,2]}}`, want: "GET http://h/x []"},
		"json request log":     {format: replay.FormatJSON, line: `{"id":4,"method":"GET","host":"h","path":"/v2/x","originalPath":"/x","status":200,"headers":null}`, want: "GET http://h/x []"},
		"json not object":      {format: replay.FormatJSON, line: `["GET","/"]`, err: "not a JSON object"},
		"json broken":          {format: replay.FormatJSON, line: `{"method":"GET","path":"/"`, err: "not valid JSON"},
		"json trailing":        {format: replay.FormatJSON, line: `{"method":"GET","path":"/"} {}`, err: "more after the JSON object"},
		"json duplicate":       {format: replay.FormatJSON, line: `{"method":"GET","method":"POST","path":"/"}`, err: `key "method" twice`},
		"json two names":       {format: replay.FormatJSON, line: `{"method":"GET",":method":"POST","path":"/"}`, err: `:method: given twice, under two names`},
		"json no method":       {format: replay.FormatJSON, line: `{"path":"/"}`, err: "no method"},
		"json number method":   {format: replay.FormatJSON, line: `{"method":7,"path":"/"}`, err: "method: want a string"},
		"json bad scheme":      {format: replay.FormatJSON, line: `{"method":"GET","path":"/","scheme":"ftp"}`, err: `scheme "ftp" is neither http nor https`},
		"json bad headers":     {format: replay.FormatJSON, line: `{"method":"GET","path":"/","headers":{"x":1}}`, err: "headers: want an object of header values"},
		"json bad header name": {format: replay.FormatJSON, line: `{"method":"GET","path":"/","headers":{"a b":"1"}}`, err: `headers: "a b" is not a header name`},
		"json no path":         {format: replay.FormatJSON, line: `{"method":"GET","path":"-"}`, err: "no path"},
		"json connect":         {format: replay.FormatJSON, line: `{"method":"CONNECT","path":"/"}`, skip: skipConnect},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reqs, sum, err := ParseLog(context.Background(), []byte("\n"+tc.line+"\r\n"), tc.format)
			switch {
			case tc.err != "":
				fields := model.ErrorFields(err)
				if len(fields) != 1 || fields[0].Field != "source.log" || !strings.HasPrefix(fields[0].Message, "line 2: ") || !strings.Contains(fields[0].Message, tc.err) {
					t.Fatalf("want a problem on line 2 saying %q, got %v", tc.err, err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.skip != "":
				if len(reqs) != 0 || sum.Skipped[tc.skip] != 1 || sum.Read != 1 {
					t.Fatalf("want skipped (%s), got %+v %+v", tc.skip, reqs, sum)
				}
			default:
				if len(reqs) != 1 || sum.Read != 1 || sum.Format != tc.format {
					t.Fatalf("got %+v %+v", reqs, sum)
				}
				if got := describe(reqs[0]); got != tc.want {
					t.Errorf("got  %s\nwant %s", got, tc.want)
				}
				if reqs[0].Origin != "line 2" {
					t.Errorf("origin %q", reqs[0].Origin)
				}
			}
		})
	}
}

func describe(q Request) string {
	var hs []string
	for _, h := range q.Headers {
		hs = append(hs, h.Name+"="+h.Value)
	}
	return fmt.Sprintf("%s %s [%s]", q.Method, q.url(), strings.Join(sortedStrings(hs), " "))
}

func sortedStrings(s []string) []string {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return sortedKeys(m)
}

// TestParseLogBounds: a file is refused with every problem (up to a
// bound, the rest counted), a line past the length bound is a problem,
// a format is detected, and past replay.MaxRequests requests are counted
// but not kept.
func TestParseLogBounds(t *testing.T) {
	var b strings.Builder
	for i := range 150 {
		fmt.Fprintf(&b, "[bad %d]\n", i)
	}
	_, _, err := ParseLog(context.Background(), []byte(b.String()), "")
	fields := model.ErrorFields(err)
	if len(fields) != maxProblems || !strings.Contains(model.ErrorMessage(err), "150 problems (the first 100 listed)") ||
		!strings.HasPrefix(fields[99].Message, "line 100: ") {
		t.Fatalf("%d problems: %v", len(fields), model.ErrorMessage(err))
	}

	long := envoyLine + "\n" + `{"method":"GET","path":"/` + strings.Repeat("x", maxLine) + `"}` + "\n"
	_, _, err = ParseLog(context.Background(), []byte(long), replay.FormatJSON)
	if fields := model.ErrorFields(err); len(fields) != 2 || !strings.Contains(fields[1].Message, "line 2: longer than") {
		t.Fatalf("long line: %v", fields)
	}
	if _, _, err := ParseLog(context.Background(), []byte("\n \n"), ""); !strings.Contains(fmt.Sprint(model.ErrorFields(err)), "holds no request") {
		t.Fatalf("blank file: %v", err)
	}

	b.Reset()
	line := `{"method":"GET","path":"/x","authority":"h"}` + "\n"
	b.Grow(len(line) * (replay.MaxRequests + 2))
	for range replay.MaxRequests + 2 {
		b.WriteString(line)
	}
	reqs, sum, err := ParseLog(context.Background(), []byte(b.String()), "")
	if err != nil || len(reqs) != replay.MaxRequests || sum.Read != replay.MaxRequests+2 || !sum.Truncated || sum.Format != replay.FormatJSON {
		t.Fatalf("%d requests, %+v, %v", len(reqs), sum, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ParseLog(ctx, []byte(b.String()), ""); err != context.Canceled {
		t.Errorf("a cancelled read: %v", err)
	}
}

// TestParseHAR: what of a HAR file is replayed, skipped and refused.
func TestParseHAR(t *testing.T) {
	entry := func(method, url string, headers ...string) string {
		var hs []string
		for i := 0; i+1 < len(headers); i += 2 {
			hs = append(hs, fmt.Sprintf(`{"name":%q,"value":%q}`, headers[i], headers[i+1]))
		}
		return fmt.Sprintf(`{"_initiator":{"type":"script"},"request":{"method":%q,"url":%q,"httpVersion":"h2","headers":[%s],"cookies":[]},"response":{"status":200}}`,
			method, url, strings.Join(hs, ","))
	}
	har := func(entries ...string) []byte {
		return []byte(`{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"pages":[],"entries":[` + strings.Join(entries, ",") + `]}}`)
	}
	reqs, sum, err := ParseHAR(context.Background(), har(
		entry("GET", "https://shop.example.com/a?b=1#frag", ":authority", "shop.example.com", ":method", "GET", ":path", "/a?b=1", "cookie", "s=1", "Connection", "keep-alive"),
		entry("GET", "data:image/png;base64,AAAA"),
		entry("CONNECT", "https://proxy.example.com:443/"),
		entry("GET", "wss://shop.example.com/socket", "Upgrade", "websocket"),
		entry("post", "http://user:pw@shop.example.com"),
	))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range reqs {
		got = append(got, describe(q)+" "+q.Origin)
	}
	want := []string{"GET https://shop.example.com/a?b=1 [cookie=s=1] entry 0", "GET https://shop.example.com/socket [] entry 3", "POST http://shop.example.com/ [] entry 4"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if sum.Read != 5 || sum.Skipped[skipNotHTTP] != 1 || sum.Skipped[skipConnect] != 1 || sum.Kind != replay.SourceHAR {
		t.Errorf("summary %+v", sum)
	}

	tests := map[string]struct {
		data string
		want []string
	}{
		"not json":      {data: "{\n  \"log\": {\n    \"entries\": [,]\n", want: []string{"line 3, column 18: not a HAR file"}},
		"not a HAR":     {data: `{"entries":[]}`, want: []string{"log.entries: required"}},
		"wrong types":   {data: `{"log":{"entries":{}}}`, want: []string{"log.entries: not a HAR file: expected []replay.harEntry, got a JSON object"}},
		"two documents": {data: `{"log":{"entries":[]}} {}`, want: []string{"line 1, column 24: not a HAR file: more after the document"}},
		"every problem": {data: string(har(
			`{"request":{"url":"http://h/"}}`,
			`{"response":{}}`,
			entry("GET", "/relative"),
			entry("GET", "http:///nohost"),
			entry("GET", "http://h/", "bad name", "x"),
			`{"request":{"method":"GET","url":"http://h/","headers":[{"name":"x"}]}}`,
			entry("GET", "http://h/a b"),
			entry("GET", "http://h/", "Host", "evil host"),
		)), want: []string{
			"log.entries[0].request.method: required: an HTTP method",
			"log.entries[1].request: required",
			`log.entries[2].request.url: "/relative" is not an absolute URL`,
			`log.entries[3].request.url: "http:///nohost" has no host`,
			"log.entries[4].request.headers[0].name: required: a header name",
			"log.entries[5].request.headers[0].value: required",
			`log.entries[6].request.url: "http://h/a b" has white space in its path`,
			`log.entries[7].request.url: authority "evil host" is not a host`,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseHAR(context.Background(), []byte(tc.data))
			var msgs []string
			for _, f := range model.ErrorFields(err) {
				if f.Field != "source.har" {
					t.Errorf("field %q", f.Field)
				}
				msgs = append(msgs, f.Message)
			}
			if len(msgs) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(tc.want, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(msgs[i], w) {
					t.Errorf("problem %d: %q, want %q", i, msgs[i], w)
				}
			}
		})
	}
}

// TestTestRequest: a route test's request as the evaluator reads it.
func TestTestRequest(t *testing.T) {
	tests := map[string]struct {
		url, scheme, method string
		headers             map[string][]string
		want                string
	}{
		"absolute":        {url: "https://shop.example.com:8443/a?b=1#f", want: "GET https://shop.example.com:8443/a?b=1 []"},
		"relative + host": {url: "/a", headers: map[string][]string{"Host": {"h"}, "X-A": {"1", "2"}}, want: "GET http://h/a [x-a=1 x-a=2]"},
		"authority":       {url: "http://ignored/a", headers: map[string][]string{":authority": {"h"}}, want: "GET http://h/a []"},
		"scheme wins":     {url: "http://h", scheme: "HTTPS", method: "post", want: "POST https://h/ []"},
		"query only":      {url: "http://h?x=1", want: "GET http://h/?x=1 []"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tt := routetest.Test{Name: "t", Request: rules.Request{URL: tc.url, Scheme: tc.scheme, Method: tc.method, Headers: http.Header(tc.headers)}}
			if got := describe(testRequest(tt)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
