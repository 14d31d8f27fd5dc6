package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// Secrets never reach the database file in clear. Every secret field of an
// object (model.MapSecrets is the list) is sealed when a row is written,
// wherever the object goes: the draft, the before and after of a
// revision, a published version. Settings are sealed whole, since which of
// their fields are secret is their owner's business. Values are opened
// again as rows are decoded, so everything above the store sees plaintext,
// which the translator needs.
//
// Revision diffs are text and cannot be opened again, so they are computed
// over a form where each secret is replaced by its fingerprint: a diff
// still shows that a password changed, never what it was.

// shallowCopy copies obj's top-level struct: MapSecrets replaces nested
// pointers rather than writing through them, so this is enough to rewrite
// secrets without touching obj.
func shallowCopy(obj model.Object) model.Object {
	switch v := obj.(type) {
	case *model.Gateway:
		c := *v
		return &c
	case *model.Upstream:
		c := *v
		return &c
	case *model.Route:
		c := *v
		return &c
	case *model.Secret:
		c := *v
		return &c
	}
	return obj
}

// sealSecrets returns a copy of obj whose secret values are sealed.
func sealSecrets(keys *seal.Keyring, obj model.Object) (model.Object, error) {
	if obj == nil {
		return nil, nil
	}
	c := shallowCopy(obj)
	err := model.MapSecrets(c, func(path, v string) (string, error) {
		if v == model.RedactedPrivateKey {
			return v, nil // revisions keep no key to seal
		}
		s, err := keys.Seal([]byte(v))
		if err != nil {
			return "", fmt.Errorf("seal %s of %s %q: %w", path, obj.Kind(), obj.ObjectMeta().Name, err)
		}
		return s, nil
	})
	return c, err
}

// openSecrets unseals, in place, the secret values of an object just
// decoded from a row. A value that is not sealed is left as it is: rows
// written before sealing existed hold clear values until the migration
// on open has sealed them.
func openSecrets(keys *seal.Keyring, obj model.Object) error {
	return model.MapSecrets(obj, func(path, v string) (string, error) {
		if !seal.IsSealed(v) {
			return v, nil
		}
		p, err := keys.Unseal(v)
		if err != nil {
			return "", fmt.Errorf("open %s of %s %q: %w", path, obj.Kind(), obj.ObjectMeta().Name, err)
		}
		return string(p), nil
	})
}

// fingerprinted returns a copy of obj whose secret values are replaced by
// their fingerprints, for diffs.
func fingerprinted(keys *seal.Keyring, obj model.Object) model.Object {
	if obj == nil {
		return nil
	}
	c := shallowCopy(obj)
	_ = model.MapSecrets(c, func(_, v string) (string, error) {
		if v == model.RedactedPrivateKey {
			return v, nil
		}
		return keys.Fingerprint(v), nil
	})
	return c
}

// sealedSpec is encodeSpec of obj with its secrets sealed: what the
// objects table stores.
func sealedSpec(keys *seal.Keyring, obj model.Object) (string, error) {
	c, err := sealSecrets(keys, obj)
	if err != nil {
		return "", err
	}
	return encodeSpec(c)
}

// sealedObjectJSON is objectJSON of obj with its secrets sealed.
func sealedObjectJSON(keys *seal.Keyring, obj model.Object) (json.RawMessage, error) {
	c, err := sealSecrets(keys, obj)
	if err != nil {
		return nil, err
	}
	return objectJSON(c)
}

