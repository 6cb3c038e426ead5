package grants_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"refshop/web/klarnasignin"
	"refshop/web/klarnasignin/grants"
	"refshop/web/secret"
)

// forger stands between the shop and the sandbox and, on a refresh, swaps
// the answer's ID token for one change makes from its claims, signed with
// key (kid "forger"): a test double for a token endpoint (or an attacker on
// the path) that answers an ID token the shop must refuse. With trusted,
// the issuer's JWKS the shop fetches lists key too, so the signature
// verifies and only the changed claim is wrong.
type forger struct {
	next    http.RoundTripper
	key     *rsa.PrivateKey
	trusted bool
	change  func(claims map[string]any)
}

func (f forger) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.trusted && strings.HasSuffix(r.URL.Path, "/jwks.json") {
		res, err := f.next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		var set jose.JSONWebKeySet
		err = json.NewDecoder(res.Body).Decode(&set)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &f.key.PublicKey, KeyID: "forger", Algorithm: "RS256", Use: "sig"})
		return replaceBody(res, set)
	}
	refresh := false
	if r.Body != nil && strings.HasSuffix(r.URL.Path, "/oauth2/token") {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		refresh = strings.Contains(string(b), "grant_type=refresh_token")
	}
	res, err := f.next.RoundTrip(r)
	if err != nil || !refresh || res.StatusCode != http.StatusOK {
		return res, err
	}
	var body map[string]any
	err = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	tok, err := jwt.ParseSigned(body["id_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, err
	}
	claims := map[string]any{}
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return nil, err
	}
	f.change(claims)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256,
		Key: jose.JSONWebKey{Key: f.key, KeyID: "forger"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	if body["id_token"], err = jwt.Signed(signer).Claims(claims).Serialize(); err != nil {
		return nil, err
	}
	return replaceBody(res, body)
}

func replaceBody(res *http.Response, v any) (*http.Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	res.ContentLength = int64(len(b))
	res.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return res, nil
}

// A refresh whose answer carries an ID token the shop must refuse (OpenID
// Connect Core 12.2) does not rotate the grant into a bad state: nothing
// from the answer is stored, the grant is marked dead (its old refresh
// token is spent at Klarna, its new one was revoked), the customer is asked
// to sign in again, and no second refresh is sent.
func TestRefreshWithAnIDTokenThatFailsVerificationEndsTheGrant(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]forger{
		"forged: signed by a key not in the issuer's JWKS": {change: func(map[string]any) {}},
		"a different sub":  {trusted: true, change: func(c map[string]any) { c["sub"] = "krn:kuid:someone-else" }},
		"another issuer's": {trusted: true, change: func(c map[string]any) { c["iss"] = c["iss"].(string) + klarnasignin.RegionPath }},
		"another audience": {trusted: true, change: func(c map[string]any) { c["aud"] = []string{"another-client"} }},
	}
	for name, fg := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			uid, first := w.signIn("anna.schmidt@example.com")
			storedBefore := w.storedRefresh(uid)
			fg.key = key
			fg.next = http.DefaultTransport
			c := klarnasignin.New(klarnasignin.Config{
				Issuer: w.issuer(), ClientID: testClientID, ClientSecret: secret.New(testClientSecret),
				RedirectURL: "http://shop.test/auth/klarna/callback", Clock: w.sb.State.Clock,
				HTTP: &http.Client{Timeout: 5 * time.Second, Transport: fg},
			})
			keeper := grants.New(grants.Config{Client: c, Store: w.store, Box: w.box, Wall: w.wall})
			w.sb.State.Clock.Advance(6 * time.Minute)

			w.grants = keeper
			w.wantSignInAgain(uid, "refresh answered with a bad ID token")
			w.wantRefreshes(1, "")
			if s := w.storedRefresh(uid); s != "" || s == storedBefore {
				t.Fatalf("stored refresh token %q after the refused refresh, want none", s)
			}
			st, err := keeper.Status(context.Background(), uid)
			if err != nil || !st.Connected || !st.SignInAgain {
				t.Fatalf("status %+v %v, want connected and sign-in-again", st, err)
			}
			// The old refresh token was spent, and the new one revoked: the
			// sandbox ended the grant, so its first access token is dead too.
			if w.calls("klarna.revoke") != 1 {
				t.Fatalf("%d revocations, want the refused answer's refresh token revoked", w.calls("klarna.revoke"))
			}
			if _, err := w.client.Refresh(context.Background(), first.RefreshToken, w.sub(uid)); !klarnasignin.InvalidGrant(err) {
				t.Fatalf("the spent refresh token: %v, want invalid_grant", err)
			}
			w.wantSignInAgain(uid, "again")
		})
	}
}

