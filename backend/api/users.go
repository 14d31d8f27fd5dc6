package api

import (
	"fmt"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.Store.ListUsers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSlice(s, w, r, users)
}

type createUserRequest struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := auth.CheckAccount(req.Name, req.Role, &req.Password); err != nil {
		s.writeError(w, r, err)
		return
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u := store.User{Name: req.Name, Role: req.Role, PasswordHash: hash}
	if err := s.Store.CreateUser(r.Context(), auth.Actor(r.Context()), &u); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.Store.ListTokens(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSlice(s, w, r, toks)
}

type createTokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// createTokenResponse shows the token once; only its hash is kept.
type createTokenResponse struct {
	store.Token
	Secret string `json:"token"`
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	var req createTokenRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := auth.CheckAccount(req.Name, req.Role, nil); err != nil {
		s.writeError(w, r, err)
		return
	}
	secret, hash, err := auth.NewToken()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t := store.Token{Name: req.Name, Role: req.Role, Hash: hash}
	if err := s.Store.CreateToken(r.Context(), auth.Actor(r.Context()), &t); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createTokenResponse{Token: t, Secret: secret})
}

func (s *server) deleteToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.writeError(w, r, errNotFound("no token %q", chi.URLParam(r, "id")))
		return
	}
	if err := s.Store.DeleteToken(r.Context(), auth.Actor(r.Context()), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listAudit(w http.ResponseWriter, r *http.Request) {
	pg, err := readPage(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entries, err := s.Store.ListAudit(r.Context(), pg.limit, pg.offset)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// No total: the audit log only grows, and pages are read newest first.
	writePage(w, r, pg, entries, -1)
}

type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// sessionResponse is what the UI needs after login: who it is and the CSRF
// token to send as X-CSRF-Token on writes.
type sessionResponse struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CSRFToken string    `json:"csrfToken,omitempty"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// loginOrigin refuses sign-ins that a page of another site makes the
// browser send (login CSRF: signing the victim in as the attacker). Other
// writes need the session's CSRF token; the sign-in cannot, having no
// session yet. Clients that are not browsers send neither Origin nor
// Sec-Fetch-Site and pass.
var loginOrigin = http.NewCrossOriginProtection()

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if err := loginOrigin.Check(r); err != nil {
		s.writeError(w, r, model.Errorf(model.EFORBIDDEN, "sign-in from another site refused"))
		return
	}
	// Only JSON: a form or text/plain post is what a foreign page can
	// send without a CORS preflight.
	if err := requireJSON(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req loginRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Password) > auth.MaxPasswordLen {
		s.writeError(w, r, fieldError("password", fmt.Sprintf("must be at most %d bytes", auth.MaxPasswordLen)))
		return
	}
	// One answer for unknown user and wrong password, so names cannot be
	// probed.
	denied := model.Errorf(model.EUNAUTHORIZED, "wrong user name or password")
	addr := clientAddr(r)
	if req.Name == "" || req.Password == "" {
		s.writeError(w, r, denied)
		return
	}
	// A name new accounts cannot have is counted against the address
	// only, so junk names take no room in the table of user names. It is
	// still looked up: an account made before names were checked can sign
	// in.
	unchecked := auth.AccountNameProblem(req.Name) != ""
	fail := func() { s.LoginGuard.Fail(req.Name, addr) }
	wait := func() time.Duration { return s.LoginGuard.Wait(req.Name, addr) }
	if unchecked {
		fail = func() { s.LoginGuard.Addrs.Fail(addr) }
		wait = func() time.Duration { return s.LoginGuard.Addrs.Wait(addr) }
	}
	// A locked name or address is refused before the password is looked
	// at, so guessing on during the lock learns nothing.
	if d := wait(); d > 0 {
		logged := req.Name
		if unchecked {
			logged = "" // junk: kept out of the log
		}
		s.throttled(w, r, logged, addr, d)
		return
	}
	u, err := s.Store.UserByName(r.Context(), req.Name)
	if model.ErrorCode(err) == model.ENOTFOUND {
		fail()
		s.writeError(w, r, denied)
		return
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok, err := auth.VerifyPassword(u.PasswordHash, req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok {
		fail()
		s.auditLog(r, store.AuditEntry{Actor: req.Name, Action: "login.failed", Target: "user/" + req.Name})
		s.writeError(w, r, denied)
		return
	}
	cookie, sess, err := auth.NewSession(u, time.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Store.CreateSession(r.Context(), sess); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.LoginGuard.Succeed(req.Name)
	s.auditLog(r, store.AuditEntry{Actor: u.Name, Action: "login", Target: "user/" + u.Name})
	http.SetCookie(w, auth.SessionCookieFor(cookie, sess.ExpiresAt, s.SecureCookies))
	writeJSON(w, http.StatusOK, sessionResponse{Name: u.Name, Role: u.Role, CSRFToken: sess.CSRF, ExpiresAt: sess.ExpiresAt})
}

// throttled answers a sign-in that must wait.
func (s *server) throttled(w http.ResponseWriter, r *http.Request, user, addr string, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.log.WarnContext(r.Context(), "login throttled", "user", user, "addr", addr, "retry_after_s", secs)
	s.writeError(w, r, model.Errorf(eTooMany, "too many failed sign-ins for this user or address; try again in %d s", secs))
}

// requireJSON refuses a body that does not say it is JSON.
func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return model.Errorf(eMediaType, "Content-Type must be application/json")
	}
	return nil
}

// clientAddr is the address the request came from, as the sign-in
// throttle counts it. Forwarding headers are not trusted: anyone can send
// them, and a throttle keyed on them could be dodged by changing the
// header. An IPv6 client counts by its /64, the block one host or site is
// given, or it could change address for every guess.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if ip = ip.Unmap(); ip.Is6() {
		prefix, _ := ip.Prefix(64)
		return prefix.String()
	}
	return ip.String()
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if p, _ := auth.FromContext(r.Context()); p.Session != nil {
		if err := s.Store.DeleteSession(r.Context(), p.Session.Hash); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, auth.SessionCookieFor("", time.Unix(0, 0), s.SecureCookies))
	w.WriteHeader(http.StatusNoContent)
}

// me tells the UI who it is. A session caller gets its CSRF token again, so
// a reloaded page can keep writing; the cookie and this same-origin answer
// are out of reach of other sites.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	resp := sessionResponse{Name: p.Name, Role: p.Role}
	if p.Session != nil {
		resp.CSRFToken, resp.ExpiresAt = p.Session.CSRF, p.Session.ExpiresAt
	}
	writeJSON(w, http.StatusOK, resp)
}

// auditLog records an event that no store write records by itself. A
// failure to audit is logged, not shown: the action already happened.
func (s *server) auditLog(r *http.Request, e store.AuditEntry) {
	if err := s.Store.Audit(r.Context(), e); err != nil {
		s.log.ErrorContext(r.Context(), "audit failed", "action", e.Action, "err", err)
	}
}
