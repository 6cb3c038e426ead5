package klarnasignin_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"refshop/web/clock"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/klarnasignin"
	"refshop/web/sandbox/sandboxtest"
)

const (
	clientID     = "refshop-test-client"
	clientSecret = "test-client-secret"
	shopURL      = "http://shop.test:8080"
	callback     = shopURL + "/auth/klarna/callback"
	// A valid RFC 7636 verifier and its S256 challenge.
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

var challenge = func() string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}()

// env is one sandbox with only the identity provider, on a test server.
type env struct {
	t      *testing.T
	st     *control.State
	p      *klarnasignin.Provider
	base   *clock.Manual
	url    string
	client *http.Client // does not follow redirects
}

func newEnv(t *testing.T, secret string) *env {
	t.Helper()
	return newEnvWith(t, secret, "")
}

// newEnvWith is newEnv with the client registered for tokenAuth
// (control.KlarnaConfig.TokenAuth; "" is client_secret_basic).
func newEnvWith(t *testing.T, secret, tokenAuth string) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	u := "http://" + srv.Listener.Addr().String()
	base := clock.NewManual(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	st := control.New(control.Config{BaseURL: u, ShopBaseURL: shopURL,
		Klarna: control.KlarnaConfig{Enabled: true, ClientID: clientID, ClientSecret: secret, TokenAuth: tokenAuth}}, base)
	mux := http.NewServeMux()
	st.Routes(mux)
	p := klarnasignin.New(mux, st, slog.New(slog.DiscardHandler))
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, p: p, base: base, url: u,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// newSandboxEnv is an env on a whole sandbox (Klarna Payments too), served
// by sandboxtest, which can restart it.
func newSandboxEnv(t *testing.T) (*env, *sandboxtest.Server) {
	t.Helper()
	cfg := control.Config{ShopBaseURL: shopURL, Klarna: control.KlarnaConfig{Enabled: true,
		Username: "PK_test", Password: "api-key", ClientID: clientID, ClientSecret: clientSecret}}
	sb := sandboxtest.Start(t, cfg, clock.NewManual(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)))
	return &env{t: t, st: sb.State, url: sb.URL,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, sb
}

func (e *env) issuer() string { return e.url + "/klarna/login" }

func (e *env) authParams() url.Values {
	return url.Values{
		"client_id": {clientID}, "redirect_uri": {callback}, "response_type": {"code"},
		"scope":          {"openid offline_access payment:request:create profile:name profile:email"},
		"state":          {"state-1234567890"},
		"nonce":          {"nonce-1234567890"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}

func (e *env) get(path string, q url.Values) (*http.Response, string) {
	e.t.Helper()
	u := e.url + path
	if q != nil {
		u += "?" + q.Encode()
	}
	res, err := e.client.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, readBody(e.t, res)
}

func (e *env) postForm(path string, form url.Values, basic bool) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, readBody(e.t, res)
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// autoCode signs email in through klarna_auto_consent and returns the code.
func (e *env) autoCode(email string, params url.Values) string {
	e.t.Helper()
	e.setting(`{"klarna_auto_consent": "` + email + `"}`)
	res, body := e.get("/klarna/login/eu/lp/idp/oauth2/auth", params)
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("authorize: %d %s", res.StatusCode, body)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		e.t.Fatalf("redirected to %s, want the callback", got)
	}
	if loc.Query().Get("state") != params.Get("state") || loc.Query().Get("code") == "" {
		e.t.Fatalf("callback query %v lacks the state or a code", loc.Query())
	}
	return loc.Query().Get("code")
}

func (e *env) setting(body string) {
	e.t.Helper()
	res, err := http.Post(e.url+"/control/settings", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != 200 {
		e.t.Fatalf("settings %s: %v %v", body, err, res.StatusCode)
	}
	res.Body.Close()
}

func (e *env) advance(d time.Duration) { e.st.Clock.Advance(d) }

// exchange trades code with client_secret_basic and the verifier.
func (e *env) exchange(code string) (*http.Response, map[string]any) {
	e.t.Helper()
	res, body := e.postForm("/klarna/login/eu/lp/idp/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {verifier},
	}, true)
	return res, decode(e.t, body)
}

func (e *env) refresh(rt string) (*http.Response, map[string]any) {
	e.t.Helper()
	res, body := e.postForm("/klarna/login/eu/lp/idp/oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {rt},
	}, true)
	return res, decode(e.t, body)
}

// signIn runs the code flow for email and returns the token response.
func (e *env) signIn(email string) map[string]any {
	e.t.Helper()
	res, tok := e.exchange(e.autoCode(email, e.authParams()))
	if res.StatusCode != 200 {
		e.t.Fatalf("exchange: %d %v", res.StatusCode, tok)
	}
	return tok
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if body != "" {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("not JSON: %q", body)
		}
	}
	return m
}

