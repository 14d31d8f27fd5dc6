package cli

import (
	"net/http"
	"strings"
	"testing"
)

// TestUserManagement: set-password, list and delete on the data directory,
// checked by logging in to the server that shares it.
func TestUserManagement(t *testing.T) {
	e := newEnv(t)
	login := func(name, password string) int {
		t.Helper()
		resp, err := http.Post(e.url+"/api/v1/auth/login", "application/json", strings.NewReader(`{"name":"`+name+`","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, u := range [][2]string{{"ana", "editor"}, {"root", "admin"}} {
		if _, errOut, code := e.run(t, "first password\n", "user", "add", "--name", u[0], "--role", u[1], "--password-stdin"); code != 0 {
			t.Fatalf("user add: %s", errOut)
		}
	}
	out, _, code := e.run(t, "", "user", "list")
	if code != 0 || !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "ana   editor") || !strings.Contains(out, "root  admin") {
		t.Errorf("user list:\n%s", out)
	}

	if _, errOut, code := e.run(t, "second password\n", "user", "set-password", "--name", "ana", "--password-stdin"); code != 0 {
		t.Fatalf("set-password: %s", errOut)
	}
	if login("ana", "first password") != http.StatusUnauthorized || login("ana", "second password") != http.StatusOK {
		t.Error("the new password does not replace the old one")
	}
	for name, tc := range map[string]struct {
		stdin string
		args  []string
		want  string
	}{
		"short":         {"short\n", []string{"user", "set-password", "--name", "ana", "--password-stdin"}, "8 characters"},
		"no stdin flag": {"long enough\n", []string{"user", "set-password", "--name", "ana"}, "--password-stdin is required"},
		"unknown user":  {"long enough\n", []string{"user", "set-password", "--name", "nobody", "--password-stdin"}, `user "nobody" not found`},
		"last admin":    {"", []string{"user", "delete", "--name", "root"}, "last admin"},
		"delete nobody": {"", []string{"user", "delete", "--name", "nobody"}, "not found"},
	} {
		if _, errOut, code := e.run(t, tc.stdin, tc.args...); code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d: %s", name, code, errOut)
		}
	}

	if _, errOut, code := e.run(t, "", "user", "delete", "--name", "ana"); code != 0 {
		t.Fatalf("delete: %s", errOut)
	}
	if login("ana", "second password") != http.StatusUnauthorized {
		t.Error("a deleted user logs in")
	}
	if out, _, _ := e.run(t, "", "user", "list"); strings.Contains(out, "ana") {
		t.Errorf("deleted user listed:\n%s", out)
	}
}
