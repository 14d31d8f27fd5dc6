package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/replay"
)

// ParseLog reads an access-log file, one request a line, in format
// (replay.FormatEnvoy, replay.FormatJSON, or "" to tell by the first
// line: a JSON object, or Envoy's text format). Blank lines are allowed;
// every other line must parse, or the file is refused with the problem
// of every line.
//
// The text format is Envoy's default:
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//	%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//	%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//	"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
//
// It has no scheme: requests are replayed as http.
//
// A JSON line is an object. Envoy's JSON format is whatever its operator
// configured, so a line is read by the names people give Envoy's
// operators, and other keys are left alone (they must still be valid
// JSON, without duplicates among the keys read): method (or :method);
// the path before any rewrite, from the first of x-envoy-original-path,
// x-envoy-origin-path, originalPath, path, :path that is set; authority
// (or :authority, host); scheme (or :scheme, x-forwarded-proto), default
// http; user_agent (or user-agent, userAgent); headers, an object of
// header values. `routedeck logs -o json` writes such lines.
func ParseLog(ctx context.Context, data []byte, format string) ([]Request, replay.SourceSummary, error) {
	p := &problems{field: "source.log"}
	if len(data) > replay.MaxUploadBytes {
		p.add("file", "is %d bytes; at most %d are replayed", len(data), replay.MaxUploadBytes)
		return nil, replay.SourceSummary{}, p.err("access log")
	}
	if format == "" {
		format = detectFormat(data)
		if format == "" {
			p.add("file", "holds no request (only blank lines)")
			return nil, replay.SourceSummary{}, p.err("access log")
		}
	}
	c := newCollector(replay.SourceLog)
	c.summary.Format = format
	if format == replay.FormatEnvoy {
		c.summary.Notes = append(c.summary.Notes, "Envoy's default log format has no scheme and no request headers but User-Agent and X-Forwarded-For: requests are replayed as http, and rules on other headers or on cookies see them absent")
	}
	parse := parseEnvoyLine
	if format == replay.FormatJSON {
		parse = parseJSONLine
	}
	n := 0
	for rest := data; len(rest) > 0; {
		n++
		if n%1024 == 0 && ctx.Err() != nil {
			return nil, replay.SourceSummary{}, ctx.Err()
		}
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(line) > maxLine {
			p.line(n, "longer than %d bytes", maxLine)
			continue
		}
		q, skip, err := parse(line)
		switch {
		case err != nil:
			p.line(n, "%v", err)
		case skip != "":
			c.skip(skip)
		default:
			q.Origin = "line " + strconv.Itoa(n)
			c.add(q)
		}
	}
	if err := p.err("access log"); err != nil {
		return nil, replay.SourceSummary{}, err
	}
	return c.reqs, c.summary, nil
}

// detectFormat tells the format by the first line that is not blank.
func detectFormat(data []byte) string {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if t[0] == '{' {
				return replay.FormatJSON
			}
			return replay.FormatEnvoy
		}
	}
	return ""
}

