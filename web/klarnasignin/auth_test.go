package klarnasignin_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"refshop/web/clock"
	"refshop/web/klarnasignin"
	"refshop/web/market"
	"refshop/web/secret"
)

// A client registered with client_secret_basic sends its credentials in an
// Authorization: Basic header (each part form-encoded first, RFC 6749 2.3.1)
// and never a client_secret in the form; one registered with
// client_secret_post sends client_id and client_secret in the form and no
// Authorization header. The same for the code exchange, a refresh and a
// revocation.
func TestTokenAuthIsTheRegisteredMethodForExchangeRefreshAndRevoke(t *testing.T) {
	const secretWithSpecials = "s3cret:with/plus+and=equals"
	wantBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte(
		url.QueryEscape(testClientID)+":"+url.QueryEscape(secretWithSpecials)))
	for _, method := range []string{klarnasignin.AuthBasic, klarnasignin.AuthPost} {
		t.Run(method, func(t *testing.T) {
			f := newFakeIdP(t)
			c := klarnasignin.New(klarnasignin.Config{
				Issuer: f.srv.URL, ClientID: testClientID, ClientSecret: secret.New(secretWithSpecials),
				RedirectURL: testRedirect, TokenAuth: method, Clock: clock.NewManual(testStart),
				Backoff: []time.Duration{time.Millisecond},
			})
			ctx := context.Background()
			ar, err := c.NewAuthRequest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, header string, form url.Values) {
				t.Helper()
				switch method {
				case klarnasignin.AuthBasic:
					if header != wantBasic {
						t.Errorf("%s: Authorization %q, want %q", what, header, wantBasic)
					}
					if form.Has("client_secret") {
						t.Errorf("%s: client_secret in the form of a client_secret_basic client", what)
					}
				case klarnasignin.AuthPost:
					if header != "" {
						t.Errorf("%s: Authorization header %q from a client_secret_post client", what, header)
					}
					if form.Get("client_id") != testClientID || form.Get("client_secret") != secretWithSpecials {
						t.Errorf("%s: form client_id %q client_secret %q", what, form.Get("client_id"), form.Get("client_secret"))
					}
				}
			}

			f.answer(answer{status: 200, body: codeResponse(t, f.idToken(testKey, jose.RS256, f.claims(ar.Nonce, documentedAccessToken)))})
			if _, _, err := c.Exchange(ctx, "ory_ac_code", ar.Verifier, ar.Nonce); err != nil {
				t.Fatal(err)
			}
			check("code exchange", f.tokenAuth[0], f.forms()[0])

			f.answer(answer{status: 200, body: refreshResponse(t, f.idToken(testKey, jose.RS256, f.refreshClaims("jwt-access-token")))})
			if _, err := c.Refresh(ctx, secret.New("rt"), testSub); err != nil {
				t.Fatal(err)
			}
			check("refresh", f.tokenAuth[0], f.forms()[0])

			if err := c.Revoke(ctx, secret.New("rt-to-revoke")); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			r := f.revokes[0]
			f.mu.Unlock()
			if r.PostForm.Get("token") != "rt-to-revoke" {
				t.Fatalf("revoked %q", r.PostForm.Get("token"))
			}
			check("revoke", r.Header.Get("Authorization"), r.PostForm)
		})
	}
}

// OpenID Connect Core 12.2: an ID token in a refresh answer must verify as
// the original did and name the same sub. One that does not is refused
// (InvalidIDToken, never a success and never "try again later"), and the
// refresh token the answer carried is revoked, so nothing can use the grant
// the shop gives up.
func TestRefreshRefusesAForgedOrMismatchedIDToken(t *testing.T) {
	f := newFakeIdP(t)
	c := newTestClient(f.srv.URL, clock.NewManual(testStart))
	good := func() map[string]any { return f.refreshClaims("jwt-access-token") }
	with := func(k string, v any) map[string]any { m := good(); m[k] = v; return m }
	refused := map[string]string{
		"forged (signed by a key not in the issuer's JWKS)": f.idToken(otherKey, jose.RS256, good()),
		"another issuer's":                       f.idToken(testKey, jose.RS256, with("iss", f.srv.URL+"/na/lp/idp")),
		"another audience":                       f.idToken(testKey, jose.RS256, with("aud", []string{"another-client"})),
		"a different sub":                        f.idToken(testKey, jose.RS256, with("sub", "krn:kuid:someone-else")),
		"expired":                                f.idToken(testKey, jose.RS256, with("exp", testStart.Add(-time.Second).Unix())),
		"at_hash of another":                     f.idToken(testKey, jose.RS256, with("at_hash", "AAAAAAAAAAAAAAAAAAAAAA")),
		"not a JWT at all":                       "jwt-id-token",
		"several audiences, azp not this client": f.idToken(testKey, jose.RS256, with("aud", []string{testClientID, "other"})),
	}
	for name, idt := range refused {
		t.Run(name, func(t *testing.T) {
			f.answer(answer{status: 200, body: refreshResponse(t, idt)})
			toks, err := c.Refresh(context.Background(), secret.New("rt-old"), testSub)
			if !klarnasignin.InvalidIDToken(err) || !toks.AccessToken.IsZero() {
				t.Fatalf("err = %v, tokens %v: want an invalid ID token and no tokens", err, toks.AccessToken.Reveal())
			}
			if klarnasignin.OutcomeUnknown(err) || klarnasignin.InvalidGrant(err) {
				t.Fatalf("err = %v is classified as another failure too", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.revoked) != 1 || f.revoked[0] != "opaque-refresh-token" {
				t.Fatalf("revoked %v, want the refresh token of the refused answer", f.revoked)
			}
		})
	}
	t.Run("the grant's own ID token is accepted", func(t *testing.T) {
		f.answer(answer{status: 200, body: refreshResponse(t, f.idToken(testKey, jose.RS256, good()))})
		if _, err := c.Refresh(context.Background(), secret.New("rt-old"), testSub); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an answer without an ID token is accepted (12.2: it might not contain one)", func(t *testing.T) {
		f.answer(answer{status: 200, body: refreshResponse(t, "")})
		if _, err := c.Refresh(context.Background(), secret.New("rt-old"), testSub); err != nil {
			t.Fatal(err)
		}
	})
}

// Klarna's OpenID Connect page: Europe's issuer is the login host, North
// America's is below it at /na/lp/idp.
func TestIssuerPerRegion(t *testing.T) {
	for _, tc := range []struct {
		login  string
		region market.Region
		want   string
	}{
		{"https://login.klarna.com", market.RegionEU, "https://login.klarna.com"},
		{"https://login.klarna.com", market.RegionNA, "https://login.klarna.com/na/lp/idp"},
		{"https://login.playground.klarna.com/", market.RegionEU, "https://login.playground.klarna.com"},
		{"https://login.playground.klarna.com/", market.RegionNA, "https://login.playground.klarna.com/na/lp/idp"},
		{"http://localhost:8081/klarna/login", market.RegionNA, "http://localhost:8081/klarna/login/na/lp/idp"},
	} {
		if got := klarnasignin.Issuer(tc.login, tc.region); got != tc.want {
			t.Errorf("Issuer(%q, %q) = %q, want %q", tc.login, tc.region, got, tc.want)
		}
	}
}
