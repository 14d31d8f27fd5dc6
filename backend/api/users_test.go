package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/store"
)

func TestLoginRefusesForeignPagesAndNonJSON(t *testing.T) {
	a := newTestAPI(t)
	a.do(t, "admin", "POST", "/api/v1/users", map[string]any{"name": "ana", "role": "editor", "password": "long enough"}).must(t, http.StatusCreated)
	good := `{"name":"ana","password":"long enough"}`
	self := strings.TrimPrefix(a.srv.URL, "http://")
	tests := map[string]struct {
		body   string
		header []string
		status int
	}{
		"JSON from a non-browser client": {good, []string{"Content-Type", "application/json"}, http.StatusOK},
		"JSON with a charset":            {good, []string{"Content-Type", "application/json; charset=utf-8"}, http.StatusOK},
		"same-origin page":               {good, []string{"Content-Type", "application/json", "Origin", "http://" + self, "Sec-Fetch-Site", "same-origin"}, http.StatusOK},
		"same origin, older browser":     {good, []string{"Content-Type", "application/json", "Origin", "http://" + self}, http.StatusOK},
		"text/plain":                     {good, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		"form post":                      {"name=ana&password=long+enough", []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		"multipart form":                 {good, []string{"Content-Type", "multipart/form-data; boundary=x"}, http.StatusUnsupportedMediaType},
		"no content type":                {good, []string{"Content-Type", ""}, http.StatusUnsupportedMediaType},
		"foreign origin":                 {good, []string{"Content-Type", "application/json", "Origin", "https://evil.example"}, http.StatusForbidden},
		"cross-site fetch":               {good, []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		"same-site but other origin":     {good, []string{"Content-Type", "application/json", "Sec-Fetch-Site", "same-site", "Origin", "http://other." + self}, http.StatusForbidden},
		"cross-site text/plain form":     {good, []string{"Content-Type", "text/plain", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, "", "POST", "/api/v1/auth/login", tc.body, tc.header...).must(t, tc.status)
			if tc.status != http.StatusOK && r.header.Get("Set-Cookie") != "" {
				t.Errorf("a refused sign-in set a cookie: %s", r.header.Get("Set-Cookie"))
			}
		})
	}
}

func TestAccountNamesAndPasswordsAreChecked(t *testing.T) {
	a := newTestAPI(t)
	long := strings.Repeat("p", 3<<20)
	tests := map[string]struct {
		path string
		body map[string]any
		// field is the field the problem names.
		field string
	}{
		"user name with NUL":        {"/api/v1/users", map[string]any{"name": "ana\x00", "role": "viewer", "password": "long enough"}, "name"},
		"user name with newline":    {"/api/v1/users", map[string]any{"name": "ana\nadmin", "role": "viewer", "password": "long enough"}, "name"},
		"user name with ../":        {"/api/v1/users", map[string]any{"name": "../admin", "role": "viewer", "password": "long enough"}, "name"},
		"user name of 5,000 chars":  {"/api/v1/users", map[string]any{"name": strings.Repeat("a", 5000), "role": "viewer", "password": "long enough"}, "name"},
		"password of 3 MB":          {"/api/v1/users", map[string]any{"name": "ana", "role": "viewer", "password": long}, "password"},
		"short password":            {"/api/v1/users", map[string]any{"name": "ana", "role": "viewer", "password": "short"}, "password"},
		"token name with NUL":       {"/api/v1/tokens", map[string]any{"name": "ci\x00", "role": "viewer"}, "name"},
		"token name with ../":       {"/api/v1/tokens", map[string]any{"name": "../ci", "role": "viewer"}, "name"},
		"token name of 5,000 chars": {"/api/v1/tokens", map[string]any{"name": strings.Repeat("t", 5000), "role": "viewer"}, "name"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, "admin", "POST", tc.path, tc.body).must(t, http.StatusBadRequest)
			if _, ok := r.problemFields(t)[tc.field]; !ok {
				t.Errorf("problem does not name %q: %s", tc.field, r.body)
			}
		})
	}
	users := a.do(t, "admin", "GET", "/api/v1/users", nil).must(t, http.StatusOK).json(t)["items"].([]any)
	if len(users) != 0 {
		t.Errorf("refused users were stored: %v", users)
	}
	a.do(t, "admin", "POST", "/api/v1/users", map[string]any{"name": "ana@example.com", "role": "viewer", "password": "long enough"}).must(t, http.StatusCreated)

	// Signing in with a 3 MB password is refused before any hashing.
	start := time.Now()
	r := a.do(t, "", "POST", "/api/v1/auth/login", map[string]any{"name": "ana@example.com", "password": long}).must(t, http.StatusBadRequest)
	if _, ok := r.problemFields(t)["password"]; !ok {
		t.Errorf("problem does not name password: %s", r.body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing a long password took %v", d)
	}
	// A name no account can have is a plain refusal.
	a.do(t, "", "POST", "/api/v1/auth/login", map[string]any{"name": "ana\x00", "password": "long enough"}).must(t, http.StatusUnauthorized)
}

// TestLoginLockSurvivesAFlood replays the attack on a real server: a
// user's name is locked, then thousands of failed sign-ins for new names
// arrive from hundreds of loopback addresses. The lock must hold.
func TestLoginLockSurvivesAFlood(t *testing.T) {
	guard := auth.NewLoginGuard()
	guard.Users.MaxKeys = 200 // small, so the flood overfills it many times
	// Time stands still: the flood takes no time at all, so the lock
	// cannot simply run out while it lasts.
	now := time.Unix(1_800_000_000, 0)
	guard.SetClock(func() time.Time { return now })
	a := newTestAPI(t, func(d *Deps) { d.LoginGuard = guard })
	a.do(t, "admin", "POST", "/api/v1/users", map[string]any{"name": "ana", "role": "editor", "password": "long enough"}).must(t, http.StatusCreated)
	login := func(c *http.Client, name, password string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/auth/login",
			strings.NewReader(fmt.Sprintf(`{"name":%q,"password":%q}`, name, password)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	attacker := dialFrom("127.0.0.1")
	for range 6 {
		login(attacker, "ana", "wrong!!!")
	}
	if got := login(attacker, "ana", "long enough"); got != http.StatusTooManyRequests {
		t.Fatalf("ana is not locked: %d", got)
	}

	// 2,000 failures for new names from 100 addresses, each address
	// staying under its own limit.
	const addrs, perAddr = 100, 20
	for i := range addrs {
		c := dialFrom(fmt.Sprintf("127.0.%d.%d", 1+i/200, 2+i%200))
		for j := range perAddr {
			if got := login(c, fmt.Sprintf("guess-%d-%d", i, j), "long enough"); got != http.StatusUnauthorized {
				t.Fatalf("flood sign-in %d/%d: %d", i, j, got)
			}
		}
	}
	if n := guard.Users.Len(); n > 200 {
		t.Errorf("the throttle remembers %d names, over its bound", n)
	}
	// The lock held: the right password from a fresh address is still refused.
	if got := login(dialFrom("127.0.9.9"), "ana", "long enough"); got != http.StatusTooManyRequests {
		t.Fatalf("after the flood ana's sign-in answered %d, want 429: the lock was evicted", got)
	}
}

func TestClientAddrCountsIPv6ByItsBlock(t *testing.T) {
	tests := map[string]string{
		"127.0.0.1:5000":                  "127.0.0.1",
		"[::ffff:10.0.0.1]:5000":          "10.0.0.1",
		"[2001:db8:1:2:aaaa::1]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff::9]:443": "2001:db8:1:2::/64",
		"[::1]:8080":                      "::/64",
		"pipe":                            "pipe",
	}
	for remote, want := range tests {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := clientAddr(r); got != want {
			t.Errorf("clientAddr(%q) = %q, want %q", remote, got, want)
		}
	}
}

// TestLoginKeepsAccountsMadeBeforeNamesWereChecked: a name the account
// rules now refuse (here with a space) was allowed once; its account must
// still sign in, with failures counted against the address.
func TestLoginKeepsAccountsMadeBeforeNamesWereChecked(t *testing.T) {
	a := newTestAPI(t)
	hash, err := auth.HashPassword("long enough")
	if err != nil {
		t.Fatal(err)
	}
	const legacy = "Ana Lima"
	if auth.AccountNameProblem(legacy) == "" {
		t.Fatalf("%q is a valid name now; the test needs one that is not", legacy)
	}
	if err := a.store.CreateUser(context.Background(), "test", &store.User{Name: legacy, Role: auth.RoleEditor, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	body := func(pw string) string { return fmt.Sprintf(`{"name":%q,"password":%q}`, legacy, pw) }
	json := []string{"Content-Type", "application/json"}
	a.do(t, "", "POST", "/api/v1/auth/login", body("wrong password"), json...).must(t, http.StatusUnauthorized)
	a.do(t, "", "POST", "/api/v1/auth/login", body("long enough"), json...).must(t, http.StatusOK)
}
