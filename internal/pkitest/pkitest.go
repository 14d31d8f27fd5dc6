// Package pkitest helps tests that need routedeck's CA without the data
// directory's keyring.
package pkitest

import (
	"encoding/base64"
	"errors"
	"strings"
)

// Sealer stands in for the keyring that seals the CA key: reversible and
// recognisably not the plaintext, with no key to manage.
type Sealer struct{}

// Seal marks and encodes b.
func (Sealer) Seal(b []byte) (string, error) {
	return "sealed:" + base64.StdEncoding.EncodeToString(b), nil
}

// Unseal reverses Seal.
func (Sealer) Unseal(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "sealed:")
	if !ok {
		return nil, errors.New("not sealed by pkitest.Sealer")
	}
	return base64.StdEncoding.DecodeString(rest)
}
