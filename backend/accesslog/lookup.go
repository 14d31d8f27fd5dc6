package accesslog

import (
	"context"
	"net/http"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// Entry returns gateway's entry id, ENOTFOUND when there is none (or it
// is past retention).
func (s *Store) Entry(ctx context.Context, gateway string, id int64) (Entry, error) {
	out, err := s.query(ctx, `SELECT `+columns+` FROM entries WHERE id = ? AND gateway = ?`, id, gateway)
	if err != nil {
		return Entry{}, err
	}
	if len(out) == 0 {
		return Entry{}, model.Errorf(model.ENOTFOUND, "gateway %q has no request log entry %d (entries are kept for a limited time)", gateway, id)
	}
	return out[0], nil
}

// Request is the entry as the evaluator's request: the method, scheme,
// host and the path the proxy matched (before any rewrite), with the
// headers the gateway keeps. Headers the gateway does not keep are
// unknown, so rules that read them may be judged differently from how
// the proxy judged them.
func (e Entry) Request() rules.Request {
	path := e.Path
	if e.OriginalPath != "" {
		// A rewrite changes :path after routing and records the path
		// the route matched in x-envoy-original-path.
		path = e.OriginalPath
	}
	req := rules.Request{Method: e.Method, URL: path, Scheme: e.Scheme, Headers: http.Header{}}
	for k, v := range e.Headers {
		req.Headers[k] = []string{v}
	}
	if e.Host != "" {
		req.Headers["host"] = []string{e.Host}
	}
	if e.UserAgent != "" && req.Headers["user-agent"] == nil {
		req.Headers["user-agent"] = []string{e.UserAgent}
	}
	if e.RequestID != "" && req.Headers["x-request-id"] == nil {
		req.Headers["x-request-id"] = []string{e.RequestID}
	}
	return req
}