func testdata(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(b))
}

// sameShape checks got has every key of the documented example, each with
// the same JSON type.
func sameShape(t *testing.T, what string, got, doc map[string]any) {
	t.Helper()
	for k, v := range doc {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: no %q (documented example has it)", what, k)
			continue
		}
		if reflect.TypeOf(g) != reflect.TypeOf(v) {
			t.Errorf("%s: %q is %T, documented as %T", what, k, g, v)
		}
	}
}

func wantOAuthError(t *testing.T, what string, res *http.Response, body map[string]any, status int, code, hint string) {
	t.Helper()
	if res.StatusCode != status || body["error"] != code {
		t.Fatalf("%s: %d %v, want %d %s", what, res.StatusCode, body, status, code)
	}
	if d, _ := body["error_description"].(string); !strings.Contains(d, hint) {
		t.Fatalf("%s: error_description %q lacks %q", what, d, hint)
	}
	if res.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: headers %v, want JSON and no-store", what, res.Header)
	}
}

func TestDiscoveryAtBothPathFamilies(t *testing.T) {
	e := newEnv(t, clientSecret)
	doc := testdata(t, "discovery.json")
	var first map[string]any
	for _, path := range []string{"/klarna/login/.well-known/openid-configuration", "/klarna/login/eu/lp/idp/.well-known/openid-configuration"} {
		res, body := e.get(path, nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		got := decode(t, body)
		if first == nil {
			first = got
		} else if !reflect.DeepEqual(first, got) {
			t.Fatalf("the two discovery documents differ")
		}
		// Every key the sandbox implements, typed as in Klarna's document.
		for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
			"revocation_endpoint", "scopes_supported", "response_types_supported", "grant_types_supported",
			"token_endpoint_auth_methods_supported", "id_token_signing_alg_values_supported", "code_challenge_methods_supported",
			"subject_types_supported", "claims_supported", "response_modes_supported"} {
			sameShape(t, path, map[string]any{k: got[k]}, map[string]any{k: doc[k]})
		}
	}
	if first["issuer"] != e.issuer() {
		t.Fatalf("issuer %v, want %s", first["issuer"], e.issuer())
	}
	for k, suffix := range map[string]string{
		"authorization_endpoint": "/eu/lp/idp/oauth2/auth", "token_endpoint": "/eu/lp/idp/oauth2/token",
		"jwks_uri": "/eu/lp/idp/.well-known/jwks.json", "userinfo_endpoint": "/eu/lp/idp/userinfo",
		"revocation_endpoint": "/oauth2/revoke",
	} {
		if first[k] != e.issuer()+suffix {
			t.Errorf("%s = %v, want %s", k, first[k], e.issuer()+suffix)
		}
	}
	// The newer snapshot's family answers too (not 404).
	for _, path := range []string{"/klarna/login/oauth2/token", "/klarna/login/eu/lp/idp/oauth2/revoke"} {
		if res, _ := e.postForm(path, url.Values{}, false); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without credentials: %d, want 401", path, res.StatusCode)
		}
	}
	if res, _ := e.get("/klarna/login/.well-known/jwks.json", nil); res.StatusCode != 200 {
		t.Errorf("jwks at the short family: %d", res.StatusCode)
	}
	if res, _ := e.get("/klarna/login/userinfo", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo at the short family without a token: %d, want 401", res.StatusCode)
	}
}

