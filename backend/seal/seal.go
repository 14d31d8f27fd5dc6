// Package seal encrypts secret values at rest with envelope encryption.
//
// Every value gets a fresh AES-256-GCM data key; the data key is wrapped
// with a key-encryption key derived from the master key, and both travel
// together in one printable string:
//
//	rdseal:v1:<key id>:<base64>
//
// The key id names the master key that wrapped the data key, so a keyring
// that holds the current key and the previous ones can open values written
// before a rotation and reseal them under the current key.
//
// The master key is never used directly: HKDF derives one key to wrap data
// keys, one to fingerprint values and one to name the key, so a fingerprint
// or a key id shown to a user reveals nothing usable against the others.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length in bytes of a master key.
const KeySize = 32

// Prefix starts every sealed value.
const Prefix = "rdseal:v1:"

// ErrUnknownKey is returned by Unseal for a value sealed with a master key
// the keyring does not hold: usually the wrong key file or environment
// variable, or a key dropped by a rotation.
var ErrUnknownKey = errors.New("sealed with a master key this keyring does not hold")

// ErrCorrupt is returned by Unseal for a value that is not a well-formed
// sealed value or fails authentication.
var ErrCorrupt = errors.New("sealed value is malformed or was tampered with")

// HKDF labels: one purpose each, so no derived key can stand in for another.
const (
	infoWrap        = "routedeck seal v1 wrap"
	infoFingerprint = "routedeck seal v1 fingerprint"
	infoKeyID       = "routedeck seal v1 key id"
)

const (
	nonceSize   = 12
	tagSize     = 16
	wrappedSize = nonceSize + KeySize + tagSize
	keyIDLen    = 16 // hex characters
)

// masterKey is one master key with the keys derived from it.
type masterKey struct {
	id    string
	raw   []byte
	wrap  cipher.AEAD
	fpKey []byte
}

func newMasterKey(raw []byte) (*masterKey, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(raw), KeySize)
	}
	wrapKey, err := hkdf.Key(sha256.New, raw, nil, infoWrap, KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive wrapping key: %w", err)
	}
	fpKey, err := hkdf.Key(sha256.New, raw, nil, infoFingerprint, KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive fingerprint key: %w", err)
	}
	idKey, err := hkdf.Key(sha256.New, raw, nil, infoKeyID, keyIDLen/2)
	if err != nil {
		return nil, fmt.Errorf("derive key id: %w", err)
	}
	aead, err := newGCM(wrapKey)
	if err != nil {
		return nil, err
	}
	return &masterKey{
		id:    hex.EncodeToString(idKey),
		raw:   append([]byte(nil), raw...),
		wrap:  aead,
		fpKey: fpKey,
	}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// Keyring holds the current master key, which seals, and the previous
// ones, which only unseal. It is safe for concurrent use: it never changes
// after it is built.
type Keyring struct {
	current  *masterKey
	byID     map[string]*masterKey
	previous []*masterKey
	source   Source
}

// New builds a keyring from raw master keys: the first seals, all unseal.
// Tests and the rotation use it; servers use Open.
func New(current []byte, previous ...[]byte) (*Keyring, error) {
	cur, err := newMasterKey(current)
	if err != nil {
		return nil, fmt.Errorf("current key: %w", err)
	}
	k := &Keyring{current: cur, byID: map[string]*masterKey{cur.id: cur}}
	for i, raw := range previous {
		m, err := newMasterKey(raw)
		if err != nil {
			return nil, fmt.Errorf("previous key %d: %w", i+1, err)
		}
		if _, dup := k.byID[m.id]; dup {
			continue
		}
		k.byID[m.id] = m
		k.previous = append(k.previous, m)
	}
	return k, nil
}

// NewKey returns a fresh random master key.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	return key, nil
}

// Generate returns a keyring with one fresh random key, for tests and
// first starts.
func Generate() (*Keyring, error) {
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	return New(key)
}

// EncodeKey is the text form of a master key, as the environment variable
// and the key file carry it.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// DecodeKey parses the text form of a master key.
func DecodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("master key is not base64: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(key), KeySize)
	}
	return key, nil
}

// CurrentID is the id of the key that seals.
func (k *Keyring) CurrentID() string { return k.current.id }

// IDs lists the ids of every key the keyring holds, current first.
func (k *Keyring) IDs() []string {
	ids := []string{k.current.id}
	for _, m := range k.previous {
		ids = append(ids, m.id)
	}
	return ids
}

// Source says where the keyring's keys came from.
func (k *Keyring) Source() Source { return k.source }

// Rotated returns a keyring whose current key is fresh, keeping every key
// of k to unseal what k sealed. The new key is returned as well so the
// caller can store or print it.
func (k *Keyring) Rotated() (*Keyring, []byte, error) {
	key, err := NewKey()
	if err != nil {
		return nil, nil, err
	}
	prev := [][]byte{k.current.raw}
	for _, m := range k.previous {
		prev = append(prev, m.raw)
	}
	r, err := New(key, prev...)
	if err != nil {
		return nil, nil, err
	}
	r.source = k.source
	return r, key, nil
}

