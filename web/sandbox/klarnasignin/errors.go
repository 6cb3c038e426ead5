package klarnasignin

import (
	"encoding/json"
	"net/http"
	"net/url"
)

// descriptions are fosite's error descriptions
// (https://github.com/ory/fosite/blob/master/errors.go); an answer's
// error_description is the description, a space, and a hint, as fosite's
// non-legacy format writes it.
var descriptions = map[string]string{
	"invalid_request":           "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
	"invalid_client":            "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).",
	"invalid_grant":             "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
	"unsupported_grant_type":    "The authorization grant type is not supported by the authorization server.",
	"invalid_scope":             "The requested scope is invalid, unknown, or malformed.",
	"access_denied":             "The resource owner or authorization server denied the request.",
	"unsupported_response_type": "The authorization server does not support obtaining a token using this method.",
	"invalid_state":             "The state is missing or does not have enough characters and is therefore considered too weak.",
	"token_inactive":            "Token is inactive because it is malformed, expired or otherwise invalid. Token validation failed.",
	"server_error":              "The authorization server encountered an unexpected condition that prevented it from fulfilling the request.",
	"temporarily_unavailable":   "The authorization server is currently unable to handle the request due to a temporary overloading or maintenance of the server.",
	"request_forbidden":         "The request is not allowed.",
}

// describe is the error_description for code with hint.
func describe(code, hint string) string {
	d := descriptions[code]
	if hint != "" {
		d += " " + hint
	}
	return d
}

// oauthError is the body of every error from the token, userinfo and
// revocation endpoints.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeOAuthError answers an OAuth 2.0 error the way fosite does: JSON, and
// never cached.
func writeOAuthError(w http.ResponseWriter, status int, code, hint string) {
	writeJSON(w, status, oauthError{Error: code, Description: describe(code, hint)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// faultCode is the OAuth error an injected fault with status answers.
func faultCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_client"
	case status == http.StatusForbidden:
		return "request_forbidden"
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		return "temporarily_unavailable"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request"
}

// faultShape writes an injected fault as the identity provider would.
func faultShape(w http.ResponseWriter, r *http.Request, status int) {
	writeOAuthError(w, status, faultCode(status), "(fault injected through the sandbox control API)")
}

// authorizeFaultShape: an injected fault at the authorize endpoint sends the
// browser back to the shop with the error, as the real endpoint does once
// the client and redirect URI are known.
func (p *Provider) authorizeFaultShape(w http.ResponseWriter, r *http.Request, status int) {
	q := r.URL.Query()
	if q.Get("client_id") != p.st.Config.Klarna.ClientID || q.Get("redirect_uri") != p.redirectURI() {
		p.errorPage(w, r, status, "The sign-in could not start", "Injected fault: "+http.StatusText(status))
		return
	}
	redirectError(w, r, q.Get("redirect_uri"), q.Get("state"), faultCode(status), "(fault injected through the sandbox control API)")
}

// redirectError sends the browser back to the client with an error
// (RFC 6749 4.1.2.1).
func redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, hint string) {
	u, _ := url.Parse(redirectURI)
	q := u.Query()
	q.Set("error", code)
	q.Set("error_description", describe(code, hint))
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}