func TestJWKSHasRS256KeyWithKlarnaKid(t *testing.T) {
	e := newEnv(t, clientSecret)
	res, body := e.get("/klarna/login/eu/lp/idp/.well-known/jwks.json", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil || res.StatusCode != 200 {
		t.Fatalf("jwks: %d %v", res.StatusCode, err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	k := set.Keys[0]
	if !regexp.MustCompile(`^public:[0-9a-f-]{36}$`).MatchString(k.KeyID) || k.Algorithm != "RS256" || k.Use != "sig" || !k.IsPublic() {
		t.Fatalf("key kid=%q alg=%q use=%q public=%v", k.KeyID, k.Algorithm, k.Use, k.IsPublic())
	}
	if strings.Contains(body, `"d"`) {
		t.Fatal("the JWKS publishes the private exponent")
	}
}

// verifyIDToken checks the ID token's signature against the sandbox's JWKS
// and returns its claims.
func (e *env) verifyIDToken(raw string) map[string]any {
	e.t.Helper()
	_, body := e.get("/klarna/login/eu/lp/idp/.well-known/jwks.json", nil)
	var set jose.JSONWebKeySet
	_ = json.Unmarshal([]byte(body), &set)
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		e.t.Fatalf("id_token: %v", err)
	}
	if tok.Headers[0].KeyID != set.Keys[0].KeyID {
		e.t.Fatalf("id_token kid %q is not the JWKS key", tok.Headers[0].KeyID)
	}
	claims := map[string]any{}
	if err := tok.Claims(set.Keys[0].Key, &claims); err != nil {
		e.t.Fatalf("id_token signature: %v", err)
	}
	return claims
}

func TestCodeFlowThroughTheSignInAndConsentPages(t *testing.T) {
	e := newEnv(t, clientSecret)
	params := e.authParams()
	res, page := e.get("/klarna/login/eu/lp/idp/oauth2/auth", params)
	if res.StatusCode != 200 {
		t.Fatalf("authorize: %d", res.StatusCode)
	}
	for _, id := range klarnasignin.Identities {
		if !strings.Contains(page, id.Email) || !strings.Contains(page, id.Name()) {
			t.Errorf("sign-in page lacks %s", id.Email)
		}
	}
	ch := regexp.MustCompile(`name="challenge" value="([^"]+)"`).FindStringSubmatch(page)
	if ch == nil {
		t.Fatal("no challenge on the sign-in page")
	}
	// A bad email is refused on the page.
	res, body := e.postForm("/klarna/login/eu/lp/idp/signin", url.Values{"challenge": {ch[1]}, "email": {"not an email"}}, false)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter an email address") {
		t.Fatalf("bad email: %d", res.StatusCode)
	}
	anna := klarnasignin.Identities[0]
	res, consent := e.postForm("/klarna/login/eu/lp/idp/signin", url.Values{"challenge": {ch[1]}, "email": {anna.Email}}, false)
	if res.StatusCode != 200 || !strings.Contains(consent, "Allow") || !strings.Contains(consent, anna.Email) {
		t.Fatalf("consent page: %d", res.StatusCode)
	}
	res, _ = e.postForm("/klarna/login/eu/lp/idp/consent", url.Values{"challenge": {ch[1]}, "decision": {"allow"}}, false)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %d", res.StatusCode)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	code := loc.Query().Get("code")
	if !strings.HasPrefix(code, "ory_ac_") || loc.Query().Get("state") != params.Get("state") {
		t.Fatalf("callback %s", loc)
	}
	// The page is used up.
	if res, _ := e.postForm("/klarna/login/eu/lp/idp/consent", url.Values{"challenge": {ch[1]}, "decision": {"allow"}}, false); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("second consent: %d, want 400", res.StatusCode)
	}

	res, tok := e.exchange(code)
	if res.StatusCode != 200 {
		t.Fatalf("exchange: %d %v", res.StatusCode, tok)
	}
	sameShape(t, "code exchange", tok, testdata(t, "token_code_response.json"))
	if tok["token_type"] != "bearer" || tok["expires_in"] != float64(300) || tok["scope"] != params.Get("scope") {
		t.Fatalf("token response %v", tok)
	}
	if !strings.HasPrefix(tok["access_token"].(string), "ory_at_") || !strings.HasPrefix(tok["refresh_token"].(string), "ory_rt_") {
		t.Fatalf("token formats %v", tok)
	}
	claims := e.verifyIDToken(tok["id_token"].(string))
	want := map[string]any{"iss": e.issuer(), "sub": anna.Sub, "nonce": params.Get("nonce"), "email": anna.Email,
		"email_verified": true, "given_name": "Anna", "family_name": "Schmidt"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("id_token %s = %v, want %v", k, claims[k], v)
		}
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != clientID {
		t.Errorf("aud = %v", claims["aud"])
	}
	sum := sha256.Sum256([]byte(tok["access_token"].(string)))
	if claims["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:16]) {
		t.Errorf("at_hash = %v", claims["at_hash"])
	}
	if exp := int64(claims["exp"].(float64)); exp != e.st.Now().Add(klarnasignin.IDTokenTTL).Unix() {
		t.Errorf("exp = %d", exp)
	}
	if id, ok := e.p.Recognise(tok["access_token"].(string)); !ok || id.Email != anna.Email {
		t.Fatalf("Recognise(new access token) = %v %v", id, ok)
	}
	if e.st.Calls("klarna.authorize") != 1 || e.st.Calls("klarna.token_code") != 1 {
		t.Errorf("calls %v", e.st.View().Calls)
	}
}

func TestConsentDeniedAndCancelReturnAccessDenied(t *testing.T) {
	e := newEnv(t, clientSecret)
	for _, step := range []string{"deny", "cancel"} {
		_, page := e.get("/klarna/login/eu/lp/idp/oauth2/auth", e.authParams())
		ch := regexp.MustCompile(`name="challenge" value="([^"]+)"`).FindStringSubmatch(page)[1]
		var res *http.Response
		if step == "cancel" {
			res, _ = e.postForm("/klarna/login/eu/lp/idp/signin", url.Values{"challenge": {ch}, "action": {"cancel"}}, false)
		} else {
			e.postForm("/klarna/login/eu/lp/idp/signin", url.Values{"challenge": {ch}, "email": {"jonas.weber@example.com"}}, false)
			res, _ = e.postForm("/klarna/login/eu/lp/idp/consent", url.Values{"challenge": {ch}, "decision": {"deny"}}, false)
		}
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "state-1234567890" || loc.Query().Get("code") != "" {
			t.Fatalf("%s: %d %s", step, res.StatusCode, loc)
		}
	}
}

