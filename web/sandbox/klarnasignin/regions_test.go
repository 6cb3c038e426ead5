package klarnasignin_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// postWith posts form to path, authenticated with method: client_secret_basic
// (an Authorization header, no secret in the form) or client_secret_post
// (client_id and client_secret in the form).
func (e *env) postWith(method, path string, form url.Values) (*http.Response, map[string]any) {
	e.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	basic := method == "client_secret_basic"
	if !basic {
		f.Set("client_id", clientID)
		f.Set("client_secret", clientSecret)
	}
	res, body := e.postForm(path, f, basic)
	return res, decode(e.t, body)
}

// The client is registered with one method (KLARNA_TOKEN_AUTH, provisioned
// as control.KlarnaConfig.TokenAuth). The token endpoint (code exchange and
// refresh) and the revocation endpoint accept that method and refuse the
// other with Ory's 401 invalid_client, whose hint names both methods; a
// refused call spends nothing.
func TestTheRegisteredMethodIsAcceptedAndTheOtherRefused(t *testing.T) {
	const token = "/klarna/login/eu/lp/idp/oauth2/token"
	const revoke = "/klarna/login/oauth2/revoke"
	for _, tc := range []struct{ registered, other string }{
		{"client_secret_basic", "client_secret_post"},
		{"client_secret_post", "client_secret_basic"},
	} {
		t.Run(tc.registered, func(t *testing.T) {
			e := newEnvWith(t, clientSecret, tc.registered)
			refused := func(what string, res *http.Response, body map[string]any) {
				t.Helper()
				wantOAuthError(t, what+" with "+tc.other, res, body, 401, "invalid_client",
					"The OAuth 2.0 Client supports client authentication method '"+tc.registered+"', but method '"+tc.other+
						"' was requested. You must configure the OAuth 2.0 client's 'token_endpoint_auth_method' value to accept '"+tc.other+"'.")
			}
			code := url.Values{"grant_type": {"authorization_code"}, "code": {e.autoCode("anna.schmidt@example.com", e.authParams())},
				"redirect_uri": {callback}, "code_verifier": {verifier}}
			res, body := e.postWith(tc.other, token, code)
			refused("code exchange", res, body)
			res, tok := e.postWith(tc.registered, token, code)
			if res.StatusCode != 200 {
				t.Fatalf("code exchange with %s: %d %v (the refused try must not spend the code)", tc.registered, res.StatusCode, tok)
			}

			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
			res, body = e.postWith(tc.other, token, refresh)
			refused("refresh", res, body)
			res, tok = e.postWith(tc.registered, token, refresh)
			if res.StatusCode != 200 {
				t.Fatalf("refresh with %s: %d %v (the refused try must not spend the refresh token)", tc.registered, res.StatusCode, tok)
			}

			rev := url.Values{"token": {tok["refresh_token"].(string)}, "token_type_hint": {"refresh_token"}}
			res, body = e.postWith(tc.other, revoke, rev)
			refused("revoke", res, body)
			if _, ok := e.p.Recognise(tok["access_token"].(string)); !ok {
				t.Fatal("a refused revocation ended the grant")
			}
			if res, _ := e.postWith(tc.registered, revoke, rev); res.StatusCode != 200 {
				t.Fatalf("revoke with %s: %d", tc.registered, res.StatusCode)
			}
			if _, ok := e.p.Recognise(tok["access_token"].(string)); ok {
				t.Fatal("the revocation did not end the grant")
			}
		})
	}
}

