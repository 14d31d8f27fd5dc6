package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

func TestUsers(t *testing.T) {
	s := storetest.MustOpen(t)
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("new store has %d users (%v)", n, err)
	}
	tests := map[string]struct {
		user     store.User
		wantCode string
	}{
		"admin":       {user: store.User{Name: "admin", Role: store.RoleAdmin, PasswordHash: "h1"}},
		"viewer":      {user: store.User{Name: "viv", Role: store.RoleViewer, PasswordHash: "h2"}},
		"duplicate":   {user: store.User{Name: "admin", Role: store.RoleEditor, PasswordHash: "h3"}, wantCode: model.ECONFLICT},
		"bad role":    {user: store.User{Name: "x", Role: "root", PasswordHash: "h"}, wantCode: model.EINVALID},
		"no name":     {user: store.User{Role: store.RoleViewer, PasswordHash: "h"}, wantCode: model.EINVALID},
		"no password": {user: store.User{Name: "y", Role: store.RoleViewer}, wantCode: model.EINVALID},
	}
	// Order matters for "duplicate": run the valid ones first.
	for _, name := range []string{"admin", "viewer", "duplicate", "bad role", "no name", "no password"} {
		tt := tests[name]
		t.Run(name, func(t *testing.T) {
			u := tt.user
			err := s.CreateUser(ctx, "root", &u)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if u.ID == 0 || u.CreatedAt.IsZero() {
				t.Errorf("id and time not filled in: %+v", u)
			}
			got, err := s.UserByName(ctx, u.Name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(u, got); diff != "" {
				t.Errorf("stored user differs:\n%s", diff)
			}
		})
	}
	_, err := s.UserByName(ctx, "nobody")
	wantCode(t, err, model.ENOTFOUND)
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "admin" || users[1].Name != "viv" {
		t.Errorf("list users: %+v %v", users, err)
	}
	if n, _ := s.CountUsers(ctx); n != 2 {
		t.Errorf("count %d, want 2", n)
	}
	if e, _ := s.ListAudit(ctx, 0, 0); len(e) != 2 || e[0].Action != "user.create" || e[0].Target != "viv" {
		t.Errorf("audit: %+v", e)
	}
}

func TestTokens(t *testing.T) {
	s := storetest.MustOpen(t)
	tok := store.Token{Name: "ci", Role: store.RoleEditor, Hash: "sha256:abc"}
	if err := s.CreateToken(ctx, "admin", &tok); err != nil {
		t.Fatal(err)
	}
	dup := store.Token{Name: "ci2", Role: store.RoleEditor, Hash: "sha256:abc"}
	wantCode(t, s.CreateToken(ctx, "admin", &dup), model.ECONFLICT)
	wantCode(t, s.CreateToken(ctx, "admin", &store.Token{Name: "x", Role: "god", Hash: "h"}), model.EINVALID)

	tests := map[string]struct {
		hash     string
		wantCode string
	}{
		"known":   {hash: "sha256:abc"},
		"unknown": {hash: "sha256:zzz", wantCode: model.EUNAUTHORIZED},
		"empty":   {hash: "", wantCode: model.EUNAUTHORIZED},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := s.TokenByHash(ctx, tt.hash)
			wantCode(t, err, tt.wantCode)
			if err == nil && (got.ID != tok.ID || got.Role != store.RoleEditor || got.LastUsed == nil) {
				t.Errorf("token %+v, want id %d with last use recorded", got, tok.ID)
			}
		})
	}
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 1 || list[0].Hash != "" || list[0].LastUsed == nil {
		t.Fatalf("list tokens: %+v %v", list, err)
	}
	wantCode(t, s.DeleteToken(ctx, "admin", 999), model.ENOTFOUND)
	if err := s.DeleteToken(ctx, "admin", tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.TokenByHash(ctx, "sha256:abc")
	wantCode(t, err, model.EUNAUTHORIZED)
}