// CurrentOnly returns a keyring with k's current key alone: what is left
// once everything has been resealed and the old keys may go.
func (k *Keyring) CurrentOnly() *Keyring {
	return &Keyring{current: k.current, byID: map[string]*masterKey{k.current.id: k.current}, source: k.source}
}

// Seal encrypts plaintext under a fresh data key wrapped by the current
// master key.
func (k *Keyring) Seal(plaintext []byte) (string, error) {
	dataKey := make([]byte, KeySize)
	if _, err := rand.Read(dataKey); err != nil {
		return "", fmt.Errorf("seal: data key: %w", err)
	}
	header := Prefix + k.current.id
	aad := []byte(header)

	// blob = wrapNonce | wrapped data key | dataNonce | ciphertext
	blob := make([]byte, 0, wrappedSize+nonceSize+len(plaintext)+tagSize)
	wrapNonce := make([]byte, nonceSize)
	dataNonce := make([]byte, nonceSize)
	if _, err := rand.Read(wrapNonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	if _, err := rand.Read(dataNonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	blob = append(blob, wrapNonce...)
	blob = k.current.wrap.Seal(blob, wrapNonce, dataKey, aad)
	data, err := newGCM(dataKey)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	blob = append(blob, dataNonce...)
	blob = data.Seal(blob, dataNonce, plaintext, aad)
	return header + ":" + base64.StdEncoding.EncodeToString(blob), nil
}

// Unseal decrypts a value sealed by this keyring or one holding the same
// key.
func (k *Keyring) Unseal(sealed string) ([]byte, error) {
	id, blob, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	m, ok := k.byID[id]
	if !ok {
		return nil, fmt.Errorf("unseal (key %s): %w", id, ErrUnknownKey)
	}
	if len(blob) < wrappedSize+nonceSize+tagSize {
		return nil, fmt.Errorf("unseal: too short: %w", ErrCorrupt)
	}
	aad := []byte(Prefix + id)
	dataKey, err := m.wrap.Open(nil, blob[:nonceSize], blob[nonceSize:wrappedSize], aad)
	if err != nil {
		return nil, fmt.Errorf("unseal: data key: %w", ErrCorrupt)
	}
	data, err := newGCM(dataKey)
	if err != nil {
		return nil, fmt.Errorf("unseal: %w", err)
	}
	rest := blob[wrappedSize:]
	plain, err := data.Open(nil, rest[:nonceSize], rest[nonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("unseal: value: %w", ErrCorrupt)
	}
	return plain, nil
}

// UnsealString is Unseal for text values.
func (k *Keyring) UnsealString(sealed string) (string, error) {
	b, err := k.Unseal(sealed)
	return string(b), err
}

// SealString is Seal for text values.
func (k *Keyring) SealString(plaintext string) (string, error) {
	return k.Seal([]byte(plaintext))
}

// Reseal returns sealed re-encrypted under the current key, and whether it
// had to change: a value already under the current key is returned as is.
func (k *Keyring) Reseal(sealed string) (string, bool, error) {
	id, err := KeyID(sealed)
	if err != nil {
		return "", false, err
	}
	if id == k.current.id {
		return sealed, false, nil
	}
	plain, err := k.Unseal(sealed)
	if err != nil {
		return "", false, err
	}
	out, err := k.Seal(plain)
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}

// IsSealed reports whether s has the form of a sealed value. It checks the
// shape, not the authentication tag: only Unseal can tell a forged value.
func IsSealed(s string) bool {
	_, _, err := parse(s)
	return err == nil
}

// KeyID returns the id of the master key that sealed s.
func KeyID(sealed string) (string, error) {
	id, _, err := parse(sealed)
	return id, err
}

func parse(s string) (id string, blob []byte, err error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return "", nil, fmt.Errorf("unseal: no %q prefix: %w", Prefix, ErrCorrupt)
	}
	id, enc, ok := strings.Cut(rest, ":")
	if !ok || len(id) != keyIDLen {
		return "", nil, fmt.Errorf("unseal: bad key id: %w", ErrCorrupt)
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", nil, fmt.Errorf("unseal: bad key id: %w", ErrCorrupt)
	}
	blob, err = base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", nil, fmt.Errorf("unseal: bad base64: %w", ErrCorrupt)
	}
	return id, blob, nil
}

// FingerprintPrefix starts every fingerprint.
const FingerprintPrefix = "fp:"

// Fingerprint names value without revealing it: a keyed hash under a key
// derived from the current master key, so the same value gets the same
// fingerprint across restarts and on every server with the same key, two
// values can be told apart, and nobody without the key can test guesses
// against it. A rotation changes every fingerprint.
func (k *Keyring) Fingerprint(value string) string {
	mac := hmac.New(sha256.New, k.current.fpKey)
	mac.Write([]byte(value))
	return FingerprintPrefix + hex.EncodeToString(mac.Sum(nil))[:12]
}

// IsFingerprint reports whether s has the form Fingerprint gives.
func IsFingerprint(s string) bool {
	h, ok := strings.CutPrefix(s, FingerprintPrefix)
	if !ok || len(h) != 12 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}