func TestSignInPageExpires(t *testing.T) {
	e := newEnv(t, clientSecret)
	_, page := e.get("/klarna/login/eu/lp/idp/oauth2/auth", e.authParams())
	ch := regexp.MustCompile(`name="challenge" value="([^"]+)"`).FindStringSubmatch(page)[1]
	e.advance(klarnasignin.ChallengeTTL + time.Second)
	res, body := e.postForm("/klarna/login/eu/lp/idp/signin", url.Values{"challenge": {ch}, "email": {"jonas.weber@example.com"}}, false)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "expired") {
		t.Fatalf("expired page: %d", res.StatusCode)
	}
}

func TestAuthorizeRefusesBadRequests(t *testing.T) {
	e := newEnv(t, clientSecret)
	// No redirect for an unknown client or an unregistered redirect URI.
	for name, mod := range map[string]func(url.Values){
		"unknown client":          func(q url.Values) { q.Set("client_id", "someone-else") },
		"no client":               func(q url.Values) { q.Del("client_id") },
		"redirect with slash":     func(q url.Values) { q.Set("redirect_uri", callback+"/") },
		"redirect other host":     func(q url.Values) { q.Set("redirect_uri", "http://evil.test/auth/klarna/callback") },
		"redirect with query":     func(q url.Values) { q.Set("redirect_uri", callback+"?x=1") },
		"redirect other path":     func(q url.Values) { q.Set("redirect_uri", shopURL+"/auth/klarna/callback2") },
		"redirect missing":        func(q url.Values) { q.Del("redirect_uri") },
		"redirect given twice":    func(q url.Values) { q.Add("redirect_uri", "http://evil.test/") },
		"redirect other scheme":   func(q url.Values) { q.Set("redirect_uri", strings.Replace(callback, "http:", "https:", 1)) },
		"redirect different case": func(q url.Values) { q.Set("redirect_uri", strings.Replace(callback, "callback", "Callback", 1)) },
	} {
		q := e.authParams()
		mod(q)
		res, _ := e.get("/klarna/login/eu/lp/idp/oauth2/auth", q)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location=%q, want a 400 page and no redirect", name, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// Other errors go back to the client with the state.
	for name, c := range map[string]struct {
		mod  func(url.Values)
		code string
	}{
		"implicit flow":      {func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		"no response_type":   {func(q url.Values) { q.Del("response_type") }, "invalid_request"},
		"no openid":          {func(q url.Values) { q.Set("scope", "profile:name offline_access") }, "invalid_scope"},
		"unknown scope":      {func(q url.Values) { q.Set("scope", "openid admin") }, "invalid_scope"},
		"short state":        {func(q url.Values) { q.Set("state", "abc") }, "invalid_state"},
		"short nonce":        {func(q url.Values) { q.Set("nonce", "abc") }, "invalid_request"},
		"pkce method other":  {func(q url.Values) { q.Set("code_challenge_method", "S512") }, "invalid_request"},
		"pkce short":         {func(q url.Values) { q.Set("code_challenge", "short") }, "invalid_request"},
		"pkce method only":   {func(q url.Values) { q.Del("code_challenge") }, "invalid_request"},
		"fragment mode":      {func(q url.Values) { q.Set("response_mode", "fragment") }, "invalid_request"},
		"scope given twice":  {func(q url.Values) { q.Add("scope", "openid") }, "invalid_request"},
		"state given twice?": {func(q url.Values) { q.Add("nonce", "nonce-0987654321") }, "invalid_request"},
	} {
		q := e.authParams()
		c.mod(q)
		res, _ := e.get("/klarna/login/eu/lp/idp/oauth2/auth", q)
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != c.code || loc.Query().Get("error_description") == "" {
			t.Errorf("%s: %d %s, want a redirect with %s", name, res.StatusCode, loc, c.code)
		}
		if !strings.HasPrefix(loc.String(), callback+"?") {
			t.Errorf("%s: redirected to %s", name, loc)
		}
	}
}

func TestPublicClientMustUsePKCE(t *testing.T) {
	e := newEnv(t, "") // registered without a secret
	q := e.authParams()
	q.Del("code_challenge")
	q.Del("code_challenge_method")
	res, _ := e.get("/klarna/login/eu/lp/idp/oauth2/auth", q)
	if loc, _ := url.Parse(res.Header.Get("Location")); loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("public client without PKCE: %s", loc)
	}
	// With PKCE, client_id alone authenticates it; a secret is refused.
	code := e.autoCode("mia.svensson@example.com", e.authParams())
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback},
		"code_verifier": {verifier}, "client_id": {clientID}, "client_secret": {"anything"}}
	res, body := e.postForm("/klarna/login/eu/lp/idp/oauth2/token", form, false)
	wantOAuthError(t, "public client with a secret", res, decode(t, body), 401, "invalid_client",
		"supports client authentication method 'none', but method 'client_secret_post' was requested")
	form.Del("client_secret")
	res, body = e.postForm("/klarna/login/eu/lp/idp/oauth2/token", form, false)
	if res.StatusCode != 200 {
		t.Fatalf("public client exchange: %d %s", res.StatusCode, body)
	}
}

