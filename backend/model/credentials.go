package model

import (
	"encoding/json"
	"fmt"
	"sort"
)

// SecretFunc rewrites one secret value found at path (a field path as in
// Problems, e.g. "then.auth.basic.users.alice") and returns its
// replacement.
type SecretFunc func(path, value string) (string, error)

// MapSecrets replaces, in place, every secret value obj carries with what f
// returns for it: TLS private keys, API keys, basic-auth passwords and
// inline JWKS that hold key material (see jwksIsSecret). It is
// the one list of secret fields: sealing at rest, redaction in answers and
// restoring a redacted value on update all walk it, so a new secret field is
// added here once. Empty values are not passed to f. Map entries are visited
// in key order, so callers see a deterministic sequence.
func MapSecrets(obj Object, f SecretFunc) error {
	switch o := obj.(type) {
	case *Secret:
		if o.TLS != nil && o.TLS.PrivateKey != "" {
			v, err := f("tls.privateKey", o.TLS.PrivateKey)
			if err != nil {
				return err
			}
			t := *o.TLS
			t.PrivateKey = v
			o.TLS = &t
		}
	case *Route:
		return mapAuthSecrets(o.Then.Auth, "then.auth", f, func(a *Auth) { o.Then.Auth = a })
	}
	return nil
}

// mapAuthSecrets works on a copy of a and hands it back through set, so an
// object shallow-copied from a stored one never shares the rewritten maps
// and slices with it.
func mapAuthSecrets(a *Auth, path string, f SecretFunc, set func(*Auth)) error {
	if a == nil || (a.APIKey == nil && a.Basic == nil && (a.JWT == nil || !jwksIsSecret(a.JWT.JWKS))) {
		return nil
	}
	c := *a
	if a.JWT != nil && jwksIsSecret(a.JWT.JWKS) {
		j := *a.JWT
		v, err := f(path+".jwt.jwks", a.JWT.JWKS)
		if err != nil {
			return err
		}
		j.JWKS = v
		c.JWT = &j
	}
	if a.APIKey != nil {
		k := *a.APIKey
		k.Keys = make([]string, len(a.APIKey.Keys))
		for i, key := range a.APIKey.Keys {
			if key == "" {
				continue
			}
			v, err := f(fmt.Sprintf("%s.apiKey.keys[%d]", path, i), key)
			if err != nil {
				return err
			}
			k.Keys[i] = v
		}
		c.APIKey = &k
	}
	if a.Basic != nil {
		b := *a.Basic
		if a.Basic.Users != nil {
			b.Users = make(map[string]string, len(a.Basic.Users))
		}
		users := make([]string, 0, len(a.Basic.Users))
		for u := range a.Basic.Users {
			users = append(users, u)
		}
		sort.Strings(users)
		for _, u := range users {
			pw := a.Basic.Users[u]
			if pw == "" {
				b.Users[u] = pw
				continue
			}
			v, err := f(path+".basic.users."+u, pw)
			if err != nil {
				return err
			}
			b.Users[u] = v
		}
		c.Basic = &b
	}
	set(&c)
	return nil
}

// jwksIsSecret reports whether an inline JWKS must be kept like a
// password. A JWKS of public keys is not secret, but one may carry an HMAC
// key ("k", of kty "oct") or, pasted by mistake, a private key ("d"). Text
// that is not a JWKS at all counts as secret: that is what a sealed value
// or a fingerprint standing in for one looks like, and they must be found
// by the same walk that produced them.
func jwksIsSecret(s string) bool {
	if s == "" {
		return false
	}
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		return true
	}
	if set.Keys == nil {
		// A single JWK rather than a set.
		var one map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &one); err != nil || one == nil {
			return true
		}
		set.Keys = append(set.Keys, one)
	}
	for _, k := range set.Keys {
		if _, ok := k["k"]; ok {
			return true
		}
		if _, ok := k["d"]; ok {
			return true
		}
	}
	return false
}

// HasSecrets reports whether obj carries any secret value.
func HasSecrets(obj Object) bool {
	found := false
	_ = MapSecrets(copyForScan(obj), func(_, v string) (string, error) { found = true; return v, nil })
	return found
}

// SecretValues returns every secret value obj carries, in MapSecrets
// order; obj is not changed.
func SecretValues(obj Object) []string {
	var out []string
	_ = MapSecrets(copyForScan(obj), func(_, v string) (string, error) { out = append(out, v); return v, nil })
	return out
}

// copyForScan returns a shallow copy so a read-only scan never replaces
// obj's nested pointers.
func copyForScan(obj Object) Object {
	switch o := obj.(type) {
	case *Secret:
		c := *o
		return &c
	case *Route:
		c := *o
		return &c
	}
	return obj
}
