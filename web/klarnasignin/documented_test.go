package klarnasignin_test

// Tests of the client against the documented JSON examples in testdata,
// served verbatim by a fake identity provider (the ID token aside: the
// documented one is a placeholder, so the fake signs a real one).

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"refshop/web/clock"
	"refshop/web/klarnasignin"
	"refshop/web/secret"
)

const (
	testClientID     = "refshop-test-client"
	testClientSecret = "test-client-secret"
	testRedirect     = "http://shop.test/auth/klarna/callback"
)

var (
	testKey   = mustKey()
	otherKey  = mustKey()
	testStart = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
)

func mustKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// fakeIdP serves Klarna's documented discovery document (with its URLs
// pointed at itself), a JWKS, and scripted token answers.
type fakeIdP struct {
	t   *testing.T
	srv *httptest.Server
	kid string

	mu         sync.Mutex
	answers    []answer // next token endpoint answers; the last one repeats
	tokenForms []url.Values
	tokenAuth  []string // the Authorization header of each token request
	revoked    []string
	revokes    []*http.Request // each revocation request, its form parsed
	discovery  int             // discovery calls
	failDisc   int             // discovery calls still to fail with 503
	// authMethods, when set, replaces the discovery document's
	// token_endpoint_auth_methods_supported.
	authMethods []string
}

type answer struct {
	status int
	body   string
	delay  time.Duration
}

