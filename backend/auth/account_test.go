package auth

import (
	"strings"
	"testing"
)

func TestAccountNameProblem(t *testing.T) {
	tests := map[string]struct {
		name string
		ok   bool
	}{
		"plain":              {"ana", true},
		"mixed case":         {"Ana", true},
		"mail address":       {"ana@example.com", true},
		"token name":         {"ci-deploy_2", true},
		"longest":            {strings.Repeat("a", MaxAccountNameLen), true},
		"empty":              {"", false},
		"too long":           {strings.Repeat("a", 5000), false},
		"NUL":                {"ana\x00", false},
		"newline":            {"ana\nadmin", false},
		"carriage return":    {"ana\r", false},
		"path traversal":     {"../etc", false},
		"slash":              {"a/b", false},
		"space":              {"ana lopez", false},
		"leading dot":        {".ana", false},
		"leading dash":       {"-ana", false},
		"non-ASCII":          {"anä", false},
		"terminal escape":    {"ana\x1b[31m", false},
		"quote":              {`ana"`, false},
		"one over the limit": {strings.Repeat("a", MaxAccountNameLen+1), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := AccountNameProblem(tc.name); (got == "") != tc.ok {
				t.Errorf("AccountNameProblem(%q) = %q, want ok=%v", tc.name, got, tc.ok)
			}
		})
	}
}

func TestPasswordLengthIsCapped(t *testing.T) {
	long := strings.Repeat("p", 3<<20)
	if msg := PasswordProblem(long); msg == "" {
		t.Error("a 3 MB password passed PasswordProblem")
	}
	if _, err := HashPassword(long); err == nil {
		t.Error("a 3 MB password was hashed")
	}
	hash, err := HashPassword(strings.Repeat("p", MaxPasswordLen))
	if err != nil {
		t.Fatalf("hash a password of the largest size: %v", err)
	}
	if ok, err := VerifyPassword(hash, strings.Repeat("p", MaxPasswordLen)); !ok || err != nil {
		t.Errorf("VerifyPassword of the largest size = %v, %v", ok, err)
	}
	if ok, err := VerifyPassword(hash, long); ok || err != nil {
		t.Errorf("VerifyPassword of an over-long password = %v, %v; want a mismatch", ok, err)
	}
}
