package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash not in PHC form: %s", h)
	}
	tests := map[string]struct {
		hash, password string
		ok, err        bool
	}{
		"right password":  {h, "correct horse", true, false},
		"wrong password":  {h, "battery staple", false, false},
		"empty password":  {h, "", false, false},
		"not argon2id":    {"$2a$10$abc", "x", false, true},
		"garbled params":  {"$argon2id$v=19$m=x$AAAA$AAAA", "x", false, true},
		"garbled salt":    {"$argon2id$v=19$m=8,t=1,p=1$!!$AAAA", "x", false, true},
		"unknown version": {"$argon2id$v=16$m=8,t=1,p=1$AAAA$AAAA", "x", false, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword(tc.hash, tc.password)
			if ok != tc.ok || (err != nil) != tc.err {
				t.Errorf("VerifyPassword = %v, %v; want %v, err %v", ok, err, tc.ok, tc.err)
			}
		})
	}
	h2, _ := HashPassword("correct horse")
	if h2 == h {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestNewToken(t *testing.T) {
	tok, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^rd_[A-Za-z0-9_-]{43}$`).MatchString(tok) {
		t.Errorf("token %q not rd_ + 32 bytes base64url", tok)
	}
	if hash != HashSecret(tok) || len(hash) != 64 || strings.Contains(hash, tok) {
		t.Errorf("hash %q is not the SHA-256 of the token", hash)
	}
	tok2, _, _ := NewToken()
	if tok2 == tok {
		t.Error("tokens repeat")
	}
}

func TestAllows(t *testing.T) {
	tests := map[string]struct {
		have, need string
		want       bool
	}{
		"viewer reads":       {RoleViewer, RoleViewer, true},
		"viewer writes":      {RoleViewer, RoleEditor, false},
		"editor writes":      {RoleEditor, RoleEditor, true},
		"editor administers": {RoleEditor, RoleAdmin, false},
		"admin does all":     {RoleAdmin, RoleEditor, true},
		"unknown role":       {"root", RoleViewer, false},
		"empty role":         {"", RoleViewer, false},
		"admin reads":        {RoleAdmin, RoleViewer, true},
		"admin administers":  {RoleAdmin, RoleAdmin, true},
		"viewer administers": {RoleViewer, RoleAdmin, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Allows(tc.have, tc.need); got != tc.want {
				t.Errorf("Allows(%q, %q) = %v", tc.have, tc.need, got)
			}
		})
	}
}

// lookup is an in-memory Lookup; the API tests cover the real store.
type lookup struct {
	tokens   map[string]store.Token
	sessions map[string]store.Session
}

func (l lookup) TokenByHash(_ context.Context, h string) (store.Token, error) {
	if t, ok := l.tokens[h]; ok {
		return t, nil
	}
	return store.Token{}, model.Errorf(model.EUNAUTHORIZED, "no token")
}

func (l lookup) SessionByHash(_ context.Context, h string) (store.Session, error) {
	if s, ok := l.sessions[h]; ok {
		return s, nil
	}
	return store.Session{}, model.Errorf(model.EUNAUTHORIZED, "no session")
}

func TestMiddleware(t *testing.T) {
	cookie, sess, err := NewSession(store.User{Name: "ana", Role: RoleEditor}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l := lookup{
		tokens:   map[string]store.Token{HashSecret("rd_view"): {Name: "ci", Role: RoleViewer}},
		sessions: map[string]store.Session{sess.Hash: sess},
	}
	a := &Authenticator{Lookup: l, Fail: func(w http.ResponseWriter, _ *http.Request, err error) {
		status := map[string]int{model.EUNAUTHORIZED: 401, model.EFORBIDDEN: 403}[model.ErrorCode(err)]
		http.Error(w, err.Error(), status)
	}}
	var actor string
	h := a.Authenticate(a.Require(RoleEditor)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor = Actor(r.Context())
	})))
	tests := map[string]struct {
		method    string
		header    map[string]string
		cookie    string
		want      int
		wantActor string
	}{
		"nothing":                {method: "POST", want: 401},
		"bad scheme":             {method: "POST", header: map[string]string{"Authorization": "Basic eDp5"}, want: 401},
		"unknown token":          {method: "POST", header: map[string]string{"Authorization": "Bearer rd_nope"}, want: 401},
		"viewer token too low":   {method: "POST", header: map[string]string{"Authorization": "Bearer rd_view"}, want: 403},
		"session without csrf":   {method: "POST", cookie: cookie, want: 403},
		"session wrong csrf":     {method: "POST", cookie: cookie, header: map[string]string{CSRFHeader: "x"}, want: 403},
		"session with csrf":      {method: "POST", cookie: cookie, header: map[string]string{CSRFHeader: sess.CSRF}, want: 200, wantActor: "ana"},
		"session get needs none": {method: "GET", cookie: cookie, want: 200, wantActor: "ana"},
		"unknown session":        {method: "GET", cookie: "stale", want: 401},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			actor = ""
			req := httptest.NewRequest(tc.method, "/x", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: SessionCookie, Value: tc.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want || actor != tc.wantActor {
				t.Errorf("status %d actor %q; want %d %q (%s)", rec.Code, actor, tc.want, tc.wantActor, rec.Body)
			}
			if tc.want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}
