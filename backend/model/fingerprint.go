package model

// Fingerprinter names a secret value without revealing it. Equal values get
// equal fingerprints for as long as the key behind them lasts, so a reader
// can tell whether a password or key changed, and a client can send back
// what it read to mean "keep the stored value". The key keeps a reader from
// testing guesses against a fingerprint offline.
type Fingerprinter interface {
	Fingerprint(value string) string
}

// FingerprintFunc lets a plain function serve as a Fingerprinter.
type FingerprintFunc func(value string) string

// Fingerprint returns f(value).
func (f FingerprintFunc) Fingerprint(value string) string { return f(value) }

// FingerprintPrefix starts every fingerprint: "fp:" and 12 hex digits.
const FingerprintPrefix = "fp:"

// fingerprintHex is the number of hex digits after FingerprintPrefix.
const fingerprintHex = 12

// IsFingerprint reports whether v has the form of a fingerprint. Such a
// value sent in a secret field is never taken as a new secret: it must name
// a value already stored (see RestoreSecrets).
func IsFingerprint(v string) bool {
	if len(v) != len(FingerprintPrefix)+fingerprintHex || v[:len(FingerprintPrefix)] != FingerprintPrefix {
		return false
	}
	for _, c := range v[len(FingerprintPrefix):] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// shownRedacted reports whether v is already a stand-in for a secret: a
// fingerprint, or the placeholder older revisions recorded for private keys.
func shownRedacted(v string) bool {
	return v == RedactedPrivateKey || IsFingerprint(v)
}

// Redact returns obj as every answer shows it: a copy in which each secret
// value (the fields MapSecrets walks: TLS private keys, API keys, basic-auth
// passwords) reads as its fingerprint. obj itself is not changed; an object
// without secrets comes back as is. Values that are already stand-ins stay
// as they are, so redacting twice changes nothing.
func Redact(obj Object, fp Fingerprinter) Object {
	if obj == nil || !HasSecrets(obj) {
		return obj
	}
	c := copyForScan(obj)
	_ = MapSecrets(c, func(_, v string) (string, error) {
		if shownRedacted(v) {
			return v, nil
		}
		return fp.Fingerprint(v), nil
	})
	return c
}

// RedactWorkspace is Redact for every object of ws. The slices of ws are
// not changed: the result has its own.
func RedactWorkspace(ws Workspace, fp Fingerprinter) Workspace {
	out := ws
	if len(ws.Secrets) > 0 {
		out.Secrets = make([]Secret, len(ws.Secrets))
		for i := range ws.Secrets {
			out.Secrets[i] = *Redact(&ws.Secrets[i], fp).(*Secret)
		}
	}
	if len(ws.Routes) > 0 {
		out.Routes = make([]Route, len(ws.Routes))
		for i := range ws.Routes {
			out.Routes[i] = *Redact(&ws.Routes[i], fp).(*Route)
		}
	}
	return out
}

// RestoreSecrets undoes Redact on an object a client sends to replace
// stored (nil when there is none): each fingerprint in obj is replaced, in
// place, by the value of stored that has it, wherever in stored that value
// was, so reordered API keys or a renamed basic-auth user keep their
// values. A TLS private key left out or sent as RedactedPrivateKey keeps
// stored's key, as it always did. A clear value is kept: it replaces what
// was stored. A fingerprint that names none of stored's values is a problem
// on its field path: the client has to send the value itself.
func RestoreSecrets(obj, stored Object, fp Fingerprinter) error {
	known := map[string]string{}
	if stored != nil {
		_ = MapSecrets(copyForScan(stored), func(_, v string) (string, error) {
			if !shownRedacted(v) {
				known[fp.Fingerprint(v)] = v
			}
			return v, nil
		})
	}
	if sec, ok := obj.(*Secret); ok && sec.TLS != nil && (sec.TLS.PrivateKey == "" || sec.TLS.PrivateKey == RedactedPrivateKey) {
		if st, ok := stored.(*Secret); ok && st.TLS != nil && st.TLS.PrivateKey != "" {
			sec.TLS.PrivateKey = st.TLS.PrivateKey
		}
	}
	var p Problems
	_ = MapSecrets(obj, func(path, v string) (string, error) {
		if !IsFingerprint(v) {
			return v, nil
		}
		if clear, ok := known[v]; ok {
			return clear, nil
		}
		p.Add(path, "unknown fingerprint %s; send the new value", v)
		return v, nil
	})
	return p.Err()
}

// RestoreWorkspaceSecrets is RestoreSecrets for every object of ws against
// the object of the same kind and name in stored. Problems carry paths
// into ws ("routes[2].then.auth.basic.users.alice").
func RestoreWorkspaceSecrets(ws *Workspace, stored Workspace, fp Fingerprinter) error {
	byName := map[string]Object{}
	for _, o := range stored.Objects() {
		if HasSecrets(o) {
			byName[o.Kind()+"/"+o.ObjectMeta().Name] = o
		}
	}
	var p Problems
	for i := range ws.Secrets {
		p.Merge(Index("secrets", i), RestoreSecrets(&ws.Secrets[i], byName[KindSecret+"/"+ws.Secrets[i].Name], fp))
	}
	for i := range ws.Routes {
		p.Merge(Index("routes", i), RestoreSecrets(&ws.Routes[i], byName[KindRoute+"/"+ws.Routes[i].Name], fp))
	}
	return p.Err()
}
