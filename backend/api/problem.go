package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/strictjson"
	"github.com/routedeck/routedeck/backend/targets"
)

// API-only error codes, beside the model's. They never leave this package.
const (
	eTooLarge       = "too_large"
	eNotImplemented = "not_implemented"
	eMethod         = "method_not_allowed"
	eTooMany        = "too_many_requests"
	eTimeout        = "request_timeout"
	eMediaType      = "unsupported_media_type"
)

// statusByCode is the one table that turns an error kind into an HTTP
// status. Everything the API answers with an error goes through it.
var statusByCode = map[string]int{
	model.EINVALID:      http.StatusBadRequest,
	model.EUNAUTHORIZED: http.StatusUnauthorized,
	model.EFORBIDDEN:    http.StatusForbidden,
	model.ENOTFOUND:     http.StatusNotFound,
	eMethod:             http.StatusMethodNotAllowed,
	model.ECONFLICT:     http.StatusConflict,
	eTooLarge:           http.StatusRequestEntityTooLarge,
	eTooMany:            http.StatusTooManyRequests,
	eTimeout:            http.StatusRequestTimeout,
	eMediaType:          http.StatusUnsupportedMediaType,
	model.EINTERNAL:     http.StatusInternalServerError,
	eNotImplemented:     http.StatusNotImplemented,
	// A Kubernetes or Consul target that is not set up or does not answer.
	targets.EUnavailable: http.StatusBadGateway,
}

// Problem is an RFC 9457 problem document, with the field errors a form
// needs to put each message next to its field.
type Problem struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail,omitempty"`
	Errors    []model.FieldError `json:"errors,omitempty"`
	RequestID string             `json:"requestId,omitempty"`
}

// writeError answers with the problem for err. Internal errors are logged
// with their detail and shown only as "internal error".
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := model.ErrorCode(err)
	status, ok := statusByCode[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    model.ErrorMessage(err),
		Errors:    model.ErrorFields(err),
		RequestID: middleware.GetReqID(r.Context()),
	}
	if status >= 500 && code != eNotImplemented {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", p.RequestID, "err", err)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads a JSON body into v strictly (see backend/strictjson):
// unknown or wrongly cased fields, duplicate keys, numbers that do not fit
// and documents nested too deeply are refused, every problem with its
// field path, so a client learns which field to fix.
func decode(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return strictjson.Decode(body, v)
}

// decodeOptional is decode for bodies that may be left out entirely.
func decodeOptional(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return strictjson.Decode(body, v)
}

// readBody reads the whole body, which limitBody bounds; a body over the
// bound is a 413 that names the bound.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		// Name the field that filled the body, as far as it was read.
		return nil, &model.Error{Code: eTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", maxErr.Limit),
			Fields: []model.FieldError{{Field: strictjson.Heaviest(body), Message: fmt.Sprintf("makes the request body larger than %d bytes", maxErr.Limit)}}}
	}
	if err != nil {
		return nil, decodeError(err)
	}
	return body, nil
}

func decodeError(err error) error {
	var (
		maxErr *http.MaxBytesError
		netErr net.Error
	)
	switch {
	case errors.As(err, &maxErr):
		return model.Errorf(eTooLarge, "request body larger than %d bytes", maxErr.Limit)
	case errors.As(err, &netErr) && netErr.Timeout():
		// The body deadline passed (see bodyDeadline).
		return model.Errorf(eTimeout, "request body not received in time")
	}
	return model.Errorf(model.EINVALID, "could not read the request body: %v", err)
}

func fieldError(field, msg string) error {
	return &model.Error{Code: model.EINVALID, Message: "invalid request body",
		Fields: []model.FieldError{{Field: field, Message: msg}}}
}

// notWired is the answer of endpoints whose backend this server was built
// without (publishing before the ADS server is attached, for example).
func notWired(what string) error {
	return model.Errorf(eNotImplemented, "%s is not available in this server", what)
}

// logger is the access-log and recovery middleware: one line per request,
// and a panic becomes a logged stack plus a 500 problem.
func (s *server) logger(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = withActorSlot(r)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // the client went away; let net/http handle it
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path,
					"request_id", middleware.GetReqID(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if ww.Status() == 0 {
					s.writeError(ww, r, fmt.Errorf("panic: %v", v))
				}
			}
			level := slog.LevelInfo
			if ww.Status() >= 500 {
				level = slog.LevelError
			}
			s.log.Log(r.Context(), level, "http request",
				"method", r.Method, "path", r.URL.Path, "status", statusOr200(ww.Status()),
				"bytes", ww.BytesWritten(), "duration_ms", time.Since(start).Milliseconds(),
				"request_id", middleware.GetReqID(r.Context()), "actor", actorOf(r))
		}()
		next.ServeHTTP(ww, r)
	})
}

func statusOr200(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}
