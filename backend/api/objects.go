package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/strictjson"
	"github.com/routedeck/routedeck/backend/translate"
)

// kindInfo ties a URL collection to a model kind.
type kindInfo struct {
	kind string // model kind, e.g. "Route"
	path string // collection in URLs, e.g. "routes"
}

var (
	kindGateway  = kindInfo{model.KindGateway, "gateways"}
	kindUpstream = kindInfo{model.KindUpstream, "upstreams"}
	kindRoute    = kindInfo{model.KindRoute, "routes"}
	kindSecret   = kindInfo{model.KindSecret, "secrets"}
	kinds        = []kindInfo{kindGateway, kindUpstream, kindRoute, kindSecret}
)

// listResponse is the shape of every list: one page of items, the total
// when it is known, the page size that was applied and its cap, and the
// cursor of the next page (absent on the last).
type listResponse[T any] struct {
	Items []T  `json:"items"`
	Total *int `json:"total,omitempty"`
	// Limit is the page size applied: the ?limit asked for, the default
	// when none was, never more than MaxLimit.
	Limit    int `json:"limit"`
	MaxLimit int `json:"maxLimit"`
	// Next is an opaque cursor: repeat the request with ?cursor=Next (and
	// the same filters) for the next page. The same URL is in the Link
	// header with rel="next".
	Next string `json:"next,omitempty"`
}

// writeItems answers with a list that is not paged (the results of one
// request); an empty one is [], never null.
func writeItems[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func errNotFound(format string, args ...any) error {
	return model.Errorf(model.ENOTFOUND, format, args...)
}

func errMethod(r *http.Request) error {
	return model.Errorf(eMethod, "method %s not allowed on %s", r.Method, r.URL.Path)
}

// view renders an object for a response: its JSON plus "kind" and, for
// routes, "whenText" (the condition in the text language, for editors that
// show it). Secret values are never shown: private keys, API keys and
// passwords read as their fingerprints.
func (s *server) view(obj model.Object) (any, error) { return s.viewWarnings(obj, nil) }

// viewWarnings is view with the draft warnings of a write beside the
// object's fields (nil: no "warnings" field, as in reads).
func (s *server) viewWarnings(obj model.Object, warnings []model.FieldError) (any, error) {
	obj = model.Redact(obj, s.Fingerprinter)
	raw, err := json.Marshal(obj)
	if err != nil || len(raw) < 2 || raw[0] != '{' {
		return nil, fmt.Errorf("encode %s: %v", obj.Kind(), err)
	}
	// The extra fields go in front of the object's own, spliced into its
	// encoding: lists of 10,000 routes are rendered with one Marshal per
	// object rather than a decode into a map and a second encode.
	extra := map[string]any{"kind": obj.Kind()}
	if r, ok := obj.(*model.Route); ok {
		extra["whenText"] = formatCondition(r.When)
	}
	if warnings != nil {
		extra["warnings"] = warnings
	}
	head, err := json.Marshal(extra)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", obj.Kind(), err)
	}
	out := append(head[:len(head)-1:len(head)-1], ',')
	if len(raw) == 2 { // "{}": nothing to join
		out = out[:len(out)-1]
	}
	return json.RawMessage(append(out, raw[1:]...)), nil
}

// decodeObject reads an object of kind k from the request body, strictly
// (strictjson.DecodeObject: what a read answered may be sent back).
// Condition text is parsed. complete, when set, fills in what the client
// may leave out or send as fingerprints (stored secret values) before the
// object is checked. When the only problems are of its fields, the object
// comes back with them, for withReferences.
func decodeObject(r *http.Request, k kindInfo, complete func(model.Object) error) (model.Object, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	obj, decodeErr := strictjson.DecodeObject(body, k.kind)
	if obj == nil {
		return nil, decodeErr
	}
	if complete != nil {
		if err := complete(obj); err != nil {
			return nil, cmp.Or(decodeErr, err)
		}
	}
	if err := withDecodeProblems(decodeErr, prepare(obj)); err != nil {
		return obj, err
	}
	return obj, nil
}

// withReferences adds to the problems err of an object that did not
// decode or check cleanly what is wrong between it and the draft (an
// unknown gateway or upstream, which the store checks only once the
// object is right), so one answer holds everything. A field that has a
// problem already gets no second one.
func (s *server) withReferences(r *http.Request, k kindInfo, obj model.Object, err error) error {
	own := model.ErrorFields(err)
	if obj == nil || model.ErrorCode(err) != model.EINVALID || len(own) == 0 {
		return err
	}
	draft, derr := s.Store.Workspace(r.Context())
	if derr != nil {
		return err
	}
	var ws model.Workspace
	ws.Add(obj)
	// The object comes first in its list of the merged workspace.
	at := model.Index(k.path, 0)
	var p model.Problems
	p.Merge("", err)
	merged := mergeWorkspace(ws, draft)
	for _, fe := range model.ErrorFields(merged.Validate()) {
		rest, ok := strings.CutPrefix(fe.Field, at)
		if !ok || rest != "" && rest[0] != '.' {
			continue
		}
		if rest = strings.TrimPrefix(rest, "."); !strictjson.Hidden(rest, own) {
			p.Add(rest, "%s", fe.Message)
		}
	}
	return p.Err()
}

// withDecodeProblems answers the problems of a body that decoded with
// field problems (decodeErr) together with those the object's checks
// found in the rest, less the checks' follow-ons of a field that did not
// decode, so one answer holds everything.
func withDecodeProblems(decodeErr, checkErr error) error {
	if decodeErr == nil {
		return checkErr
	}
	decoded := model.ErrorFields(decodeErr)
	var p model.Problems
	p.Merge("", decodeErr)
	for _, fe := range model.ErrorFields(checkErr) {
		if !strictjson.Hidden(fe.Field, decoded) {
			p.Add(fe.Field, "%s", fe.Message)
		}
	}
	return p.Err()
}

