// Package secret keeps credentials out of logs and pages, and seals the
// long-lived ones (Klarna refresh tokens, customer tokens) at rest.
package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
)

// Secret is a string that never prints itself: %v, %s, %#v, slog and JSON
// all show "[redacted]". Call Reveal at the one place the value is sent.
type Secret struct{ v string }

// New wraps s.
func New(s string) Secret { return Secret{v: s} }

const redacted = "[redacted]"

// Reveal returns the value. Use it only where the protocol needs the value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Mask shows only the last four characters of a token, for pages that must
// let a person recognise a credential without revealing it.
func Mask(s string) string {
	const keep = 4
	if len(s) <= keep*2 {
		return "••••"
	}
	return "••••" + s[len(s)-keep:]
}

// Tag names a token so a person can tell two apart without seeing either:
// its last four characters and the first eight hex digits of its SHA-256
// ("…Xy7Q #1f0c9a2b"). Logs and pages that follow a token's life (fetched,
// reused, rotated, dropped) show this; a short token shows the hash only.
func Tag(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:4])
	if len(s) <= 16 {
		return "#" + h
	}
	return "…" + s[len(s)-4:] + " #" + h
}

// Tag is the package's Tag of the secret's value.
func (s Secret) Tag() string { return Tag(s.v) }