// parseEnvoyLine reads a line of Envoy's default format. Values Envoy
// leaves empty are "-". A quoted value is not escaped by Envoy, so a
// quote inside the user agent is read by position: the four quoted values
// after it never hold one in practice (an address, a request id, a host).
func parseEnvoyLine(line []byte) (Request, string, error) {
	s := string(line)
	var q Request
	if !strings.HasPrefix(s, "[") {
		return q, "", fmt.Errorf(`not Envoy's default format: want "[START_TIME] \"METHOD PATH PROTOCOL\" ..."`)
	}
	end := strings.Index(s, `] "`)
	if end < 0 {
		return q, "", fmt.Errorf(`not Envoy's default format: no "] \"" after the start time`)
	}
	if _, err := time.Parse(time.RFC3339Nano, s[1:end]); err != nil {
		return q, "", fmt.Errorf("start time %q is not an RFC 3339 time", clipText(s[1:end]))
	}
	s = s[end+3:]
	// The request line ends at the quote followed by the status code.
	reqEnd := -1
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '"' && s[i+1] == ' ' && s[i+2] >= '0' && s[i+2] <= '9' {
			reqEnd = i
			break
		}
	}
	if reqEnd < 0 {
		return q, "", fmt.Errorf(`not Envoy's default format: the request line is not followed by a status code`)
	}
	reqLine, s := s[:reqEnd], s[reqEnd+2:]
	fields := strings.SplitN(s, " ", 7)
	if len(fields) != 7 {
		return q, "", fmt.Errorf("not Envoy's default format: want the status, flags, bytes received and sent, duration and upstream time after the request line")
	}
	for i, f := range []struct {
		name     string
		optional bool
	}{{"status", false}, {"response flags", false}, {"bytes received", false}, {"bytes sent", false}, {"duration", true}, {"upstream service time", true}} {
		v := fields[i]
		switch {
		case i == 1:
			if !validFlags(v) {
				return q, "", fmt.Errorf("response flags %q are not Envoy's", clipText(v))
			}
		case f.optional && v == "-":
		case !isNumber(v):
			return q, "", fmt.Errorf("%s %q is not a number", f.name, clipText(v))
		}
	}
	quoted, err := quotedTail(fields[6])
	if err != nil {
		return q, "", err
	}
	xff, ua, authority := quoted[0], quoted[1], quoted[3]

	parts := strings.Split(reqLine, " ")
	if len(parts) != 3 {
		return q, "", fmt.Errorf("request line %q: want METHOD PATH PROTOCOL", clipText(reqLine))
	}
	method, target, proto := parts[0], parts[1], parts[2]
	if method == "-" {
		return q, skipNoRequest, nil
	}
	if !validToken(method) {
		return q, "", fmt.Errorf("method %q is not an HTTP method", clipText(method))
	}
	switch proto {
	case "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3", "-":
	default:
		return q, skipOtherProto, nil
	}
	return finishRequest(method, "http", dash(authority), target, func(q *Request) {
		if ua := dash(ua); ua != "" {
			q.addHeader("user-agent", ua)
		}
		if xff := dash(xff); xff != "" {
			q.addHeader("x-forwarded-for", xff)
		}
	})
}