// The control for the test above: the same double, re-signing the sandbox's
// ID token unchanged with a key the JWKS lists, is accepted and rotates the
// grant, so the refusals above are the changed claims' doing.
func TestRefreshThroughTheForgerUnchangedIsAccepted(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	uid, first := w.signIn("anna.schmidt@example.com")
	c := klarnasignin.New(klarnasignin.Config{
		Issuer: w.issuer(), ClientID: testClientID, ClientSecret: secret.New(testClientSecret),
		RedirectURL: "http://shop.test/auth/klarna/callback", Clock: w.sb.State.Clock,
		HTTP: &http.Client{Timeout: 5 * time.Second, Transport: forger{next: http.DefaultTransport, key: key, trusted: true,
			change: func(map[string]any) {}}},
	})
	w.grants = grants.New(grants.Config{Client: c, Store: w.store, Box: w.box, Wall: w.wall})
	w.sb.State.Clock.Advance(6 * time.Minute)
	at, err := w.grants.AccessToken(context.Background(), uid)
	if err != nil || !w.recognised(at) {
		t.Fatalf("refresh through the unchanged double: %v", err)
	}
	if s := w.storedRefresh(uid); s == "" || s == first.RefreshToken.Reveal() {
		t.Fatal("the grant was not rotated")
	}
}

// failingJWKS answers the first fails fetches of the issuer's JWKS with 503
// and passes everything else on: a key endpoint that is down for a moment.
type failingJWKS struct {
	next  http.RoundTripper
	fails *atomic.Int32
}

func (f failingJWKS) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/jwks.json") && f.fails.Add(-1) >= 0 {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Proto: "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("down")), Request: r}, nil
	}
	return f.next.RoundTrip(r)
}

// A refresh whose ID token cannot be checked because the issuer's JWKS
// could not be fetched (here: once) says nothing against the token. Klarna
// spent the old refresh token and issued new ones: the grant must not end.
// The new tokens are stored and the access token used, nothing is revoked,
// and the next refresh, with the keys back, checks its ID token as ever.
func TestRefreshWhileTheJWKSFailsKeepsTheGrant(t *testing.T) {
	w := newWorld(t)
	uid, first := w.signIn("anna.schmidt@example.com")
	fails := &atomic.Int32{}
	fails.Store(1)
	c := klarnasignin.New(klarnasignin.Config{
		Issuer: w.issuer(), ClientID: testClientID, ClientSecret: secret.New(testClientSecret),
		RedirectURL: "http://shop.test/auth/klarna/callback", Clock: w.sb.State.Clock,
		HTTP: &http.Client{Timeout: 5 * time.Second, Transport: failingJWKS{next: http.DefaultTransport, fails: fails}},
	})
	w.grants = grants.New(grants.Config{Client: c, Store: w.store, Box: w.box, Wall: w.wall})
	w.sb.State.Clock.Advance(6 * time.Minute)

	at, err := w.grants.AccessToken(context.Background(), uid)
	if err != nil || !w.recognised(at) {
		t.Fatalf("refresh while the JWKS failed: %v; want the new access token", err)
	}
	if fails.Load() == 1 {
		t.Fatal("the JWKS was not asked: the test did not test anything")
	}
	if n := w.calls("klarna.revoke"); n != 0 {
		t.Errorf("%d revocations, want none: the new tokens are good", n)
	}
	second := w.storedRefresh(uid)
	if second == "" || second == first.RefreshToken.Reveal() {
		t.Fatalf("stored refresh token %q, want the new one", second)
	}
	if st, err := w.grants.Status(context.Background(), uid); err != nil || !st.Connected || st.SignInAgain {
		t.Fatalf("status %+v %v, want connected", st, err)
	}

	w.sb.State.Clock.Advance(6 * time.Minute) // the keys answer again
	if at, err := w.grants.AccessToken(context.Background(), uid); err != nil || !w.recognised(at) {
		t.Fatalf("the next refresh: %v", err)
	}
	if s := w.storedRefresh(uid); s == "" || s == second {
		t.Fatal("the grant was not rotated by the next refresh")
	}
	w.wantRefreshes(2, "one per expiry")
}
