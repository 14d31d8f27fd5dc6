package auth

import (
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
)

// Limits on what callers choose for accounts. Names end up in logs, the
// audit trail, session records and throttle keys, so they are short and
// printable; passwords are capped because every byte of one is hashed, and
// a sign-in with a megabyte "password" must not cost a megabyte of argon2.
const (
	MaxAccountNameLen = 64
	MinPasswordLen    = 8
	MaxPasswordLen    = 1024 // bytes; long passphrases fit with room to spare
)

// AccountNameProblem says what is wrong with a user or token name, or ""
// when it is fine: 1 to 64 ASCII letters, digits and '.', '_', '-', '@',
// starting with a letter or digit. That admits "ana", "ci-deploy" and
// "ana@example.com", and keeps out control characters, whitespace, path
// separators and anything a terminal or log reader would misrender.
func AccountNameProblem(name string) string {
	switch {
	case name == "":
		return "required"
	case len(name) > MaxAccountNameLen:
		return fmt.Sprintf("must be at most %d characters", MaxAccountNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(alnum(c) || c == '.' || c == '_' || c == '-' || c == '@') {
			return "use letters, digits, '.', '_', '-' and '@' only"
		}
	}
	if !alnum(name[0]) {
		return "must start with a letter or digit"
	}
	return ""
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// PasswordProblem says what is wrong with a new password, or "".
func PasswordProblem(password string) string {
	switch {
	case len(password) < MinPasswordLen:
		return fmt.Sprintf("must be at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return fmt.Sprintf("must be at most %d bytes", MaxPasswordLen)
	}
	return ""
}

// CheckAccount reports every problem of a new account's name, role and,
// for users, password (nil for tokens), with field paths.
func CheckAccount(name, role string, password *string) error {
	var p model.Problems
	if msg := AccountNameProblem(name); msg != "" {
		p.Add("name", "%s", msg)
	}
	if !ValidRole(role) {
		p.Add("role", "must be one of viewer, editor, admin")
	}
	if password != nil {
		if msg := PasswordProblem(*password); msg != "" {
			p.Add("password", "%s", msg)
		}
	}
	return p.Err()
}