// openObjectJSON decodes a revision's stored object of kind, opens its
// secrets and encodes it again.
func openObjectJSON(keys *seal.Keyring, kind string, raw json.RawMessage) (json.RawMessage, error) {
	if raw == nil {
		return nil, nil
	}
	if seal.IsSealed(string(raw)) {
		// Kinds the store keeps whole, such as route tests.
		plain, err := openText(keys, strings.ToLower(kind), string(raw))
		if err != nil {
			return nil, err
		}
		raw = plain
	}
	obj := model.NewObject(kind)
	if obj == nil {
		return raw, nil // route tests and the like: no secret fields
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	if !model.HasSecrets(obj) {
		return raw, nil
	}
	if err := openSecrets(keys, obj); err != nil {
		return nil, err
	}
	return objectJSON(obj)
}

// sealWorkspace returns a copy of ws whose secret values are sealed; ws is
// not changed.
func sealWorkspace(keys *seal.Keyring, ws model.Workspace) (model.Workspace, error) {
	out := model.Workspace{
		Secrets:   make([]model.Secret, len(ws.Secrets)),
		Gateways:  ws.Gateways,
		Upstreams: ws.Upstreams,
		Routes:    make([]model.Route, len(ws.Routes)),
	}
	for i := range ws.Secrets {
		c, err := sealSecrets(keys, &ws.Secrets[i])
		if err != nil {
			return out, err
		}
		out.Secrets[i] = *c.(*model.Secret)
	}
	for i := range ws.Routes {
		c, err := sealSecrets(keys, &ws.Routes[i])
		if err != nil {
			return out, err
		}
		out.Routes[i] = *c.(*model.Route)
	}
	return out, nil
}

// openWorkspace unseals, in place, the secrets of a decoded workspace.
func openWorkspace(keys *seal.Keyring, ws *model.Workspace) error {
	for _, obj := range ws.Objects() {
		if err := openSecrets(keys, obj); err != nil {
			return err
		}
	}
	return nil
}

// minScrubbed is the shortest secret scrubSecrets looks for: replacing
// every "ab" in a message would say more about a two-letter password than
// leaving it.
const minScrubbed = 6

// scrubSecrets replaces, in text, every secret value of the draft by its
// fingerprint. Audit entries from outside the store carry free text, such
// as error messages from a target or a route-test report, which may quote
// a credential; the audit log is kept in clear and shown to admins.
func (s *Store) scrubSecrets(ctx context.Context, text string) (string, error) {
	if len(text) < minScrubbed {
		return text, nil
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return "", fmt.Errorf("scrub secrets: %w", err)
	}
	defer tx.Rollback()
	draft, err := s.loadDraft(ctx, tx)
	if err != nil {
		return "", err
	}
	var sc scrubber
	for _, obj := range draft.ordered() {
		sc.add(obj)
	}
	return sc.scrub(s.keys, text), nil
}

// scrubber finds the secret values of a set of objects in free text.
type scrubber struct {
	// needles map a form of a secret found in text to the secret.
	needles map[string]string
}

// add collects the secrets of obj, whose values are in clear: each value,
// and for a basic-auth user the base64 "user:password" an Authorization
// header carries.
func (sc *scrubber) add(obj model.Object) {
	if !model.HasSecrets(obj) {
		return
	}
	if sc.needles == nil {
		sc.needles = map[string]string{}
	}
	_ = model.MapSecrets(shallowCopy(obj), func(path, v string) (string, error) {
		if len(v) < minScrubbed || seal.IsSealed(v) || v == model.RedactedPrivateKey {
			return v, nil
		}
		sc.needles[v] = v
		if user, ok := strings.CutPrefix(path, "then.auth.basic.users."); ok {
			sc.needles[base64.StdEncoding.EncodeToString([]byte(user+":"+v))] = v
		}
		return v, nil
	})
}

// scrub replaces every secret found in text by its fingerprint.
func (sc *scrubber) scrub(keys *seal.Keyring, text string) string {
	for needle, secret := range sc.needles {
		if strings.Contains(text, needle) {
			text = strings.ReplaceAll(text, needle, keys.Fingerprint(secret))
		}
	}
	return text
}

// sealText seals a value the store keeps whole without knowing its fields,
// such as a route test.
func sealText(keys *seal.Keyring, what string, plain []byte) (string, error) {
	s, err := keys.Seal(plain)
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", what, err)
	}
	return s, nil
}

// openText is the inverse of sealText; a value stored before sealing
// existed comes back as it is.
func openText(keys *seal.Keyring, what, stored string) ([]byte, error) {
	if !seal.IsSealed(stored) {
		return []byte(stored), nil
	}
	b, err := keys.Unseal(stored)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	return b, nil
}
