package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
)

// harFile is the part of an HTTP Archive (HAR 1.2, as browsers save it)
// a replay reads: each entry's request line and headers. Browsers add
// fields of their own (Chromium's start with "_"), so other fields are
// left alone.
type harFile struct {
	Log *struct {
		Entries *[]harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	Request *struct {
		Method      *string     `json:"method"`
		URL         *string     `json:"url"`
		HTTPVersion string      `json:"httpVersion"`
		Headers     []harHeader `json:"headers"`
	} `json:"request"`
}

type harHeader struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
}

// ParseHAR reads the requests of a HAR file. A file that is not a HAR
// document, or an entry without a method or URL or with a header
// without a name, refuses the whole file with every problem by its path
// (log.entries[3].request.url). Entries a gateway cannot route (data:
// and blob: URLs, CONNECT) are counted as skipped.
func ParseHAR(ctx context.Context, data []byte) ([]Request, replay.SourceSummary, error) {
	p := &problems{field: "source.har"}
	if len(data) > replay.MaxUploadBytes {
		p.add("file", "is %d bytes; at most %d are replayed", len(data), replay.MaxUploadBytes)
		return nil, replay.SourceSummary{}, p.err("HAR file")
	}
	var f harFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		p.add(jsonPlace(data, err), "not a HAR file: %v", jsonMessage(err))
		return nil, replay.SourceSummary{}, p.err("HAR file")
	}
	if dec.More() {
		p.add(lineOf(data, int(dec.InputOffset())), "not a HAR file: more after the document")
	}
	if f.Log == nil || f.Log.Entries == nil {
		p.add("log.entries", "required: a HAR file's requests")
		return nil, replay.SourceSummary{}, p.err("HAR file")
	}
	c := newCollector(replay.SourceHAR)
	for i, e := range *f.Log.Entries {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, replay.SourceSummary{}, ctx.Err()
		}
		at := fmt.Sprintf("log.entries[%d].request", i)
		if e.Request == nil {
			p.add(at, "required")
			continue
		}
		r := e.Request
		before := len(p.list) + p.more
		if r.Method == nil || !validToken(*r.Method) {
			p.add(at+".method", "required: an HTTP method")
		}
		if r.URL == nil || *r.URL == "" {
			p.add(at+".url", "required")
		}
		for j, h := range r.Headers {
			hp := fmt.Sprintf("%s.headers[%d]", at, j)
			switch {
			case h.Name == nil || !validToken(strings.TrimPrefix(*h.Name, ":")):
				p.add(hp+".name", "required: a header name")
			case h.Value == nil:
				p.add(hp+".value", "required")
			case len(*h.Value) > maxLine:
				p.add(hp+".value", "longer than %d bytes", maxLine)
			}
		}
		if len(p.list)+p.more > before {
			continue
		}
		q, skip, msg := harRequest(*r.Method, *r.URL, r.Headers)
		switch {
		case msg != "":
			p.add(at+".url", "%s", msg)
		case skip != "":
			c.skip(skip)
		default:
			q.Origin = fmt.Sprintf("entry %d", i)
			c.add(q)
		}
	}
	if err := p.err("HAR file"); err != nil {
		return nil, replay.SourceSummary{}, err
	}
	return c.reqs, c.summary, nil
}

// harRequest turns a HAR request into a replayed one: a skip reason for
// what a gateway does not route, or a problem with the URL.
func harRequest(method, rawURL string, headers []harHeader) (q Request, skip, problem string) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	scheme = strings.ToLower(scheme)
	if !ok {
		if i := strings.IndexByte(rawURL, ':'); i > 0 {
			return q, skipNotHTTP, "" // data:, blob:, about:
		}
		return q, "", fmt.Sprintf("%q is not an absolute URL", clipText(rawURL))
	}
	switch scheme {
	case "http", "https":
	case "ws", "wss":
		// A WebSocket handshake is a GET the gateway routes like any.
		scheme = map[string]string{"ws": "http", "wss": "https"}[scheme]
	default:
		return q, skipNotHTTP, ""
	}
	if strings.EqualFold(method, "CONNECT") {
		return q, skipConnect, ""
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	q = Request{Method: strings.ToUpper(method), Scheme: scheme, Authority: rest[:end], Target: rest[end:]}
	if at := strings.LastIndexByte(q.Authority, '@'); at >= 0 {
		q.Authority = q.Authority[at+1:]
	}
	if q.Authority == "" {
		return q, "", fmt.Sprintf("%q has no host", clipText(rawURL))
	}
	if err := checkAuthority(q.Authority); err != nil {
		return q, "", err.Error()
	}
	if q.Target == "" || q.Target[0] == '?' {
		q.Target = "/" + q.Target
	}
	if strings.ContainsAny(q.Target, " \t\r\n") {
		return q, "", fmt.Sprintf("%q has white space in its path", clipText(rawURL))
	}
	for _, h := range headers {
		name := strings.ToLower(*h.Name)
		switch name {
		case "host", ":authority":
			// What was sent wins over the URL (they agree, but for a
			// request a page sent with its own Host).
			if err := checkAuthority(*h.Value); err != nil {
				return q, "", err.Error()
			}
			q.Authority = *h.Value
		default:
			q.addHeader(name, *h.Value)
		}
	}
	return q, "", ""
}

// jsonPlace says where in data a decoding error is: "line L, column C".
func jsonPlace(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return lineOf(data, int(se.Offset))
	case errors.As(err, &te):
		if te.Field != "" {
			return te.Field
		}
		return lineOf(data, int(te.Offset))
	}
	return "file"
}

func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got a JSON %s", te.Type, te.Value)
	}
	return err.Error()
}

// lineOf renders a byte offset of data as "line L, column C".
func lineOf(data []byte, off int) string {
	off = min(max(off, 0), len(data))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// validToken checks an HTTP token (a method, a header name).
func validToken(s string) bool {
	if s == "" || len(s) > model.MaxHeaderNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// clipText shortens a value quoted in a problem.
func clipText(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
