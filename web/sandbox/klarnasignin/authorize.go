package klarnasignin

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"refshop/views/sandboxviews"
)

// minEntropy is fosite's minimum length for state and nonce.
const minEntropy = 8

// pkceValue is RFC 7636's code_verifier / code_challenge alphabet and length.
var pkceValue = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

// authorize is the authorization endpoint (GET, the code flow). A request
// with an unknown client or a redirect URI that is not the registered one
// gets an error page: redirecting it would send the browser somewhere the
// client never registered (RFC 6749 4.1.2.1). Other errors go back to the
// client. With klarna_auto_consent set, the identity with that email signs
// in and consents at once; otherwise the sign-in page opens.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, rg region) {
	if p.st.Hit(w, r, opAuthorize) {
		return
	}
	q := r.URL.Query()
	for name, vs := range q {
		if len(vs) > 1 && (name == "client_id" || name == "redirect_uri") {
			p.errorPage(w, r, http.StatusBadRequest, "Sign-in request not valid", "The "+name+" parameter appears more than once.")
			return
		}
	}
	cfg := p.st.Config.Klarna
	if subtle.ConstantTimeCompare([]byte(q.Get("client_id")), []byte(cfg.ClientID)) != 1 {
		p.errorPage(w, r, http.StatusBadRequest, "Unknown client",
			"The client_id in this request is not a registered client (KLARNA_CLIENT_ID). "+describe("invalid_client", ""))
		return
	}
	if q.Get("redirect_uri") != p.redirectURI() {
		p.errorPage(w, r, http.StatusBadRequest, "Redirect URI not registered",
			"The redirect_uri must be exactly the registered "+p.redirectURI()+". "+
				describe("invalid_request", "The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls."))
		return
	}
	req, code, hint := p.parseAuthRequest(q)
	req.Region = rg.id
	if code != "" {
		redirectError(w, r, q.Get("redirect_uri"), q.Get("state"), code, hint)
		return
	}
	if email := p.st.Settings().KlarnaAutoConsent; email != "" {
		id, ok := IdentityFor(email)
		if !ok {
			p.errorPage(w, r, http.StatusBadRequest, "klarna_auto_consent is not an email address",
				"The sandbox setting klarna_auto_consent must be an email address (a test identity's), or empty for the sign-in page.")
			return
		}
		p.grantCode(w, r, req, id)
		return
	}
	id := newID()
	p.mu.Lock()
	p.challenges[id] = &challenge{req: req, expires: p.st.Now().Add(ChallengeTTL)}
	p.mu.Unlock()
	p.renderSignIn(w, r, http.StatusOK, rg, id, "", "")
}

// parseAuthRequest checks the parameters after the client and redirect URI,
// returning an OAuth error code and hint when one is wrong.
func (p *Provider) parseAuthRequest(q url.Values) (authRequest, string, string) {
	for name, vs := range q {
		if len(vs) > 1 {
			return authRequest{}, "invalid_request", "The '" + name + "' parameter is included more than once."
		}
	}
	req := authRequest{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), State: q.Get("state"), Nonce: q.Get("nonce"),
		Scopes: strings.Fields(q.Get("scope")), CodeChallenge: q.Get("code_challenge"), Method: q.Get("code_challenge_method"),
		RequestedAt: p.st.Now(),
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return req, "invalid_request", "The 'response_type' parameter is missing."
	case rt != "code":
		// NOT FOUND whether Klarna serves the implicit and hybrid flows its
		// discovery lists; the sandbox offers the code flow only and says so
		// in its discovery document.
		return req, "unsupported_response_type", "The sandbox supports response_type 'code' only."
	}
	if m := q.Get("response_mode"); m != "" && m != "query" {
		return req, "invalid_request", "The sandbox supports response_mode 'query' only."
	}
	if !slices.Contains(req.Scopes, "openid") {
		return req, "invalid_scope", "Sign in with Klarna is OpenID Connect: the 'openid' scope is required."
	}
	for _, s := range req.Scopes {
		if !slices.Contains(scopesSupported, s) {
			return req, "invalid_scope", "The OAuth 2.0 Client is not allowed to request scope '" + s + "'."
		}
	}
	if len(req.State) < minEntropy {
		return req, "invalid_state", "Request parameter 'state' must be at least be 8 characters long to ensure sufficient entropy."
	}
	if req.Nonce != "" && len(req.Nonce) < minEntropy {
		return req, "invalid_request", "Parameter 'nonce' is set but does not satisfy the minimum entropy of 8 characters."
	}
	// PKCE (RFC 7636): S256 or plain, plain when the method is left out.
	// Klarna does not say whether PKCE is required (its discovery document
	// offers plain and S256); the sandbox requires it from a public client
	// (no client secret) only.
	switch {
	case req.CodeChallenge == "" && req.Method != "":
		return req, "invalid_request", "The 'code_challenge_method' parameter is set but 'code_challenge' is missing."
	case req.CodeChallenge == "" && p.st.Config.Klarna.ClientSecret == "":
		return req, "invalid_request", "Clients must include a code_challenge when performing the authorize code flow, but it is missing."
	case req.CodeChallenge != "":
		if req.Method == "" {
			req.Method = "plain"
		}
		if req.Method != "S256" && req.Method != "plain" {
			return req, "invalid_request", "The code_challenge_method is not supported, use S256 instead."
		}
		if !pkceValue.MatchString(req.CodeChallenge) {
			return req, "invalid_request", "The PKCE code challenge must be 43 to 128 characters of [A-Za-z0-9-._~]."
		}
	}
	return req, "", ""
}

