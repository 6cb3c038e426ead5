package vipps

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"refshop/web/redact"
)

// Webhook request authentication, as documented
// (https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/request-authentication/):
//
//	x-ms-content-sha256 = base64(SHA-256(body))
//	string to sign      = "POST\n" + pathAndQuery + "\n" + x-ms-date + ";" + host + ";" + x-ms-content-sha256
//	Authorization       = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" +
//	                      base64(HMAC-SHA256(key = the secret's UTF-8 bytes, string to sign))
//
// pathAndQuery and host come from the registered URL (host as JavaScript's
// url.host and C#'s Uri.Authority give it: a default port left out);
// x-ms-date is an RFC 1123 date in GMT.

// signedHeaders is the Authorization header's fixed part.
const signedHeaders = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="

// webhookSignature returns the x-ms-content-sha256 and Authorization
// values for a POST of body to rawURL at date, and the host signed.
func webhookSignature(secret, rawURL, date string, body []byte) (contentHash, authorization, host string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", "", err
	}
	host = authority(u)
	pathAndQuery := u.EscapedPath()
	if pathAndQuery == "" {
		pathAndQuery = "/"
	}
	if u.RawQuery != "" {
		pathAndQuery += "?" + u.RawQuery
	}
	sum := sha256.Sum256(body)
	contentHash = base64.StdEncoding.EncodeToString(sum[:])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("POST\n" + pathAndQuery + "\n" + date + ";" + host + ";" + contentHash))
	return contentHash, signedHeaders + base64.StdEncoding.EncodeToString(mac.Sum(nil)), host, nil
}

// authority is u's host with a default port (80 for http, 443 for https)
// left out.
func authority(u *url.URL) string {
	port := u.Port()
	if (port == "443" && strings.EqualFold(u.Scheme, "https")) || (port == "80" && strings.EqualFold(u.Scheme, "http")) {
		return strings.TrimSuffix(u.Host, ":"+port)
	}
	return u.Host
}

// signRequest sets a delivery's authentication headers, dated now (the
// sandbox clock).
func signRequest(req *http.Request, secret string, body []byte, now time.Time) error {
	date := now.UTC().Format(http.TimeFormat)
	hash, authz, host, err := webhookSignature(secret, req.URL.String(), date, body)
	if err != nil {
		return err
	}
	req.Host = host // the Host header carries what was signed
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-content-sha256", hash)
	req.Header.Set("Authorization", authz)
	return nil
}

// redactDelivery is a delivery's headers as the log keeps them: the
// signature by its mark (its last characters and a hash), enough to tell
// two apart, not to present one.
func redactDelivery(h http.Header) http.Header {
	h = h.Clone()
	if a := h.Get("Authorization"); strings.HasPrefix(a, signedHeaders) {
		h.Set("Authorization", signedHeaders+redact.Mark(strings.TrimPrefix(a, signedHeaders)))
	}
	return h
}