// prepare parses condition text and checks the object on its own, so a
// client gets every problem of its object in one answer.
func prepare(obj model.Object) error {
	var p model.Problems
	if r, ok := obj.(*model.Route); ok {
		if err := resolveRoute(r); err != nil {
			p.Merge("", err)
			// The condition did not parse: validation would only repeat
			// that about "when", so keep its other findings.
			for _, fe := range model.ErrorFields(obj.Validate()) {
				if !strings.HasPrefix(fe.Field, "when") {
					p.Add(fe.Field, "%s", fe.Message)
				}
			}
			return p.Err()
		}
	}
	p.Merge("", translate.Validate(obj))
	return p.Err()
}

func (s *server) listObjects(k kindInfo) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		opt := store.ListOptions{
			Gateway:  q.Get("gateway"),
			Upstream: q.Get("upstream"),
			Host:     q.Get("host"),
			Search:   q.Get("q"),
		}
		pg, err := readPage(q)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		opt.Limit, opt.Offset = pg.limit, pg.offset
		objs, total, err := s.Store.List(r.Context(), k.kind, opt)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("list %s: %w", k.path, err))
			return
		}
		items := make([]any, 0, len(objs))
		for _, o := range objs {
			v, err := s.view(o)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			items = append(items, v)
		}
		writePage(w, r, pg, items, total)
	}
}

func (s *server) getObject(k kindInfo) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		obj, err := s.Store.Get(r.Context(), k.kind, chi.URLParam(r, "name"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeObject(w, r, http.StatusOK, obj)
	}
}

func (s *server) writeObject(w http.ResponseWriter, r *http.Request, status int, obj model.Object) {
	s.writeObjectWarnings(w, r, status, obj, nil)
}

// writeWritten answers a create or an update: the object as stored and
// its draft warnings.
func (s *server) writeWritten(w http.ResponseWriter, r *http.Request, status int, obj model.Object) {
	s.writeObjectWarnings(w, r, status, obj, s.draftWarnings(r.Context(), obj))
}

func (s *server) writeObjectWarnings(w http.ResponseWriter, r *http.Request, status int, obj model.Object, warnings []model.FieldError) {
	v, err := s.viewWarnings(obj, warnings)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(obj.ObjectMeta().Version, 10)))
	writeJSON(w, status, v)
}

func (s *server) createObject(k kindInfo) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// A new object has no stored values for a fingerprint to name.
		obj, err := decodeObject(r, k, func(obj model.Object) error {
			return model.RestoreSecrets(obj, nil, s.Fingerprinter)
		})
		if err != nil {
			s.writeError(w, r, s.withReferences(r, k, obj, err))
			return
		}
		if err := s.Store.Create(r.Context(), auth.Actor(r.Context()), obj); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Location", "/api/v1/"+k.path+"/"+url.PathEscape(obj.ObjectMeta().Name))
		s.writeWritten(w, r, http.StatusCreated, obj)
	}
}

func (s *server) updateObject(k kindInfo) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "name")
		obj, err := decodeObject(r, k, func(obj model.Object) error {
			// The name may be left to the URL; the checks need it.
			if meta := obj.ObjectMeta(); meta.Name == "" {
				meta.Name = name
			}
			return s.restoreSecrets(r, k, name, obj)
		})
		if err != nil {
			s.writeError(w, r, s.withReferences(r, k, obj, err))
			return
		}
		meta := obj.ObjectMeta()
		if meta.Name != name {
			s.writeError(w, r, fieldError("name", fmt.Sprintf("%q does not match the URL (%q); renaming is not supported", meta.Name, name)))
			return
		}
		if meta.Version == 0 {
			v, err := versionFrom(r, false)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			meta.Version = v
		}
		if meta.Version == 0 {
			s.writeError(w, r, fieldError("version", "required: send the version you read (or If-Match) so concurrent edits are detected"))
			return
		}
		if err := s.Store.Update(r.Context(), auth.Actor(r.Context()), obj); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeWritten(w, r, http.StatusOK, obj)
	}
}

func (s *server) deleteObject(k kindInfo) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		version, err := versionFrom(r, true)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.Store.Delete(r.Context(), auth.Actor(r.Context()), k.kind, chi.URLParam(r, "name"), version); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// versionFrom reads the expected version from If-Match (an ETag as sent by
// GET, quoted or not) or, when query is set, ?version=. 0 means none given.
func versionFrom(r *http.Request, query bool) (int64, error) {
	v := strings.Trim(strings.TrimPrefix(r.Header.Get("If-Match"), "W/"), `"`)
	field := "If-Match"
	if v == "" && query {
		v, field = r.URL.Query().Get("version"), "version"
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fieldError(field, "must be a version number")
	}
	return n, nil
}

// restoreSecrets gives obj the stored values its fingerprints name (and a
// secret sent without its private key the stored key), so a client can
// send back what it read, though it can never read those values. The
// store's version check still guards the write: a value taken from a newer
// version than the client read ends in 409 like any stale update.
func (s *server) restoreSecrets(r *http.Request, k kindInfo, name string, obj model.Object) error {
	if sec, ok := obj.(*model.Secret); !model.HasSecrets(obj) && !(ok && sec.KeepsStoredKey()) {
		return nil
	}
	cur, err := s.Store.Get(r.Context(), k.kind, name)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil // the update answers 404; validation must not hide it
	} else if err != nil {
		return err
	}
	return model.RestoreSecrets(obj, cur, s.Fingerprinter)
}