func newFakeIdP(t *testing.T) *fakeIdP {
	f := &fakeIdP{t: t, kid: "public:6b1f3b5e-2f7a-4c1e-9d1a-2b3c4d5e6f70"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.discovery++
		fail := f.failDisc > 0
		if fail {
			f.failDisc--
		}
		f.mu.Unlock()
		if fail {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		doc := strings.ReplaceAll(readFile(t, "testdata/discovery.json"), "https://login.klarna.com", f.srv.URL)
		if f.authMethods != nil {
			var m map[string]any
			if err := json.Unmarshal([]byte(doc), &m); err != nil {
				t.Error(err)
			}
			m["token_endpoint_auth_methods_supported"] = f.authMethods
			b, _ := json.Marshal(m)
			doc = string(b)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc))
	})
	mux.HandleFunc("GET /eu/lp/idp/.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &testKey.PublicKey, KeyID: f.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /eu/lp/idp/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.tokenForms = append(f.tokenForms, r.PostForm)
		f.tokenAuth = append(f.tokenAuth, r.Header.Get("Authorization"))
		a := f.answers[0]
		if len(f.answers) > 1 {
			f.answers = f.answers[1:]
		}
		f.mu.Unlock()
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	})
	mux.HandleFunc("GET /eu/lp/idp/userinfo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Header.Get("Authorization") {
		case "Bearer live-access-token":
			_, _ = w.Write([]byte(`{"sub":"krn:kuid:x"}`))
		case "Bearer klarna-down":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
		default: // Ory's answer for a token it does not accept
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"token_inactive","error_description":"Token is inactive because it is malformed, expired or otherwise invalid."}`))
		}
	})
	mux.HandleFunc("POST /oauth2/revoke", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.revoked = append(f.revoked, r.PostForm.Get("token"))
		f.revokes = append(f.revokes, r)
		f.mu.Unlock()
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) answer(a ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = a
	f.tokenForms = nil
	f.tokenAuth = nil
	f.revoked = nil
	f.revokes = nil
}

func (f *fakeIdP) forms() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values{}, f.tokenForms...)
}

// idToken signs claims with key (testKey unless the test wants a bad one).
func (f *fakeIdP) idToken(key *rsa.PrivateKey, alg jose.SignatureAlgorithm, claims map[string]any) string {
	var sk any = key
	if alg == jose.HS256 {
		sk = []byte("a shared secret that is long enough for HS256!!")
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: sk, KeyID: f.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		f.t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// testSub is the sub of the fake's identity: Klarna's example.
const testSub = "krn:kuid:5zzA3kBIfav9PyrAvzRukv"

// refreshClaims are the claims of an ID token in a refresh answer: the
// original's, without a nonce.
func (f *fakeIdP) refreshClaims(accessToken string) map[string]any {
	m := f.claims("", accessToken)
	delete(m, "nonce")
	return m
}

// refreshResponse is the documented refresh answer with idToken in place of
// the placeholder ("" leaves the id_token out).
func refreshResponse(t *testing.T, idToken string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(readFile(t, "testdata/token_refresh_response.json")), &m); err != nil {
		t.Fatal(err)
	}
	m["id_token"] = idToken
	if idToken == "" {
		delete(m, "id_token")
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (f *fakeIdP) claims(nonce, accessToken string) map[string]any {
	sum := sha256.Sum256([]byte(accessToken))
	return map[string]any{
		"iss": f.srv.URL, "sub": testSub, "aud": []string{testClientID},
		"exp": testStart.Add(time.Hour).Unix(), "iat": testStart.Unix(), "auth_time": testStart.Unix(),
		"nonce": nonce, "at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
		"email": "test-customer-se@klarna.com", "email_verified": true, "given_name": "Karl", "family_name": "Karlsson",
	}
}

// codeResponse is the documented code exchange answer with idToken in
// place of the placeholder.
func codeResponse(t *testing.T, idToken string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(readFile(t, "testdata/token_code_response.json")), &m); err != nil {
		t.Fatal(err)
	}
	m["id_token"] = idToken
	b, _ := json.Marshal(m)
	return string(b)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newTestClient is a client registered with client_secret_basic, the
// default.
func newTestClient(issuer string, c clock.Clock) *klarnasignin.Client {
	return newClientWith(issuer, c, "")
}

func newClientWith(issuer string, c clock.Clock, tokenAuth string) *klarnasignin.Client {
	return klarnasignin.New(klarnasignin.Config{
		Issuer: issuer, ClientID: testClientID, ClientSecret: secret.New(testClientSecret), RedirectURL: testRedirect, TokenAuth: tokenAuth,
		HTTP: &http.Client{Timeout: 5 * time.Second}, Clock: c, Backoff: []time.Duration{time.Millisecond, time.Millisecond},
	})
}

const documentedAccessToken = "ory_at_rZtxAHxrjVE3k2BhOg0F9aQ4EjkrC7EhhIvc7rRFRg0.oO0KaI3hxTEeqwtqVXnGqphYIG9thp3c2R7HH2alNZE"

func TestAuthRequestUsesDiscoveredEndpointAndS256(t *testing.T) {
	f := newFakeIdP(t)
	c := newTestClient(f.srv.URL, clock.NewManual(testStart))
	ar, err := c.NewAuthRequest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ar.URL)
	if u.Scheme+"://"+u.Host+u.Path != f.srv.URL+"/eu/lp/idp/oauth2/auth" {
		t.Fatalf("authorize URL %s is not the discovered endpoint", ar.URL)
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(ar.Verifier))
	want := map[string]string{
		"response_type": "code", "client_id": testClientID, "redirect_uri": testRedirect,
		"scope": "openid offline_access payment:request:create profile:name profile:email",
		"state": ar.State, "nonce": ar.Nonce,
		"code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]), "code_challenge_method": "S256",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if q.Has("code_verifier") || strings.Contains(ar.URL, ar.Verifier) {
		t.Fatal("the PKCE verifier left the shop")
	}
	if len(ar.State) < 16 || len(ar.Nonce) < 16 || len(ar.Verifier) < 43 {
		t.Fatalf("weak state/nonce/verifier: %q %q %q", ar.State, ar.Nonce, ar.Verifier)
	}
	ar2, _ := c.NewAuthRequest(context.Background())
	if ar2.State == ar.State || ar2.Nonce == ar.Nonce || ar2.Verifier == ar.Verifier {
		t.Fatal("two sign-ins share state, nonce or verifier")
	}
	if f.discovery != 1 {
		t.Fatalf("discovery fetched %d times, want once", f.discovery)
	}
}

func TestDiscoveryFailureIsRetriedOnTheNextCall(t *testing.T) {
	f := newFakeIdP(t)
	f.failDisc = 1
	c := newTestClient(f.srv.URL, clock.NewManual(testStart))
	if _, err := c.NewAuthRequest(context.Background()); err == nil {
		t.Fatal("no error when discovery failed")
	}
	if _, err := c.NewAuthRequest(context.Background()); err != nil {
		t.Fatalf("second try: %v", err)
	}
}

// A client registered with a method the issuer does not list in
// token_endpoint_auth_methods_supported would be refused at every token
// call (401 invalid_client): discovery fails at once, naming the setting.
func TestDiscoveryRefusesATokenAuthMethodTheIssuerDoesNotList(t *testing.T) {
	for _, tc := range []struct {
		method string
		listed []string
		ok     bool
	}{
		{klarnasignin.AuthBasic, []string{"client_secret_post"}, false},
		{klarnasignin.AuthPost, []string{"client_secret_basic", "none"}, false},
		{klarnasignin.AuthPost, []string{"client_secret_post"}, true},
		{klarnasignin.AuthBasic, []string{"client_secret_post", "client_secret_basic"}, true},
	} {
		f := newFakeIdP(t)
		f.authMethods = tc.listed
		_, err := newClientWith(f.srv.URL, clock.NewManual(testStart), tc.method).NewAuthRequest(context.Background())
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s with %v listed: %v", tc.method, tc.listed, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "KLARNA_TOKEN_AUTH") || !strings.Contains(err.Error(), tc.method)):
			t.Errorf("%s with %v listed: %v; want a discovery error naming KLARNA_TOKEN_AUTH and the method", tc.method, tc.listed, err)
		}
	}
}

func TestExchangeDocumentedResponse(t *testing.T) {
	f := newFakeIdP(t)
	now := clock.NewManual(testStart)
	c := newTestClient(f.srv.URL, now)
	ar, _ := c.NewAuthRequest(context.Background())
	f.answer(answer{status: 200, body: codeResponse(t, f.idToken(testKey, jose.RS256, f.claims(ar.Nonce, documentedAccessToken)))})

	id, toks, err := c.Exchange(context.Background(), "ory_ac_79aOXXm39rfMunrYXglwHZn3dseaMpGAb5b_kJB6WcE", ar.Verifier, ar.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	form := f.forms()[0]
	for k, v := range map[string]string{"grant_type": "authorization_code", "code": "ory_ac_79aOXXm39rfMunrYXglwHZn3dseaMpGAb5b_kJB6WcE",
		"code_verifier": ar.Verifier, "redirect_uri": testRedirect} {
		if form.Get(k) != v {
			t.Errorf("token request %s = %q, want %q", k, form.Get(k), v)
		}
	}
	if id.Sub != "krn:kuid:5zzA3kBIfav9PyrAvzRukv" || id.Email != "test-customer-se@klarna.com" || id.Name() != "Karl Karlsson" || !id.EmailVerified {
		t.Fatalf("identity %+v", id)
	}
	if toks.AccessToken.Reveal() != documentedAccessToken || toks.RefreshToken.Reveal() != "ory_rt_Cg-heIYDS-nhPh2N5KQppfMXr6Nj3EckzB2wXcWBKPw...." {
		t.Fatal("tokens not taken from the documented answer")
	}
	if !toks.AccessExpires.Equal(testStart.Add(300 * time.Second)) {
		t.Fatalf("access expires %v, want now+300s on the injected clock", toks.AccessExpires)
	}
}

func TestIDTokenVerificationFailuresAreRefused(t *testing.T) {
	f := newFakeIdP(t)
	c := newTestClient(f.srv.URL, clock.NewManual(testStart))
	ar, _ := c.NewAuthRequest(context.Background())
	good := func() map[string]any { return f.claims(ar.Nonce, documentedAccessToken) }
	with := func(k string, v any) map[string]any { m := good(); m[k] = v; return m }
	cases := map[string]string{
		"bad signature":    f.idToken(otherKey, jose.RS256, good()),
		"wrong audience":   f.idToken(testKey, jose.RS256, with("aud", []string{"another-client"})),
		"expired":          f.idToken(testKey, jose.RS256, with("exp", testStart.Add(-time.Second).Unix())),
		"wrong nonce":      f.idToken(testKey, jose.RS256, with("nonce", "not-the-nonce-we-sent")),
		"no nonce":         f.idToken(testKey, jose.RS256, with("nonce", "")),
		"wrong issuer":     f.idToken(testKey, jose.RS256, with("iss", "https://login.klarna.com")),
		"at_hash mismatch": f.idToken(testKey, jose.RS256, with("at_hash", "AAAAAAAAAAAAAAAAAAAAAA")),
		"HS256":            f.idToken(testKey, jose.HS256, good()),
		"azp other client": f.idToken(testKey, jose.RS256, with("aud", []string{testClientID, "other"})),
		"tampered payload": func() string {
			parts := strings.Split(f.idToken(testKey, jose.RS256, good()), ".")
			evil, _ := json.Marshal(with("sub", "krn:kuid:someone-else"))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(evil) + "." + parts[2]
		}(),
		"missing id_token": "",
	}
	for name, idt := range cases {
		t.Run(name, func(t *testing.T) {
			body := codeResponse(t, idt)
			if idt == "" {
				body = strings.Replace(body, `"id_token":"",`, "", 1)
			}
			f.answer(answer{status: 200, body: body})
			f.mu.Lock()
			f.revoked = nil
			f.mu.Unlock()
			_, _, err := c.Exchange(context.Background(), "ory_ac_code", ar.Verifier, ar.Nonce)
			if !klarnasignin.InvalidIDToken(err) {
				t.Fatalf("err = %v, want an invalid ID token", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.revoked) != 1 || f.revoked[0] != "ory_rt_Cg-heIYDS-nhPh2N5KQppfMXr6Nj3EckzB2wXcWBKPw...." {
				t.Fatalf("refused tokens were not revoked: %v", f.revoked)
			}
		})
	}
}

func TestRefreshDocumentedResponse(t *testing.T) {
	f := newFakeIdP(t)
	c := newTestClient(f.srv.URL, clock.NewManual(testStart))
	f.answer(answer{status: 200, body: refreshResponse(t, f.idToken(testKey, jose.RS256, f.refreshClaims("jwt-access-token")))})
	toks, err := c.Refresh(context.Background(), secret.New("my-old-refresh-token"), testSub)
	if err != nil {
		t.Fatal(err)
	}
	form := f.forms()[0]
	for k, v := range map[string]string{"grant_type": "refresh_token", "refresh_token": "my-old-refresh-token"} {
		if form.Get(k) != v {
			t.Errorf("refresh request %s = %q, want %q", k, form.Get(k), v)
		}
	}
	if toks.AccessToken.Reveal() != "jwt-access-token" || toks.RefreshToken.Reveal() != "opaque-refresh-token" ||
		!toks.AccessExpires.Equal(testStart.Add(299*time.Second)) {
		t.Fatalf("tokens %v %v %v", toks.AccessToken.Reveal(), toks.RefreshToken.Reveal(), toks.AccessExpires)
	}
	// token_type in any case; a refresh answer without a refresh token
	// keeps the old one (RFC 6749 6).
	f.answer(answer{status: 200, body: `{"access_token":"a2","expires_in":300,"token_type":"BEARER"}`})
	toks, err = c.Refresh(context.Background(), secret.New("still-valid"), testSub)
	if err != nil || toks.RefreshToken.Reveal() != "still-valid" {
		t.Fatalf("no new refresh token: %v %q", err, toks.RefreshToken.Reveal())
	}
}

// What a refresh error means for the grant.
type verdict int

const (
	success        verdict = iota
	invalidGrant           // Klarna ended the grant
	outcomeUnknown         // the token may be spent: never send it again
	keepsGrant             // another error: the token was not used
)

func verdictOf(err error) verdict {
	switch {
	case err == nil:
		return success
	case klarnasignin.InvalidGrant(err):
		return invalidGrant
	case klarnasignin.OutcomeUnknown(err):
		return outcomeUnknown
	}
	return keepsGrant
}

func TestRefreshErrorsAreClassified(t *testing.T) {
	f := newFakeIdP(t)
	c := newTestClient(f.srv.URL, clock.NewManual(testStart))
	ok := answer{status: 200, body: refreshResponse(t, f.idToken(testKey, jose.RS256, f.refreshClaims("jwt-access-token")))}
	cases := []struct {
		name    string
		answers []answer
		want    verdict
		calls   int
	}{
		{"reused (fosite 400 invalid_grant)", []answer{{status: 400, body: readFile(t, "testdata/refresh_reused_error.json")}}, invalidGrant, 1},
		{"reused (older fosite 401 token_inactive)", []answer{{status: 401, body: readFile(t, "testdata/refresh_inactive_error.json")}}, invalidGrant, 1},
		{"bad client credentials", []answer{{status: 401, body: readFile(t, "testdata/invalid_client_error.json")}}, keepsGrant, 1},
		{"503 then success", []answer{{status: 503, body: `{"error":"temporarily_unavailable"}`}, ok}, success, 2},
		{"500 three times", []answer{{status: 500, body: `{"error":"server_error"}`}}, keepsGrant, 3},
		{"502 may have passed on", []answer{{status: 502, body: `bad gateway`}, ok}, outcomeUnknown, 1},
		{"200 with another token type", []answer{{status: 200, body: `{"access_token":"a","token_type":"mac","expires_in":300,"refresh_token":"r"}`}}, outcomeUnknown, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.answer(tc.answers...)
			_, err := c.Refresh(context.Background(), secret.New("rt"), testSub)
			if got := verdictOf(err); got != tc.want {
				t.Fatalf("err = %v: verdict %d, want %d", err, got, tc.want)
			}
			var e *klarnasignin.Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("err = %v is not a *klarnasignin.Error", err)
			}
			if n := len(f.forms()); n != tc.calls {
				t.Fatalf("%d calls, want %d", n, tc.calls)
			}
		})
	}
	t.Run("timeout after sending", func(t *testing.T) {
		f.answer(answer{status: 200, body: ok.body, delay: 2 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Refresh(ctx, secret.New("rt"), testSub)
		if verdictOf(err) != outcomeUnknown || klarnasignin.StatusOf(err) != 0 || len(f.forms()) != 1 {
			t.Fatalf("err = %v after %d calls, want an unknown outcome after 1", err, len(f.forms()))
		}
	})
	t.Run("connection refused is retried", func(t *testing.T) {
		dead := newTestClient(f.srv.URL, clock.NewManual(testStart))
		if _, err := dead.NewAuthRequest(context.Background()); err != nil { // discover while the server is up
			t.Fatal(err)
		}
		f.srv.Close()
		_, err := dead.Refresh(context.Background(), secret.New("rt"), testSub)
		if verdictOf(err) != keepsGrant {
			t.Fatalf("err = %v, want a not-sent error", err)
		}
	})
}

// UserInfo tells an access token Klarna accepts from one it refuses (401
// token_inactive) from no verdict (a 503), and never puts the token in its
// error.
func TestUserInfoTellsWhetherKlarnaAcceptsTheAccessToken(t *testing.T) {
	f := newFakeIdP(t)
	c := newTestClient(f.srv.URL, clock.NewManual(testStart))
	ctx := context.Background()
	if err := c.UserInfo(ctx, secret.New("live-access-token")); err != nil {
		t.Errorf("a live token: %v", err)
	}
	err := c.UserInfo(ctx, secret.New("forgotten-access-token"))
	if !klarnasignin.TokenInactive(err) || strings.Contains(err.Error(), "forgotten-access-token") {
		t.Errorf("a token Klarna does not know: %v, want TokenInactive", err)
	}
	if err := c.UserInfo(ctx, secret.New("klarna-down")); err == nil || klarnasignin.TokenInactive(err) || klarnasignin.InvalidGrant(err) {
		t.Errorf("Klarna unavailable: %v, want an error that is no verdict", err)
	}
}
