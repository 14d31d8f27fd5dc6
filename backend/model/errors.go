package model

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. The API maps each to exactly one HTTP status (see backend/api).
//
// EINVALID is also the answer for input over a limit (limits.go) and for
// anything a publish would refuse about an object on its own: writes and
// publish share that check (translate.Validate), so a draft never holds an
// object Envoy would refuse. References between objects (a route to its
// gateway and upstreams, a listener to its secret) are checked at write
// time too. Only what depends on several objects together (a rule's Envoy
// routes once other rules' hosts split it into virtual hosts) is tolerated
// in a draft: a write answers it as a warning beside the object, and a
// publish refuses it.
const (
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EINTERNAL     = "internal"
)

// FieldError is one problem with one field, addressed by a path such as
// "then.forward[1].weight" or "routes[3].when.any[1].value".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) String() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Error is an application error with a code that callers can switch on and a
// message that is safe to show to users. Fields carries every validation
// problem found, not just the first.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.String()
	}
	if e.Message == "" {
		return strings.Join(parts, "; ")
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Internal errors are
// never shown verbatim: their detail belongs in the logs.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the field errors carried by err, if any.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Problems collects validation problems with field paths. The zero value is
// ready to use. Validation code adds to it and returns Err() at the end, so a
// caller sees every problem at once.
type Problems struct {
	list []FieldError
}

// Add records a problem at path.
func (p *Problems) Add(path, format string, args ...any) {
	p.list = append(p.list, FieldError{Field: path, Message: fmt.Sprintf(format, args...)})
}

// Merge records the problems of err under prefix. A *Error contributes its
// fields (or its message when it has none); any other error its text.
func (p *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var e *Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		for _, f := range e.Fields {
			p.list = append(p.list, FieldError{Field: JoinPath(prefix, f.Field), Message: f.Message})
		}
		return
	}
	if errors.As(err, &e) {
		p.list = append(p.list, FieldError{Field: prefix, Message: e.Message})
		return
	}
	p.list = append(p.list, FieldError{Field: prefix, Message: err.Error()})
}

// Len reports how many problems were recorded.
func (p *Problems) Len() int { return len(p.list) }

// List returns the recorded problems in the order they were found.
func (p *Problems) List() []FieldError { return p.list }

// Err returns nil when nothing was recorded, else an EINVALID *Error holding
// every problem, sorted by field path so output is stable.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	fields := append([]FieldError(nil), p.list...)
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	return &Error{Code: EINVALID, Message: "validation failed", Fields: fields}
}

// JoinPath joins field path segments: JoinPath("then", "forward[1]") is
// "then.forward[1]"; an index segment ("[2]") attaches without a dot.
func JoinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	}
	return prefix + "." + field
}

// Index formats a path segment for element i of a list: Index("forward", 1)
// is "forward[1]".
func Index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }
