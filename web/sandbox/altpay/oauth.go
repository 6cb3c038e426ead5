package altpay

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// oauthToken is POST /oauth/token: client credentials in Basic auth,
// grant_type=client_credentials, no refresh token
// (https://docs.alternativepayments.io/api-reference/oauth).
//
// Choices: credentials in the form body instead of Basic auth are refused
// like wrong ones (the docs show Basic only); the access token is opaque hex,
// as the API reference shows, so only this sandbox can judge it.
func (p *provider) oauthToken(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opOAuthToken) {
		return
	}
	id, sec, ok := r.BasicAuth()
	if ok {
		// RFC 6749 2.3.1: clients form-encode both before Basic encoding;
		// golang.org/x/oauth2 does. Plain values decode to themselves.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(sec); err == nil {
			sec = v
		}
	}
	cfg := p.st.Config.Altpay
	if !ok || !equal(id, cfg.ClientID) || !equal(sec, cfg.ClientSecret) {
		writeError(w, http.StatusForbidden, "forbidden", "Invalid credentials", nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.ParseForm() != nil {
		validation(w, map[string]string{"grant_type": "send grant_type=client_credentials as application/x-www-form-urlencoded"})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		validation(w, map[string]string{"grant_type": "unsupported grant_type " + strings.TrimSpace(gt) + "; only client_credentials"})
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	ttl := p.st.Settings().AltpayOAuthTokenTTL.D()
	p.mu.Lock()
	p.tokens[tok] = p.st.Now().Add(ttl)
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int64(ttl.Seconds()),
	})
}

// authorized checks the partner API's Bearer OAuth token on the sandbox
// clock, answering 401 when it is missing, unknown or expired.
func (p *provider) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := bearer(r)
	if ok {
		p.mu.Lock()
		exp, known := p.tokens[tok]
		p.mu.Unlock()
		if known && p.st.Now().Before(exp) {
			return true
		}
		if known {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="The access token expired"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "Access token expired", nil)
			return false
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "Missing or invalid access token", nil)
	return false
}

// bearer returns the token of an "Authorization: Bearer" header; the scheme
// is case-insensitive (RFC 6750).
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
