package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// Roles, re-exported from the store so callers need one import.
const (
	RoleViewer = store.RoleViewer
	RoleEditor = store.RoleEditor
	RoleAdmin  = store.RoleAdmin
)

// Roles lists the roles, lowest first.
var Roles = []string{RoleViewer, RoleEditor, RoleAdmin}

// rank orders roles; unknown roles rank 0 and pass nothing.
func rank(role string) int {
	for i, r := range Roles {
		if r == role {
			return i + 1
		}
	}
	return 0
}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool { return rank(role) > 0 }

// Allows reports whether a caller with role have may use something that
// needs role need.
func Allows(have, need string) bool { return rank(have) > 0 && rank(have) >= rank(need) }

// Principal is the authenticated caller of a request.
type Principal struct {
	Name string // user name, or "token:NAME" for API tokens
	Role string
	// Session is set when the caller authenticated with the session cookie;
	// such callers must echo its CSRF token on unsafe methods.
	Session *store.Session
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, if it authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Actor names the caller in revisions and the audit log ("anonymous" when
// there is none, which only the health check allows).
func Actor(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok {
		return p.Name
	}
	return "anonymous"
}

// Lookup is what authentication needs from the store.
type Lookup interface {
	TokenByHash(ctx context.Context, hash string) (store.Token, error)
	SessionByHash(ctx context.Context, hash string) (store.Session, error)
}

// Cookie and header names of browser sessions.
const (
	SessionCookie = "routedeck_session"
	CSRFHeader    = "X-CSRF-Token"
)

// SessionTTL is how long a browser login lasts.
const SessionTTL = 12 * time.Hour

// NewSession creates the session for a logged-in user: the cookie value to
// send and the record to store (holding only the value's hash).
func NewSession(user store.User, now time.Time) (cookie string, sess store.Session, err error) {
	cookie, err = randomString(32)
	if err != nil {
		return "", store.Session{}, fmt.Errorf("new session: %w", err)
	}
	csrf, err := randomString(32)
	if err != nil {
		return "", store.Session{}, fmt.Errorf("new session: %w", err)
	}
	return cookie, store.Session{
		Hash:      HashSecret(cookie),
		User:      user.Name,
		Role:      user.Role,
		CSRF:      csrf,
		ExpiresAt: now.Add(SessionTTL),
	}, nil
}

// SessionCookieFor builds the cookie that carries a session: HttpOnly so
// scripts cannot read it, SameSite=Strict so other sites cannot send it.
func SessionCookieFor(value string, expires time.Time, secure bool) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteStrictMode,
	}
}

// Authenticator is the middleware pair that identifies callers
// (Authenticate) and gates routes by role (Require).
type Authenticator struct {
	Lookup Lookup
	// Fail writes an error response; the API passes its problem writer so
	// auth failures look like every other error.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
}

// Authenticate identifies the caller from a Bearer token or the session
// cookie and stores the Principal in the request context. Requests without
// credentials pass through unauthenticated (Require decides); bad
// credentials are refused here with 401, and a cookie-authenticated unsafe
// request without the matching CSRF header with 403.
func (a *Authenticator) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, tok, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
				a.unauthorized(w, r, "use Authorization: Bearer TOKEN")
				return
			}
			t, err := a.Lookup.TokenByHash(ctx, HashSecret(strings.TrimSpace(tok)))
			if err != nil {
				a.lookupFailed(w, r, err, "invalid or revoked token")
				return
			}
			p := Principal{Name: "token:" + t.Name, Role: t.Role}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(ctx, p)))
			return
		}
		if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
			sess, err := a.Lookup.SessionByHash(ctx, HashSecret(c.Value))
			if err != nil {
				a.lookupFailed(w, r, err, "session expired, log in again")
				return
			}
			if !safeMethod(r.Method) {
				got := r.Header.Get(CSRFHeader)
				if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
					a.Fail(w, r, model.Errorf(model.EFORBIDDEN, "missing or wrong %s header", CSRFHeader))
					return
				}
			}
			p := Principal{Name: sess.User, Role: sess.Role, Session: &sess}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(ctx, p)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Require lets a request through only if its caller has at least role need:
// 401 without credentials, 403 with too low a role.
func (a *Authenticator) Require(need string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := FromContext(r.Context())
			if !ok {
				a.unauthorized(w, r, "authentication required")
				return
			}
			if !Allows(p.Role, need) {
				a.Fail(w, r, model.Errorf(model.EFORBIDDEN, "role %s required, you have %s", need, p.Role))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (a *Authenticator) lookupFailed(w http.ResponseWriter, r *http.Request, err error, msg string) {
	code := model.ErrorCode(err)
	if code == model.EUNAUTHORIZED || code == model.ENOTFOUND {
		a.unauthorized(w, r, msg)
		return
	}
	a.Fail(w, r, fmt.Errorf("authenticate: %w", err))
}

func (a *Authenticator) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="routedeck"`)
	a.Fail(w, r, model.Errorf(model.EUNAUTHORIZED, "%s", msg))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
