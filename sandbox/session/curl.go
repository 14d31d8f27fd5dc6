package session

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/rules"
)

// ParseCurl reads a curl command line (as pasted from a terminal or a
// browser's "copy as cURL") into a test request. It understands the
// options that shape a request: -X, -H, -d and its variants, -I, -A, -e,
// -b, -u is refused (credentials belong in a header the user can see).
func ParseCurl(cmd string) (*rules.Request, error) {
	args, err := shellWords(cmd)
	if err != nil {
		return nil, err
	}
	if len(args) > 0 && (args[0] == "curl" || strings.HasSuffix(args[0], "/curl")) {
		args = args[1:]
	}
	req := &rules.Request{Headers: http.Header{}}
	var data []string
	head := false
	need := func(i int, flag string) (string, error) {
		if i+1 >= len(args) {
			return "", fmt.Errorf("%s needs a value", flag)
		}
		return args[i+1], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		// --flag=value form.
		if strings.HasPrefix(a, "--") && strings.Contains(a, "=") {
			k, v, _ := strings.Cut(a, "=")
			args = append(args[:i], append([]string{k, v}, args[i+1:]...)...)
			a = k
		}
		switch a {
		case "-X", "--request":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			req.Method, i = strings.ToUpper(v), i+1
		case "-H", "--header":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			name, value, ok := strings.Cut(v, ":")
			if !ok {
				return nil, fmt.Errorf("header %q: want \"Name: value\"", v)
			}
			req.Headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
			i++
		case "-d", "--data", "--data-raw", "--data-binary", "--data-ascii":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(v, "@") && a != "--data-raw" {
				return nil, fmt.Errorf("%s %s: reading a file is not supported; paste the body", a, v)
			}
			data, i = append(data, v), i+1
		case "-A", "--user-agent":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			req.Headers.Set("User-Agent", v)
			i++
		case "-e", "--referer":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			req.Headers.Set("Referer", v)
			i++
		case "-b", "--cookie":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			req.Headers.Add("Cookie", v)
			i++
		case "-I", "--head":
			head = true
		case "--url":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			req.URL, i = v, i+1
		case "-s", "--silent", "-v", "--verbose", "-i", "--include", "-k", "--insecure", "-L", "--location", "--compressed", "-S", "--show-error", "-f", "--fail", "--http1.1", "--http2", "--http2-prior-knowledge":
			// Output and transport options do not change the request.
		default:
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("curl option %s is not supported", a)
			}
			if req.URL != "" {
				return nil, fmt.Errorf("more than one URL: %q and %q", req.URL, a)
			}
			req.URL = a
		}
	}
	if req.URL == "" {
		return nil, fmt.Errorf("no URL in the curl command")
	}
	if len(data) > 0 {
		req.Body = strings.Join(data, "&")
		if req.Headers.Get("Content-Type") == "" {
			req.Headers.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	switch {
	case req.Method != "":
	case head:
		req.Method = http.MethodHead
	case len(data) > 0:
		req.Method = http.MethodPost
	default:
		req.Method = http.MethodGet
	}
	if len(req.Headers) == 0 {
		req.Headers = nil
	}
	return req, nil
}

// shellWords splits a command line the way a POSIX shell would for the
// quoting curl commands use: single quotes, double quotes with backslash
// escapes, backslash-newline continuations.
func shellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			inWord = true
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// CurlCommand prints a request as a curl command line, every argument
// single-quoted so it pastes into any POSIX shell.
func CurlCommand(method, url string, headers http.Header, body string) string {
	var b strings.Builder
	b.WriteString("curl")
	if method != "" && method != http.MethodGet && !(method == http.MethodPost && body != "") {
		b.WriteString(" -X " + shellQuote(method))
	}
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range headers[k] {
			b.WriteString(" -H " + shellQuote(k+": "+v))
		}
	}
	if body != "" {
		b.WriteString(" --data-raw " + shellQuote(body))
	}
	b.WriteString(" " + shellQuote(url))
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