// quotedTail splits `"XFF" "UA" "REQUEST-ID" "AUTHORITY" "UPSTREAM-HOST"`.
func quotedTail(s string) ([5]string, error) {
	var out [5]string
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return out, fmt.Errorf(`not Envoy's default format: want five quoted values after the upstream time`)
	}
	s = s[1 : len(s)-1]
	// From the right: upstream host, authority, request id.
	for i := 4; i >= 2; i-- {
		j := strings.LastIndex(s, `" "`)
		if j < 0 {
			return out, fmt.Errorf(`not Envoy's default format: want five quoted values after the upstream time`)
		}
		out[i], s = s[j+3:], s[:j]
	}
	xff, ua, ok := strings.Cut(s, `" "`)
	if !ok {
		return out, fmt.Errorf(`not Envoy's default format: want five quoted values after the upstream time`)
	}
	out[0], out[1] = xff, ua
	return out, nil
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func isNumber(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validFlags checks %RESPONSE_FLAGS%: "-" or comma-separated short codes.
func validFlags(s string) bool {
	if s == "-" {
		return true
	}
	for _, f := range strings.Split(s, ",") {
		if f == "" || len(f) > 8 {
			return false
		}
		for i := 0; i < len(f); i++ {
			if f[i] < 'A' || f[i] > 'Z' {
				return false
			}
		}
	}
	return true
}

// finishRequest checks what every log line gives and builds the request.
func finishRequest(method, scheme, authority, target string, more func(*Request)) (Request, string, error) {
	q := Request{Method: strings.ToUpper(method), Scheme: scheme, Authority: authority, Target: target}
	switch {
	case q.Method == "CONNECT":
		return q, skipConnect, nil
	case target == "*":
		return q, skipNotOrigin, nil
	case target == "" || target == "-":
		return q, "", fmt.Errorf("no path")
	case !strings.HasPrefix(target, "/"):
		return q, "", fmt.Errorf("path %q does not start with /", clipText(target))
	case strings.ContainsAny(target, " \t\x00"):
		return q, "", fmt.Errorf("path %q holds white space", clipText(target))
	}
	if err := checkAuthority(authority); err != nil {
		return q, "", err
	}
	if more != nil {
		more(&q)
	}
	return q, "", nil
}

// checkAuthority refuses a Host no client could have sent.
func checkAuthority(a string) error {
	if len(a) > 256 {
		return fmt.Errorf("authority is longer than 256 bytes")
	}
	for i := 0; i < len(a); i++ {
		if a[i] <= ' ' || a[i] >= 0x7f || a[i] == '/' || a[i] == '"' {
			return fmt.Errorf("authority %q is not a host", clipText(a))
		}
	}
	return nil
}

// jsonKeys are the keys a JSON line is read by, by what they give.
var jsonKeys = map[string]string{
	"method": "method", ":method": "method",
	"x-envoy-original-path": "original", "x-envoy-origin-path": "original", "originalPath": "original",
	"path": "path", ":path": "path",
	"authority": "authority", ":authority": "authority", "host": "authority",
	"scheme": "scheme", ":scheme": "scheme", "x-forwarded-proto": "scheme",
	"user_agent": "ua", "user-agent": "ua", "userAgent": "ua",
	"headers": "headers",
}

// parseJSONLine reads one JSON object (see ParseLog).
func parseJSONLine(line []byte) (Request, string, error) {
	var q Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return q, "", fmt.Errorf("not a JSON object")
	}
	got := map[string]string{}
	seen := map[string]bool{}
	var headers map[string]string
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return q, "", fmt.Errorf("not valid JSON: %v", err)
		}
		key := kt.(string)
		if seen[key] {
			return q, "", fmt.Errorf("key %q twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return q, "", fmt.Errorf("not valid JSON: %v", err)
		}
		what, read := jsonKeys[key]
		if !read {
			continue
		}
		if what == "headers" {
			if string(raw) == "null" {
				continue
			}
			if err := json.Unmarshal(raw, &headers); err != nil {
				return q, "", fmt.Errorf("headers: want an object of header values")
			}
			continue
		}
		var v *string
		if err := json.Unmarshal(raw, &v); err != nil {
			return q, "", fmt.Errorf("%s: want a string", key)
		}
		if v == nil || *v == "" || *v == "-" {
			continue
		}
		if _, dup := got[what]; dup && what != "original" && what != "path" {
			return q, "", fmt.Errorf("%s: given twice, under two names", key)
		}
		got[what] = *v
	}
	if _, err := dec.Token(); err != nil {
		return q, "", fmt.Errorf("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return q, "", fmt.Errorf("more after the JSON object")
	}
	if got["method"] == "" {
		return q, "", fmt.Errorf("no method (method or :method)")
	}
	if !validToken(got["method"]) {
		return q, "", fmt.Errorf("method %q is not an HTTP method", clipText(got["method"]))
	}
	target := got["original"]
	if target == "" {
		target = got["path"]
	}
	scheme := strings.ToLower(got["scheme"])
	switch scheme {
	case "":
		scheme = "http"
	case "http", "https":
	default:
		return q, "", fmt.Errorf("scheme %q is neither http nor https", clipText(scheme))
	}
	for name := range headers {
		if !validToken(name) {
			return q, "", fmt.Errorf("headers: %q is not a header name", clipText(name))
		}
	}
	return finishRequest(got["method"], scheme, got["authority"], target, func(q *Request) {
		if ua := got["ua"]; ua != "" {
			q.addHeader("user-agent", ua)
		}
		for _, name := range sortedKeys(headers) {
			if strings.EqualFold(name, "user-agent") && got["ua"] != "" {
				continue
			}
			q.addHeader(name, headers[name])
		}
	})
}