// Each region is its own issuer (Klarna's OpenID Connect page: Europe's is
// the login host, North America's /na/lp/idp below it), with its own
// discovery, keys and sign-in pages; its codes, refresh and access tokens
// are known only at its own endpoints, and the same person has a sub of
// each issuer's own.
func TestRegionsAreSeparateIssuers(t *testing.T) {
	e := newEnv(t, clientSecret)
	const na = "/klarna/login/na/lp/idp"
	res, body := e.get(na+"/.well-known/openid-configuration", nil)
	if res.StatusCode != 200 {
		t.Fatalf("NA discovery: %d", res.StatusCode)
	}
	doc := decode(t, body)
	naIssuer := e.url + na
	for k, want := range map[string]string{
		"issuer": naIssuer, "authorization_endpoint": naIssuer + "/oauth2/auth", "token_endpoint": naIssuer + "/oauth2/token",
		"jwks_uri": naIssuer + "/.well-known/jwks.json", "userinfo_endpoint": naIssuer + "/userinfo",
		"revocation_endpoint": naIssuer + "/oauth2/revoke",
	} {
		if doc[k] != want {
			t.Errorf("NA %s = %v, want %s", k, doc[k], want)
		}
	}
	_, euDoc := e.get("/klarna/login/.well-known/openid-configuration", nil)
	if decode(t, euDoc)["issuer"] != e.issuer() {
		t.Fatalf("EU issuer %v, want %s", decode(t, euDoc)["issuer"], e.issuer())
	}
	jwks := func(path string) jose.JSONWebKeySet {
		_, b := e.get(path, nil)
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(b), &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("%s: %v %s", path, err, b)
		}
		return set
	}
	euKeys, naKeys := jwks("/klarna/login/eu/lp/idp/.well-known/jwks.json"), jwks(na+"/.well-known/jwks.json")
	if euKeys.Keys[0].KeyID == naKeys.Keys[0].KeyID {
		t.Fatal("the regions share a signing key")
	}

	// A sign-in at North America's issuer, through its own pages.
	res, page := e.get(na+"/oauth2/auth", e.authParams())
	if res.StatusCode != 200 || !strings.Contains(page, `action="/klarna/login/na/lp/idp/signin"`) {
		t.Fatalf("NA sign-in page: %d", res.StatusCode)
	}
	e.setting(`{"klarna_auto_consent": "anna.schmidt@example.com"}`)
	res, _ = e.get(na+"/oauth2/auth", e.authParams())
	loc, _ := url.Parse(res.Header.Get("Location"))
	naCode := loc.Query().Get("code")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {naCode}, "redirect_uri": {callback}, "code_verifier": {verifier}}
	r, b := e.postWith("client_secret_basic", "/klarna/login/eu/lp/idp/oauth2/token", exchange)
	wantOAuthError(t, "NA code at the EU token endpoint", r, b, 400, "invalid_grant", "malformed or not valid")
	r, tok := e.postWith("client_secret_basic", na+"/oauth2/token", exchange)
	if r.StatusCode != 200 {
		t.Fatalf("NA code at NA: %d %v (the refused try must not spend it)", r.StatusCode, tok)
	}
	idt, err := jwt.ParseSigned(tok["id_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{}
	if err := idt.Claims(euKeys.Keys[0].Key, &claims); err == nil {
		t.Fatal("an NA ID token verifies with Europe's key")
	}
	if err := idt.Claims(naKeys.Keys[0].Key, &claims); err != nil {
		t.Fatalf("NA ID token against NA's JWKS: %v", err)
	}
	euSub := e.verifyIDToken(e.signIn("anna.schmidt@example.com")["id_token"].(string))["sub"]
	if claims["iss"] != naIssuer || claims["sub"] == euSub || claims["sub"] == "" {
		t.Fatalf("NA ID token iss %v sub %v (EU sub %v)", claims["iss"], claims["sub"], euSub)
	}

	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	userinfo := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+at)
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if userinfo("/klarna/login/eu/lp/idp/userinfo") != 401 || userinfo(na+"/userinfo") != 200 {
		t.Fatal("userinfo: an NA access token must be known at NA only")
	}
	if region, ok := e.p.RegionOf(at); !ok || region != "na" {
		t.Fatalf("RegionOf = %q %v, want na", region, ok)
	}
	// Klarna Payments recognises it at North America's API only.
	if email, ok := e.p.VouchFor(at, "na"); !ok || email != "anna.schmidt@example.com" {
		t.Errorf("NA payments asking about an NA token: %q %v", email, ok)
	}
	if _, ok := e.p.VouchFor(at, "eu"); ok {
		t.Error("Europe's payments API recognised North America's access token")
	}
	// Revoking at Europe's endpoint knows nothing of it (RFC 7009: 200).
	if r, _ := e.postWith("client_secret_basic", "/klarna/login/oauth2/revoke", url.Values{"token": {rt}}); r.StatusCode != 200 {
		t.Fatalf("EU revoke of an NA token: %d", r.StatusCode)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	r, b = e.postWith("client_secret_basic", "/klarna/login/eu/lp/idp/oauth2/token", refresh)
	wantOAuthError(t, "NA refresh token at the EU token endpoint", r, b, 400, "invalid_grant", "malformed or not valid")
	if r, b := e.postWith("client_secret_basic", na+"/oauth2/token", refresh); r.StatusCode != 200 {
		t.Fatalf("NA refresh at NA after the EU tries: %d %v", r.StatusCode, b)
	}
}