// signIn is the sign-in page's form: the customer picked a test identity
// or typed an email address. The consent page comes next.
func (p *Provider) signIn(w http.ResponseWriter, r *http.Request, rg region) {
	cid := r.PostFormValue("challenge")
	p.mu.Lock()
	c := p.challenges[cid]
	if c != nil && regionOf(c.req.Region) != rg {
		c = nil // another region's sign-in page
	}
	if c != nil && !p.st.Now().Before(c.expires) {
		delete(p.challenges, cid)
		c = nil
	}
	p.mu.Unlock()
	if c == nil {
		p.errorPage(w, r, http.StatusBadRequest, "This sign-in has expired",
			"Sign-in pages are valid for 10 minutes and for one sign-in. Go back to the shop and start again.")
		return
	}
	if r.PostFormValue("action") == "cancel" {
		p.deny(w, r, cid, c)
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	id, ok := IdentityFor(email)
	if !ok {
		p.renderSignIn(w, r, http.StatusUnprocessableEntity, rg, cid, email, "Enter an email address like name@example.com.")
		return
	}
	p.mu.Lock()
	c.identity = &id
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = sandboxviews.KlarnaSignInConsent(sandboxviews.KlarnaSignInConsentView{
		Challenge: cid, Name: id.Name(), Email: id.Email, Scopes: consentLines(c.req.Scopes),
		Action: Base + rg.idp + "/consent", ShopURL: p.st.Config.ShopBaseURL,
	}).Render(r.Context(), w)
}

// consent is the consent page's form: allow issues a code, deny sends the
// customer back with access_denied. Either way the page is used up.
func (p *Provider) consent(w http.ResponseWriter, r *http.Request, rg region) {
	cid := r.PostFormValue("challenge")
	p.mu.Lock()
	c := p.challenges[cid]
	if c != nil && (c.identity == nil || regionOf(c.req.Region) != rg || !p.st.Now().Before(c.expires)) {
		c = nil
	}
	delete(p.challenges, cid)
	p.mu.Unlock()
	if c == nil {
		p.errorPage(w, r, http.StatusBadRequest, "This sign-in has expired",
			"Sign-in pages are valid for 10 minutes and for one sign-in. Go back to the shop and start again.")
		return
	}
	if r.PostFormValue("decision") != "allow" {
		p.deny(w, r, cid, c)
		return
	}
	p.grantCode(w, r, c.req, *c.identity)
}

func (p *Provider) deny(w http.ResponseWriter, r *http.Request, cid string, c *challenge) {
	p.mu.Lock()
	delete(p.challenges, cid)
	p.mu.Unlock()
	redirectError(w, r, c.req.RedirectURI, c.req.State, "access_denied", "The customer did not allow the shop to sign them in.")
}

// grantCode issues an authorization code for id and sends the browser back
// to the client with it. The identity's sub is the region's: each region's
// issuer names its customers in its own namespace (an identity is an
// issuer and a sub, OIDC Core 2), so a shop can never mistake one region's
// customer for the other's by sub alone.
func (p *Provider) grantCode(w http.ResponseWriter, r *http.Request, req authRequest, id Identity) {
	id.Sub = subIn(regionOf(req.Region), id.Email)
	code := newToken("ory_ac_")
	now := p.st.Now()
	p.mu.Lock()
	p.codes[code] = &authCode{req: req, identity: id, authTime: now, expires: now.Add(CodeTTL)}
	p.mu.Unlock()
	u, _ := url.Parse(req.RedirectURI)
	q := u.Query()
	q.Set("code", code)
	q.Set("scope", strings.Join(req.Scopes, " "))
	q.Set("state", req.State)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (p *Provider) renderSignIn(w http.ResponseWriter, r *http.Request, status int, rg region, cid, email, problem string) {
	v := sandboxviews.KlarnaSignInPageView{
		Challenge: cid, Action: Base + rg.idp + "/signin", Email: email, Error: problem, ShopURL: p.st.Config.ShopBaseURL,
	}
	for _, id := range Identities {
		v.Identities = append(v.Identities, sandboxviews.Credential{Name: id.Name(), Value: id.Email})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = sandboxviews.KlarnaSignInPage(v).Render(r.Context(), w)
}

func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = sandboxviews.KlarnaSignInError(sandboxviews.KlarnaSignInErrorView{Title: title, Message: msg, ShopURL: p.st.Config.ShopBaseURL}).Render(r.Context(), w)
}

// consentLines says in words what each requested scope shares.
func consentLines(scopes []string) []string {
	words := map[string]string{
		"openid":                 "Confirm who you are to the shop",
		"offline_access":         "Stay connected, so the shop can recognise you at checkout without asking you to log in again",
		"offline":                "Stay connected, so the shop can recognise you at checkout without asking you to log in again",
		"payment:request:create": "Let the shop start Klarna payments for you",
		"profile:name":           "Your name",
		"profile:email":          "Your email address",
		"email":                  "Your email address",
		"profile:phone":          "Your phone number",
		"phone":                  "Your phone number",
		"profile:date_of_birth":  "Your date of birth",
		"profile:country":        "Your country",
		"profile:locale":         "Your language",
		"profile":                "Your name, date of birth and language",
	}
	var out []string
	for _, s := range scopes {
		line, ok := words[s]
		if !ok {
			line = s
		}
		if !slices.Contains(out, line) {
			out = append(out, line)
		}
	}
	return out
}
