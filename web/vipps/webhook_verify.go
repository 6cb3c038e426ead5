package vipps

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"refshop/web/secret"
)

// Why VerifyWebhook refused a delivery. None of them carries the secret,
// the signature or the body: they are safe to log.
var (
	ErrWebhookMethod    = errors.New("vipps webhook: not a POST")
	ErrWebhookUnsigned  = errors.New("vipps webhook: Authorization, x-ms-date or x-ms-content-sha256 missing")
	ErrWebhookBodyHash  = errors.New("vipps webhook: x-ms-content-sha256 is not the body's SHA-256")
	ErrWebhookSignature = errors.New("vipps webhook: the signature does not match")
	ErrWebhookDate      = errors.New("vipps webhook: x-ms-date is not a date within the allowed window")
)

// WebhookMaxSkew is how far x-ms-date may lie from the receiver's clock,
// either way. Vipps documents no window; five minutes bounds a replay of a
// captured delivery, and each retry is signed anew with a fresh date.
const WebhookMaxSkew = 5 * time.Minute

// webhookSignedHeaders is the documented Authorization value before the
// signature.
const webhookSignedHeaders = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="

// VerifyWebhook checks a delivery as Vipps's request-authentication page
// says: x-ms-content-sha256 must be base64(SHA-256(body)); then the whole
// Authorization header must equal
//
//	HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<sig>
//
// where sig is base64(HMAC-SHA256(key: the secret's UTF-8 bytes, message:
// "POST\n" + pathAndQuery + "\n" + x-ms-date + ";" + host + ";" + hash)),
// pathAndQuery and host being those of registeredURL (the URL the webhook
// was registered with, not the request's, which a proxy may rewrite).
// Last, x-ms-date must lie within maxSkew of now. It returns one of the
// ErrWebhook* errors.
func VerifyWebhook(sec secret.Secret, method, registeredURL string, h http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	if method != http.MethodPost {
		return ErrWebhookMethod
	}
	authz, date, hash := h.Get("Authorization"), h.Get("x-ms-date"), h.Get("x-ms-content-sha256")
	if authz == "" || date == "" || hash == "" {
		return ErrWebhookUnsigned
	}
	sum := sha256.Sum256(body)
	if !hmac.Equal([]byte(hash), []byte(base64.StdEncoding.EncodeToString(sum[:]))) {
		return ErrWebhookBodyHash
	}
	want, err := WebhookAuthorization(sec, registeredURL, date, hash)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(authz), []byte(want)) {
		return ErrWebhookSignature
	}
	at, err := http.ParseTime(date)
	if err != nil || at.Before(now.Add(-maxSkew)) || at.After(now.Add(maxSkew)) {
		return ErrWebhookDate
	}
	return nil
}

// WebhookAuthorization is the Authorization value Vipps sends for a
// delivery to registeredURL dated date whose body hashes to contentHash.
func WebhookAuthorization(sec secret.Secret, registeredURL, date, contentHash string) (string, error) {
	u, err := url.Parse(registeredURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("vipps webhook: the registered URL %q is not absolute", registeredURL)
	}
	pathAndQuery := u.EscapedPath()
	if pathAndQuery == "" {
		pathAndQuery = "/"
	}
	if u.RawQuery != "" {
		pathAndQuery += "?" + u.RawQuery
	}
	mac := hmac.New(sha256.New, []byte(sec.Reveal()))
	mac.Write([]byte("POST\n" + pathAndQuery + "\n" + date + ";" + authority(u) + ";" + contentHash))
	return webhookSignedHeaders + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// authority is u's host as JavaScript's url.host and C#'s Uri.Authority
// give it: the port only when it is not the scheme's default.
func authority(u *url.URL) string {
	port := u.Port()
	if (port == "443" && strings.EqualFold(u.Scheme, "https")) || (port == "80" && strings.EqualFold(u.Scheme, "http")) {
		return strings.TrimSuffix(u.Host, ":"+port)
	}
	return u.Host
}

// ParseWebhookEvent reads a delivery's body, refusing one that lacks what
// the OpenAPI marks required (msn, reference, pspReference, name, amount,
// timestamp).
func ParseWebhookEvent(body []byte) (WebhookEvent, error) {
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, fmt.Errorf("vipps webhook: the body is not a WebhookEvent: %w", err)
	}
	if ev.MSN == "" || ev.Reference == "" || ev.PSPReference == "" || ev.Name == "" || ev.Amount.Currency == "" || ev.Timestamp.IsZero() {
		return ev, errors.New("vipps webhook: the event lacks msn, reference, pspReference, name, amount or timestamp")
	}
	return ev, nil
}
