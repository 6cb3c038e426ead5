package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// Box seals and opens values with AES-256-GCM. A sealed value is
// "v1:" + base64(nonce || ciphertext || tag); the prefix leaves room for key rotation.
type Box struct {
	aead cipher.AEAD
}

// ErrWrongKey means a sealed value could not be opened with the box's key.
var ErrWrongKey = errors.New("secret: value was not sealed with this key (SHOP_SECRET_KEY changed or data dir from another install)")

// NewBox returns a box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

const sealedPrefix = "v1:"

// Seal encrypts plaintext. aad binds the value to where it is stored (for
// example "user:42:klarna_customer_token") so a sealed value copied to another
// row does not open.
func (b *Box) Seal(plaintext, aad string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same aad.
func (b *Box) Open(sealed, aad string) (Secret, error) {
	raw, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return Secret{}, errors.New("secret: not a sealed value")
	}
	data, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil {
		return Secret{}, fmt.Errorf("secret: sealed value is not base64: %w", err)
	}
	n := b.aead.NonceSize()
	if len(data) < n+b.aead.Overhead() {
		return Secret{}, errors.New("secret: sealed value too short")
	}
	plain, err := b.aead.Open(nil, data[:n], data[n:], []byte(aad))
	if err != nil {
		return Secret{}, ErrWrongKey
	}
	return New(string(plain)), nil
}

// ParseKey reads SHOP_SECRET_KEY: 32 bytes as 64 hex digits or as base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("must be %d random bytes as 64 hex digits or base64 (try: openssl rand -hex 32)", KeySize)
}

// LoadOrCreateKeyFile reads the key file in dir, creating it (mode 0600) with a
// fresh random key the first time.
func LoadOrCreateKeyFile(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	data, err := os.ReadFile(path)
	if err == nil {
		k, perr := ParseKey(string(data))
		if perr != nil {
			return nil, fmt.Errorf("%s: %w", path, perr)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	// O_EXCL: two processes starting at once never write two different keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKeyFile(dir)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// Fingerprint names a key without revealing it: the check value stored in the
// database so that a changed key fails loudly at start, never silently.
func Fingerprint(key []byte) string {
	sum := sha256.Sum256(append([]byte("refshop key check v1:"), key...))
	return hex.EncodeToString(sum[:8])
}
