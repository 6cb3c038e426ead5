package vipps

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// resource is the documented value of the token response's resource field.
const resource = "00000002-0000-0000-c000-000000000000"

// tokenResponse is POST /accesstoken/get's body. Every field is a string,
// the numbers too, exactly as documented ("expires_in": "86398").
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
}

// accessToken is POST /accesstoken/get: "a POST without a body, to an
// endpoint with get in the URL"; the credentials travel in headers.
func (p *provider) accessToken(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opAccessToken) {
		return
	}
	if !p.subscriptionOK(w, r) {
		return
	}
	cfg := p.st.Config.Vipps
	now := p.st.Now()
	id, sec := r.Header.Get("client_id"), r.Header.Get("client_secret")
	switch {
	case id == "":
		writeEntra(w, now, http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'client_id'.")
		return
	case id != cfg.ClientID:
		// Reported: unknown client_id -> Entra's unauthorized_client,
		// AADSTS700016, as HTTP 400
		// (https://github.com/vippsas/vipps-ecom-api/issues/183).
		writeEntra(w, now, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
			"Application with identifier '%s' was not found in the directory 'vipps-sandbox'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", id))
		return
	case sec == "":
		writeEntra(w, now, http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	case subtle.ConstantTimeCompare([]byte(sec), []byte(cfg.ClientSecret)) != 1:
		// NOT FOUND for Vipps: the wrong-secret body. The sandbox answers what
		// Entra ID answers for a wrong secret: 401 invalid_client, AADSTS7000215.
		writeEntra(w, now, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", id))
		return
	}

	ttl := p.st.Settings().VippsAccessTokenTTL.D()
	notBefore, expires := now.Truncate(time.Second), now.Add(ttl).Truncate(time.Second)
	tok := p.mint(tokenClaims{
		Aud: resource, Iss: "https://sts.windows.net/vipps-sandbox/", AppID: id,
		Iat: notBefore.Unix(), Nbf: notBefore.Unix(), Exp: expires.Unix(), Jti: uuid(),
	})
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(tokenResponse{
		TokenType:    "Bearer",
		ExpiresIn:    strconv.FormatInt(int64(ttl/time.Second), 10),
		ExtExpiresIn: "0",
		ExpiresOn:    strconv.FormatInt(expires.Unix(), 10),
		NotBefore:    strconv.FormatInt(notBefore.Unix(), 10),
		Resource:     resource,
		AccessToken:  tok,
	})
}

// subscriptionOK checks Ocp-Apim-Subscription-Key the way API Management does,
// before anything else: 401 with its own body when missing or wrong.
func (p *provider) subscriptionOK(w http.ResponseWriter, r *http.Request) bool {
	k := r.Header.Get("Ocp-Apim-Subscription-Key")
	switch {
	case k == "":
		writeAzure(w, http.StatusUnauthorized, msgMissingSubscriptionKey)
		return false
	case subtle.ConstantTimeCompare([]byte(k), []byte(p.st.Config.Vipps.SubscriptionKey)) != 1:
		writeAzure(w, http.StatusUnauthorized, msgInvalidSubscriptionKey)
		return false
	}
	return true
}

// tokenClaims are the access token's claims. The real token is an RS256 JWT
// from Entra ID; clients treat it as opaque, so the sandbox signs its own with
// HMAC and a key of its own, kept in its store so tokens outlive a restart.
type tokenClaims struct {
	Aud   string `json:"aud"`
	Iss   string `json:"iss"`
	AppID string `json:"appid"`
	Iat   int64  `json:"iat"`
	Nbf   int64  `json:"nbf"`
	Exp   int64  `json:"exp"`
	Jti   string `json:"jti"`
}

var b64 = base64.RawURLEncoding

const tokenHeader = `{"typ":"JWT","alg":"HS256"}`

func (p *provider) mint(c tokenClaims) string {
	body, _ := json.Marshal(c)
	signing := b64.EncodeToString([]byte(tokenHeader)) + "." + b64.EncodeToString(body)
	return signing + "." + b64.EncodeToString(p.sign(signing))
}

func (p *provider) sign(s string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

var errBadToken = errors.New("access token is missing or invalid")

// verify checks an Authorization header: the word Bearer, a token this
// sandbox signed for the configured client, and not expired on the sandbox
// clock. A token sent without "Bearer " is refused, as the docs warn.
func (p *provider) verify(authz string, now time.Time) error {
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return errBadToken
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errBadToken
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, p.sign(parts[0]+"."+parts[1])) {
		return errBadToken
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return errBadToken
	}
	var c tokenClaims
	if json.Unmarshal(raw, &c) != nil {
		return errBadToken
	}
	switch {
	case c.AppID != p.st.Config.Vipps.ClientID:
		return errBadToken
	case now.Unix() < c.Nbf:
		return errors.New("access token is not valid yet")
	case now.Unix() >= c.Exp:
		return errors.New("access token has expired")
	}
	return nil
}
