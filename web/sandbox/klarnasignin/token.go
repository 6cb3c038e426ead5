package klarnasignin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// tokenResponse is the token endpoint's answer, with the fields of Klarna's
// code exchange and refresh samples.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	TokenType    string `json:"token_type"`
}

// parseForm parses a token or revocation request, returning a hint for
// invalid_request when it is malformed. Parameters come from the form body;
// Klarna's refresh sample (integrate with Klarna payments) puts them on the
// query string instead, so the query string is accepted too. A
// parameter given twice is refused.
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, string) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, "The request body must be application/x-www-form-urlencoded."
	}
	if err := r.ParseForm(); err != nil {
		return nil, "Unable to parse HTTP body, make sure to send a properly formatted form request body."
	}
	for name, vs := range r.Form {
		if len(vs) > 1 {
			return nil, "The '" + name + "' parameter is included more than once."
		}
	}
	return r.Form, ""
}

// Token endpoint authentication methods a client can be registered with.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none" // a public client, registered without a secret
)

// registeredMethod is the one method the shop's client is registered with
// (control.KlarnaConfig.TokenAuth, from KLARNA_TOKEN_AUTH): "" is
// client_secret_basic, and a client without a secret is public ("none").
func (p *Provider) registeredMethod() string {
	cfg := p.st.Config.Klarna
	switch {
	case cfg.ClientSecret == "":
		return authNone
	case cfg.TokenAuth == authPost:
		return authPost
	}
	return authBasic
}

