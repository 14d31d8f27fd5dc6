// Package auth authenticates API callers and decides what they may do:
// password hashing for users, API tokens stored only as hashes, browser
// sessions with a CSRF token, the role order viewer < editor < admin, and
// the HTTP middleware that enforces a minimal role per route.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/routedeck/routedeck/backend/model"
)

// argon2id parameters: the OWASP minimum for argon2id (19 MiB, 2 passes,
// 1 lane), enough for an operator console and quick on a small VM.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

var b64 = base64.RawStdEncoding

// HashPassword hashes a password with argon2id and returns the PHC string
// form ($argon2id$v=19$m=...,t=...,p=...$salt$hash), which records its own
// parameters so they can be raised later without breaking old hashes.
// A password over MaxPasswordLen is refused rather than hashed.
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordLen {
		return "", model.Errorf(model.EINVALID, "password longer than %d bytes", MaxPasswordLen)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches an encoded hash from
// HashPassword. A malformed hash is an error, not a mismatch. A password
// over MaxPasswordLen never matches and is not hashed: no stored hash can
// have come from it.
func VerifyPassword(encoded, password string) (bool, error) {
	if len(password) > MaxPasswordLen {
		return false, nil
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, fmt.Errorf("verify password: unsupported hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("verify password: unsupported argon2 version %q", parts[2])
	}
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return false, fmt.Errorf("verify password: bad parameters %q: %w", parts[3], err)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("verify password: bad salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("verify password: bad key: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// TokenPrefix starts every API token, so leaked tokens are easy to grep for
// and scanners can recognise them.
const TokenPrefix = "rd_"

// NewToken returns a fresh API token (rd_ + 32 random bytes, base64url) and
// the hash to store. The token itself is shown once and never stored.
func NewToken() (token, hash string, err error) {
	secret, err := randomString(32)
	if err != nil {
		return "", "", fmt.Errorf("new token: %w", err)
	}
	token = TokenPrefix + secret
	return token, HashSecret(token), nil
}

// HashSecret returns the hex SHA-256 of a token or session cookie value.
// Tokens carry 256 random bits, so a fast hash is enough: there is nothing
// to brute-force, and lookups by hash stay cheap.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// RandomPassword returns a password for generated accounts (the first
// admin): 18 random bytes, base64url.
func RandomPassword() (string, error) { return randomString(18) }

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