func TestSessions(t *testing.T) {
	s := storetest.MustOpen(t)
	now := time.Now().UTC()
	live := store.Session{Hash: "live", User: "admin", Role: store.RoleAdmin, CSRF: "c1", ExpiresAt: now.Add(time.Hour)}
	expired := store.Session{Hash: "old", User: "admin", Role: store.RoleAdmin, CSRF: "c2", ExpiresAt: now.Add(-time.Second)}
	for _, sess := range []store.Session{live, expired} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, s.CreateSession(ctx, live), model.ECONFLICT)
	tests := map[string]struct {
		hash     string
		wantCode string
	}{
		"live":    {hash: "live"},
		"expired": {hash: "old", wantCode: model.EUNAUTHORIZED},
		"unknown": {hash: "nope", wantCode: model.EUNAUTHORIZED},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := s.SessionByHash(ctx, tt.hash)
			wantCode(t, err, tt.wantCode)
			if err == nil {
				if diff := cmp.Diff(live, got); diff != "" {
					t.Errorf("session differs:\n%s", diff)
				}
			}
		})
	}
	if err := s.DeleteSession(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	_, err := s.SessionByHash(ctx, "live")
	wantCode(t, err, model.EUNAUTHORIZED)
	if err := s.DeleteSession(ctx, "live"); err != nil {
		t.Errorf("deleting a gone session: %v", err)
	}
}

func TestAuditAndSettings(t *testing.T) {
	s := storetest.MustOpen(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for i, a := range []string{"login", "publish.force", "login"} {
		e := store.AuditEntry{Actor: "u", Action: a, Target: "t", Detail: "d"}
		if i == 0 {
			e.At = at
		}
		if err := s.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := s.ListAudit(ctx, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Action != "publish.force" || !entries[1].At.Equal(at) {
		t.Errorf("audit page: %+v", entries)
	}

	type targets struct {
		Consul string `json:"consul"`
		Kube   []int  `json:"kube"`
	}
	var got targets
	wantCode(t, s.GetSetting(ctx, "targets", &got), model.ENOTFOUND)
	for _, v := range []targets{{Consul: "a"}, {Consul: "b", Kube: []int{1}}} {
		if err := s.PutSetting(ctx, "admin", "targets", v); err != nil {
			t.Fatal(err)
		}
		if err := s.GetSetting(ctx, "targets", &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, got); diff != "" {
			t.Errorf("setting round trip:\n%s", diff)
		}
	}
	if e, _ := s.ListAudit(ctx, 1, 0); e[0].Action != "setting.put" || e[0].Actor != "admin" {
		t.Errorf("setting write not audited: %+v", e)
	}
}

func TestReopenKeepsDataAndMigrationsOnce(t *testing.T) {
	path := t.TempDir() + "/db"
	s, err := store.Open(ctx, path, storetest.Keys(t, filepath.Dir(path)))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, gateway("public"))
	s.Close()
	s, err = store.Open(ctx, path, storetest.Keys(t, filepath.Dir(path)))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, model.KindGateway, "public"); err != nil {
		t.Errorf("data lost on reopen: %v", err)
	}
	var n int
	var mode string
	files, _ := filepath.Glob("migrations/*.sql")
	if err := s.DB().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Errorf("schema_migrations has %d rows (%v), want one per migration file (%d)", n, err, len(files))
	}
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v)", mode, err)
	}
	var fk, sync int
	s.DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	s.DB().QueryRow(`PRAGMA synchronous`).Scan(&sync)
	if fk != 1 || sync != 2 {
		t.Errorf("foreign_keys %d synchronous %d, want 1 and 2 (FULL)", fk, sync)
	}
	if _, err := s.DB().Exec(`DELETE FROM objects`); err == nil {
		t.Error("the read pool accepted a write")
	}
	if _, err := store.Open(ctx, t.TempDir()+"/x?mode=ro", s.Keys()); err == nil {
		t.Error("a path with a query part should be refused")
	}
}