func TestPlainPKCEWorks(t *testing.T) {
	e := newEnv(t, clientSecret)
	q := e.authParams()
	q.Set("code_challenge", verifier)
	q.Del("code_challenge_method") // plain by default
	res, tok := e.exchange(e.autoCode("jonas.weber@example.com", q))
	if res.StatusCode != 200 {
		t.Fatalf("plain PKCE: %d %v", res.StatusCode, tok)
	}
}

func TestTokenEndpointClientAuthentication(t *testing.T) {
	e := newEnv(t, clientSecret) // registered with client_secret_basic, the default
	code := func() url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {e.autoCode("anna.schmidt@example.com", e.authParams())},
			"redirect_uri": {callback}, "code_verifier": {verifier}}
	}
	doc := testdata(t, "invalid_client_error.json")["error_description"].(string)

	if res, body := e.postForm("/klarna/login/eu/lp/idp/oauth2/token", code(), true); res.StatusCode != 200 {
		t.Fatalf("basic: %d %s", res.StatusCode, body)
	}
	for name, f := range map[string]url.Values{
		"none": code(),
		"wrong secret": func() url.Values {
			f := code()
			f.Set("client_id", clientID)
			f.Set("client_secret", "wrong")
			return f
		}(),
		"wrong client": func() url.Values {
			f := code()
			f.Set("client_id", "other")
			f.Set("client_secret", clientSecret)
			return f
		}(),
		"id only": func() url.Values { f := code(); f.Set("client_id", clientID); return f }(),
	} {
		res, body := e.postForm("/klarna/login/eu/lp/idp/oauth2/token", f, false)
		wantOAuthError(t, name, res, decode(t, body), 401, "invalid_client", doc)
	}
	// Basic with the wrong secret names the scheme in WWW-Authenticate.
	req, _ := http.NewRequest(http.MethodPost, e.url+"/klarna/login/eu/lp/idp/oauth2/token", strings.NewReader(code().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, "wrong")
	res, _ := e.client.Do(req)
	res.Body.Close()
	if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("basic wrong secret: %d %v", res.StatusCode, res.Header)
	}
	// Both methods at once: the form's credentials are client_secret_post,
	// which this client is not registered with (fosite's order).
	f := code()
	f.Set("client_id", clientID)
	f.Set("client_secret", clientSecret)
	res, body := e.postForm("/klarna/login/eu/lp/idp/oauth2/token", f, true)
	wantOAuthError(t, "two methods", res, decode(t, body), 401, "invalid_client", "but method 'client_secret_post' was requested")
}

func TestCodeExchangeRejections(t *testing.T) {
	e := newEnv(t, clientSecret)
	post := func(f url.Values) (*http.Response, map[string]any) {
		res, body := e.postForm("/klarna/login/eu/lp/idp/oauth2/token", f, true)
		return res, decode(t, body)
	}
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {verifier}}
	}
	cases := map[string]struct {
		mod  func(url.Values)
		hint string
	}{
		"unknown code":          {func(f url.Values) { f.Set("code", "ory_ac_nope") }, "malformed"},
		"wrong redirect":        {func(f url.Values) { f.Set("redirect_uri", shopURL+"/other") }, "redirect_uri"},
		"no redirect":           {func(f url.Values) { f.Del("redirect_uri") }, "redirect_uri"},
		"no verifier":           {func(f url.Values) { f.Del("code_verifier") }, "code verifier"},
		"wrong verifier":        {func(f url.Values) { f.Set("code_verifier", strings.Repeat("a", 43)) }, "did not match"},
		"short verifier":        {func(f url.Values) { f.Set("code_verifier", "abc") }, "43 to 128"},
		"verifier as challenge": {func(f url.Values) { f.Set("code_verifier", challenge) }, "did not match"},
	}
	for name, c := range cases {
		f := form(e.autoCode("anna.schmidt@example.com", e.authParams()))
		c.mod(f)
		res, body := post(f)
		wantOAuthError(t, name, res, body, 400, "invalid_grant", c.hint)
	}
	res, body := post(url.Values{"grant_type": {"password"}, "username": {"x"}})
	wantOAuthError(t, "password grant", res, body, 400, "unsupported_grant_type", "")
	res, body = post(url.Values{"code": {"x"}})
	wantOAuthError(t, "no grant_type", res, body, 400, "invalid_request", "grant_type")

	// Short-lived: a code older than CodeTTL is refused.
	code := e.autoCode("anna.schmidt@example.com", e.authParams())
	e.advance(klarnasignin.CodeTTL)
	res, body = post(form(code))
	wantOAuthError(t, "expired code", res, body, 400, "invalid_grant", "expired")
}