// authenticateClient checks the client's credentials as Ory's fosite does
// (client_authentication.go), for the token and revocation endpoints: the
// credentials come from an Authorization: Basic header (each part
// form-encoded, RFC 6749 2.3.1) or else from the form; a client registered
// with one method that uses the other is refused with 401 invalid_client
// and fosite's hint naming both methods ("The OAuth 2.0 Client supports
// client authentication method 'client_secret_basic', but method
// 'client_secret_post' was requested. ..."), whatever the secret; then the
// secret must match. A public client sends client_id alone.
func (p *Provider) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) (string, bool) {
	cfg := p.st.Config.Klarna
	id, secret, basic := r.BasicAuth()
	fail := func(hint string) (string, bool) {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="Sign in with Klarna"`)
		}
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", hint)
		return "", false
	}
	if basic {
		var err error
		if id, err = url.QueryUnescape(id); err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The client id in the HTTP authorization header could not be decoded from 'application/x-www-form-urlencoded'.")
			return "", false
		}
		if secret, err = url.QueryUnescape(secret); err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The client secret in the HTTP authorization header could not be decoded from 'application/x-www-form-urlencoded'.")
			return "", false
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return fail("No client authentication was included: send client_id and client_secret.")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(cfg.ClientID)) != 1 {
		return fail("The requested OAuth 2.0 Client does not exist.")
	}
	method := p.registeredMethod()
	wrongMethod := func(used string) (string, bool) {
		return fail("The OAuth 2.0 Client supports client authentication method '" + method + "', but method '" + used +
			"' was requested. You must configure the OAuth 2.0 client's 'token_endpoint_auth_method' value to accept '" + used + "'.")
	}
	switch {
	case form.Get("client_id") != "" && form.Get("client_secret") != "" && method != authPost:
		return wrongMethod(authPost)
	case basic && secret != "" && method != authBasic:
		return wrongMethod(authBasic)
	case method == authNone:
		return id, true
	}
	if secret == "" {
		return fail("The OAuth 2.0 Client is confidential: it must authenticate with " + method + ".")
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(cfg.ClientSecret)) != 1 {
		return fail("The provided client secret did not match the registered client secret (KLARNA_CLIENT_SECRET).")
	}
	return id, true
}

// token is a region's token endpoint.
func (p *Provider) token(w http.ResponseWriter, r *http.Request, rg region) {
	form, bad := parseForm(w, r)
	op := opTokenCode
	if form.Get("grant_type") == "refresh_token" {
		op = opTokenRefresh
	}
	if p.st.Hit(w, r, op) {
		return
	}
	if bad != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", bad)
		return
	}
	clientID, ok := p.authenticateClient(w, r, form)
	if !ok {
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		p.exchangeCode(w, r, form, clientID, rg)
	case "refresh_token":
		p.refreshGrant(w, r, form, clientID, rg)
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The 'grant_type' parameter is missing.")
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "The sandbox supports 'authorization_code' and 'refresh_token'.")
	}
}

// exchangeCode is the authorization_code grant. A code is single use: a
// second use revokes every token the first one issued (RFC 6749 4.1.2,
// fosite's behaviour). A code from another region's issuer is not known
// here.
func (p *Provider) exchangeCode(w http.ResponseWriter, r *http.Request, form url.Values, clientID string, rg region) {
	code, ok := required(w, form, "code")
	if !ok {
		return
	}
	now := p.st.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.codes[code]
	switch {
	case c == nil || regionOf(c.req.Region) != rg:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The authorization code is malformed or not valid.")
		return
	case c.used:
		if c.grant != nil && c.grant.revoked == "" {
			c.grant.revoked = "reuse"
		}
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The authorization code has already been used.")
		return
	case !now.Before(c.expires):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The authorization code expired at '"+c.expires.UTC().Format(time.RFC3339)+"'.")
		return
	case c.req.ClientID != clientID:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The OAuth 2.0 Client ID from this request does not match the one from the authorize request.")
		return
	case form.Get("redirect_uri") != c.req.RedirectURI:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The 'redirect_uri' from this request does not match the one from the authorize request.")
		return
	}
	if hint := checkPKCE(c.req, form.Get("code_verifier")); hint != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", hint)
		return
	}
	c.used = true
	g := &grant{id: newID(), clientID: clientID, identity: c.identity, scopes: c.req.Scopes, authTime: c.authTime, region: rg.id}
	c.grant = g
	res, ok := p.issue(w, r, g, c.req.Nonce)
	if !ok {
		return
	}
	// Klarna's code exchange sample answers "expires_in": 300 and
	// "token_type": "bearer".
	res.TokenType = "bearer"
	res.Scope = strings.Join(g.scopes, " ")
	writeJSON(w, http.StatusOK, res)
}

// checkPKCE returns a hint when verifier does not prove the request's code
// challenge (RFC 7636 4.6), "" when it does or PKCE was not used.
func checkPKCE(req authRequest, verifier string) string {
	if req.CodeChallenge == "" {
		if verifier != "" {
			return "The PKCE code verifier was sent, but the authorize request had no code_challenge."
		}
		return ""
	}
	if verifier == "" {
		return "The PKCE code verifier must be sent: the authorize request had a code_challenge."
	}
	if !pkceValue.MatchString(verifier) {
		return "The PKCE code verifier must be 43 to 128 characters of [A-Za-z0-9-._~]."
	}
	want := verifier
	if req.Method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(req.CodeChallenge)) != 1 {
		return "The PKCE code challenge did not match the code verifier."
	}
	return ""
}

// refreshGrant is the refresh_token grant with rotation ("Refresh tokens can
// only be used once", Klarna's guide): each refresh token works once; the
// answer carries a new one and the used one (and the access token issued
// with it) stops working. A used refresh
// token that comes back means it leaked or a client raced itself: the whole
// grant is revoked, the tokens issued from the used one too, and the answer
// is fosite's 400 invalid_grant. The checks run in fosite's order: unknown
// (a refresh token of another region's issuer is unknown here), reused,
// other client, expired.
func (p *Provider) refreshGrant(w http.ResponseWriter, r *http.Request, form url.Values, clientID string, rg region) {
	token, ok := required(w, form, "refresh_token")
	if !ok {
		return
	}
	now := p.st.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.refresh[token]
	switch {
	case rt == nil || regionOf(rt.grant.region) != rg || rt.grant.revoked == "revocation":
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The refresh token is malformed or not valid.")
		return
	case rt.used || rt.grant.revoked == "reuse":
		rt.grant.revoked = "reuse"
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The refresh token was already used.")
		return
	case rt.grant.clientID != clientID:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The OAuth 2.0 Client ID from this request does not match the ID during the initial token issuance.")
		return
	case !now.Before(rt.expires):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The refresh token expired.")
		return
	}
	if s := form.Get("scope"); s != "" {
		for _, sc := range strings.Fields(s) {
			if !slices.Contains(rt.grant.scopes, sc) {
				writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "The requested scope '"+sc+"' was not granted.")
				return
			}
		}
	}
	rt.used = true
	for _, a := range p.access {
		if a.grant == rt.grant {
			a.revoked = true
		}
	}
	res, ok := p.issue(w, r, rt.grant, "")
	if !ok {
		return
	}
	// Klarna's refresh sample answers "expires_in": 299 and "token_type":
	// "Bearer": a second has passed since the token was minted, as Ory
	// computes it. The token lives the full lifetime.
	res.ExpiresIn--
	res.TokenType = "Bearer"
	writeJSON(w, http.StatusOK, res)
}

// issue mints an access token, a refresh token (only with offline_access, as
// Ory does) and an ID token for g. When the ID token cannot be signed it
// answers server_error and returns false. Callers hold p.mu.
func (p *Provider) issue(w http.ResponseWriter, r *http.Request, g *grant, nonce string) (tokenResponse, bool) {
	now := p.st.Now()
	set := p.st.Settings()
	at := newToken("ory_at_")
	p.access[at] = &accessToken{grant: g, expires: now.Add(set.KlarnaAccessTokenTTL.D())}
	res := tokenResponse{AccessToken: at, ExpiresIn: int64(set.KlarnaAccessTokenTTL.D() / time.Second)}
	if slices.Contains(g.scopes, "offline_access") || slices.Contains(g.scopes, "offline") {
		rt := newToken("ory_rt_")
		// Rolling: each refresh token lives the full lifetime from its issue
		// ("The 90 days are rolling", Klarna's Sign in with Klarna tokens page).
		p.refresh[rt] = &refreshToken{grant: g, expires: now.Add(set.KlarnaRefreshTokenTTL.D())}
		res.RefreshToken = rt
	}
	idt, err := p.signIDToken(r, g, nonce, at)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "Signing the ID token failed.")
		return tokenResponse{}, false
	}
	res.IDToken = idt
	return res, true
}

// required returns the form parameter name; when it is missing it answers
// invalid_request and returns false.
func required(w http.ResponseWriter, form url.Values, name string) (string, bool) {
	v := form.Get(name)
	if v == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The '"+name+"' parameter is missing.")
	}
	return v, v != ""
}

// userinfo answers the claims the grant's scopes release, for a valid access
// token of this region's issuer (GET or POST, Authorization: Bearer). NOT
// FOUND: Klarna's answer to a bad token here; the sandbox answers fosite's
// 401 token_inactive with a Bearer challenge.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request, rg region) {
	if p.st.Hit(w, r, opUserinfo) {
		return
	}
	token, ok := bearer(r)
	var claims map[string]any
	if ok {
		p.mu.Lock()
		if a := p.activeAccess(token); a != nil && regionOf(a.grant.region) == rg {
			claims = a.grant.identity.claims(a.grant.scopes)
			claims["sub"] = a.grant.identity.Sub
		}
		p.mu.Unlock()
	}
	if claims == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeOAuthError(w, http.StatusUnauthorized, "token_inactive", "")
		return
	}
	writeJSON(w, http.StatusOK, claims)
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// revoke is RFC 7009 token revocation: the client revokes a refresh or an
// access token it was issued, which ends the whole grant (RFC 7009 2.1: the
// server SHOULD also revoke the grant's other tokens). An unknown token is
// not an error (RFC 7009 2.2): the answer is 200 either way, and a token of
// another region's issuer is unknown here.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request, rg region) {
	if p.st.Hit(w, r, opRevoke) {
		return
	}
	form, bad := parseForm(w, r)
	if bad != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", bad)
		return
	}
	clientID, ok := p.authenticateClient(w, r, form)
	if !ok {
		return
	}
	token, ok := required(w, form, "token")
	if !ok {
		return
	}
	p.mu.Lock()
	var g *grant
	if rt := p.refresh[token]; rt != nil {
		g = rt.grant
	} else if a := p.access[token]; a != nil {
		g = a.grant
	}
	if g != nil && g.clientID == clientID && regionOf(g.region) == rg && g.revoked == "" {
		g.revoked = "revocation"
	}
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