func TestCodeReuseRevokesWhatItIssued(t *testing.T) {
	e := newEnv(t, clientSecret)
	code := e.autoCode("anna.schmidt@example.com", e.authParams())
	res, tok := e.exchange(code)
	if res.StatusCode != 200 {
		t.Fatal(res.StatusCode)
	}
	res, body := e.exchange(code)
	wantOAuthError(t, "reused code", res, body, 400, "invalid_grant", "already been used")
	if _, ok := e.p.Recognise(tok["access_token"].(string)); ok {
		t.Fatal("the access token from the first exchange still works after the code came back")
	}
	res, body = e.refresh(tok["refresh_token"].(string))
	wantOAuthError(t, "refresh after code reuse", res, body, 400, "invalid_grant", "")
}

func TestRefreshRotatesTheRefreshToken(t *testing.T) {
	e := newEnv(t, clientSecret)
	tok := e.signIn("anna.schmidt@example.com")
	at1, rt1 := tok["access_token"].(string), tok["refresh_token"].(string)
	e.advance(4 * time.Minute)
	res, tok2 := e.refresh(rt1)
	if res.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", res.StatusCode, tok2)
	}
	sameShape(t, "refresh", tok2, testdata(t, "token_refresh_response.json"))
	if tok2["token_type"] != "Bearer" || tok2["expires_in"] != float64(299) {
		t.Fatalf("refresh answer %v, want the documented Bearer / 299", tok2)
	}
	at2, rt2 := tok2["access_token"].(string), tok2["refresh_token"].(string)
	if rt2 == rt1 || at2 == at1 || !strings.HasPrefix(rt2, "ory_rt_") {
		t.Fatal("refresh did not rotate the tokens")
	}
	if _, ok := e.p.Recognise(at1); ok {
		t.Error("the old access token still works after a refresh")
	}
	if id, ok := e.p.Recognise(at2); !ok || id.Email != "anna.schmidt@example.com" {
		t.Error("the new access token is not recognised")
	}
	claims := e.verifyIDToken(tok2["id_token"].(string))
	if claims["sub"] != klarnasignin.Identities[0].Sub || claims["nonce"] != nil {
		t.Errorf("refresh id_token claims %v", claims)
	}
	// Klarna's sample sends the refresh on the query string: accepted too.
	q := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/klarna/login/eu/lp/idp/oauth2/token?"+q.Encode(), nil)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, res); res.StatusCode != 200 {
		t.Fatalf("query-string refresh: %d %s", res.StatusCode, body)
	}
	if e.st.Calls("klarna.token_refresh") != 2 || e.st.Calls("klarna.token_code") != 1 {
		t.Errorf("calls %v", e.st.View().Calls)
	}
}

func TestRefreshTokenReuseRevokesTheGrant(t *testing.T) {
	e := newEnv(t, clientSecret)
	tok := e.signIn("jonas.weber@example.com")
	rt1 := tok["refresh_token"].(string)
	_, tok2 := e.refresh(rt1)
	at2, rt2 := tok2["access_token"].(string), tok2["refresh_token"].(string)

	res, body := e.postForm("/klarna/login/eu/lp/idp/oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {rt1},
	}, true)
	if res.StatusCode != 400 || strings.TrimSpace(body) != strings.TrimSpace(mustRead(t, "testdata/refresh_reused_error.json")) {
		t.Fatalf("reuse: %d %s, want the documented fosite answer", res.StatusCode, body)
	}
	if res.Header.Get("Pragma") != "no-cache" || res.Header.Get("Content-Type") != "application/json;charset=UTF-8" {
		t.Errorf("reuse headers %v", res.Header)
	}
	if _, ok := e.p.Recognise(at2); ok {
		t.Error("the access token issued from the reused refresh token still works")
	}
	res, b := e.refresh(rt2)
	wantOAuthError(t, "refresh token issued before reuse", res, b, 400, "invalid_grant", "")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRefreshTokenLifetimesFromSettings(t *testing.T) {
	e := newEnv(t, clientSecret)
	e.setting(`{"klarna_access_token_ttl": "90s", "klarna_refresh_token_ttl": "10m"}`)
	tok := e.signIn("anna.schmidt@example.com")
	if tok["expires_in"] != float64(90) {
		t.Fatalf("expires_in %v, want 90", tok["expires_in"])
	}
	at := tok["access_token"].(string)
	e.advance(89 * time.Second)
	if _, ok := e.p.Recognise(at); !ok {
		t.Fatal("access token expired early")
	}
	e.advance(time.Second)
	if _, ok := e.p.Recognise(at); ok {
		t.Fatal("access token outlived klarna_access_token_ttl")
	}
	res, body := e.get("/klarna/login/eu/lp/idp/userinfo", nil)
	_ = body
	if res.StatusCode != 401 {
		t.Fatalf("userinfo without token: %d", res.StatusCode)
	}
	e.advance(10 * time.Minute)
	res, b := e.refresh(tok["refresh_token"].(string))
	wantOAuthError(t, "expired refresh token", res, b, 400, "invalid_grant", "The refresh token expired.")
	res, b = e.refresh("ory_rt_unknown.token")
	wantOAuthError(t, "unknown refresh token", res, b, 400, "invalid_grant", "malformed or not valid")
}

func TestUserinfo(t *testing.T) {
	e := newEnv(t, clientSecret)
	tok := e.signIn("mia.svensson@example.com")
	req, _ := http.NewRequest(http.MethodGet, e.url+"/klarna/login/eu/lp/idp/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	claims := decode(t, readBody(t, res))
	if res.StatusCode != 200 || claims["sub"] != klarnasignin.Identities[2].Sub || claims["email"] != "mia.svensson@example.com" || claims["given_name"] != "Mia" {
		t.Fatalf("userinfo: %d %v", res.StatusCode, claims)
	}
	if _, ok := claims["phone"]; ok {
		t.Error("userinfo released the phone without profile:phone")
	}
	req.Header.Set("Authorization", "Bearer ory_at_forged")
	res, _ = e.client.Do(req)
	body := decode(t, readBody(t, res))
	if res.StatusCode != 401 || body["error"] != "token_inactive" || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("userinfo with a forged token: %d %v", res.StatusCode, body)
	}
}

func TestRevokeEndsTheGrant(t *testing.T) {
	e := newEnv(t, clientSecret)
	tok := e.signIn("anna.schmidt@example.com")
	rt, at := tok["refresh_token"].(string), tok["access_token"].(string)
	res, body := e.postForm("/klarna/login/oauth2/revoke", url.Values{"token": {rt}}, false)
	wantOAuthError(t, "revoke without credentials", res, decode(t, body), 401, "invalid_client", "")
	res, _ = e.postForm("/klarna/login/oauth2/revoke", url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, true)
	if res.StatusCode != 200 {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if _, ok := e.p.Recognise(at); ok {
		t.Error("access token works after its grant was revoked")
	}
	r, b := e.refresh(rt)
	wantOAuthError(t, "refresh after revoke", r, b, 400, "invalid_grant", "malformed or not valid")
	// RFC 7009: an unknown token is not an error.
	if res, _ := e.postForm("/klarna/login/oauth2/revoke", url.Values{"token": {"ory_rt_unknown"}}, true); res.StatusCode != 200 {
		t.Fatalf("revoke unknown: %d", res.StatusCode)
	}
	if res, body := e.postForm("/klarna/login/oauth2/revoke", url.Values{}, true); res.StatusCode != 400 {
		t.Fatalf("revoke without token: %d %s", res.StatusCode, body)
	}
	if e.st.Calls("klarna.revoke") != 4 {
		t.Errorf("revoke calls %d", e.st.Calls("klarna.revoke"))
	}
}

func TestInjectedFaultsUseOAuthErrorsAndSpendNothing(t *testing.T) {
	e := newEnv(t, clientSecret)
	tok := e.signIn("anna.schmidt@example.com")
	res, err := http.Post(e.url+"/control/faults", "application/json", strings.NewReader(`{"operation": "klarna.token_refresh", "status": 503}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("fault: %v %v", err, res.StatusCode)
	}
	r, body := e.refresh(tok["refresh_token"].(string))
	wantOAuthError(t, "injected 503", r, body, 503, "temporarily_unavailable", "fault injected")
	// The failed call did not use the refresh token.
	if r, body := e.refresh(tok["refresh_token"].(string)); r.StatusCode != 200 {
		t.Fatalf("refresh after an injected 503: %d %v", r.StatusCode, body)
	}
}

func TestAutoConsentAndAnyEmail(t *testing.T) {
	e := newEnv(t, clientSecret)
	tok := e.signIn("New.Person@Example.com")
	claims := e.verifyIDToken(tok["id_token"].(string))
	again := e.verifyIDToken(e.signIn("new.person@example.com")["id_token"].(string))
	if claims["sub"] != again["sub"] || !strings.HasPrefix(claims["sub"].(string), "krn:kuid:") {
		t.Fatalf("sub not stable per email: %v %v", claims["sub"], again["sub"])
	}
	if claims["given_name"] != "New" || claims["family_name"] != "Person" {
		t.Errorf("names %v %v", claims["given_name"], claims["family_name"])
	}
	e.setting(`{"klarna_auto_consent": "not-an-email"}`)
	if res, _ := e.get("/klarna/login/eu/lp/idp/oauth2/auth", e.authParams()); res.StatusCode != 400 {
		t.Fatalf("auto consent with a bad email: %d", res.StatusCode)
	}
}

func TestResetForgetsTokens(t *testing.T) {
	e := newEnv(t, clientSecret)
	tok := e.signIn("anna.schmidt@example.com")
	e.st.Reset()
	if _, ok := e.p.Recognise(tok["access_token"].(string)); ok {
		t.Fatal("a token survived /control/reset")
	}
	ops := e.st.View().Operations
	sort.Strings(ops)
	for _, op := range []string{"klarna.authorize", "klarna.revoke", "klarna.token_code", "klarna.token_refresh", "klarna.userinfo"} {
		if sort.SearchStrings(ops, op) == len(ops) || ops[sort.SearchStrings(ops, op)] != op {
			t.Errorf("operation %s not declared", op)
		}
	}
}

func TestControlRevokeEndsAnIdentitysGrants(t *testing.T) {
	e := newEnv(t, clientSecret)
	a1 := e.signIn("anna.schmidt@example.com")
	a2 := e.signIn("anna.schmidt@example.com")
	j := e.signIn("jonas.weber@example.com")
	res, err := http.Post(e.url+"/control/klarna/login/revoke", "application/json", strings.NewReader(`{"email": "Anna.Schmidt@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	if body := decode(t, readBody(t, res)); res.StatusCode != 200 || body["revoked"] != float64(2) {
		t.Fatalf("control revoke: %d %v", res.StatusCode, body)
	}
	for _, tok := range []map[string]any{a1, a2} {
		if _, ok := e.p.Recognise(tok["access_token"].(string)); ok {
			t.Fatal("a revoked identity's access token still works")
		}
		r, b := e.refresh(tok["refresh_token"].(string))
		wantOAuthError(t, "refresh after control revoke", r, b, 400, "invalid_grant", "")
	}
	if _, ok := e.p.Recognise(j["access_token"].(string)); !ok {
		t.Fatal("another identity's grant was revoked")
	}
	res, _ = http.Post(e.url+"/control/klarna/login/revoke", "application/json", strings.NewReader(`{}`))
	if res.StatusCode != 400 {
		t.Fatalf("control revoke without email: %d", res.StatusCode)
	}
	res.Body.Close()
}

// The Klarna Payments part of the sandbox asks this one about
// customer.klarna_access_token: a valid token makes the widget skip its login.
func TestKlarnaPaymentsRecognisesTheAccessToken(t *testing.T) {
	e, _ := newSandboxEnv(t)
	u := e.url

	mode := func(accessToken string) string {
		t.Helper()
		body := `{"purchase_country":"DE","purchase_currency":"EUR","locale":"en-DE","order_amount":1800,"order_tax_amount":287,
			"order_lines":[{"name":"Mug","quantity":1,"unit_price":1800,"tax_rate":1900,"total_amount":1800,"total_tax_amount":287}]`
		if accessToken != "" {
			body += `,"customer":{"klarna_access_token":"` + accessToken + `"}`
		}
		req, _ := http.NewRequest(http.MethodPost, u+"/klarna/api/payments/v1/sessions", strings.NewReader(body+"}"))
		req.SetBasicAuth("PK_test", "api-key")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		s := decode(t, readBody(t, res))
		if res.StatusCode != 200 {
			t.Fatalf("create session: %d %v", res.StatusCode, s)
		}
		b, _ := json.Marshal(map[string]string{"client_token": s["client_token"].(string), "parent": shopURL})
		res, err = http.Post(u+"/klarna/payments/widget/"+s["session_id"].(string)+"/state", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		st := decode(t, readBody(t, res))
		m, _ := st["mode"].(string)
		return m
	}
	tok := e.signIn("anna.schmidt@example.com")
	if m := mode(tok["access_token"].(string)); m != "ready" {
		t.Fatalf("valid access token: widget %q, want ready", m)
	}
	if m := mode(""); m != "login" {
		t.Fatalf("no access token: widget %q, want login", m)
	}
	if m := mode("ory_at_forged.token"); m != "login" {
		t.Fatalf("forged access token: widget %q, want login", m)
	}
	e.advance(5 * time.Minute)
	if m := mode(tok["access_token"].(string)); m != "login" {
		t.Fatalf("expired access token: widget %q, want login", m)
	}
}
