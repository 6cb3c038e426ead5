package klarnasignin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"refshop/web/clock"
	"refshop/web/outbound"
	"refshop/web/secret"
)

// Scopes the shop asks for: identity (openid, name, email), a refresh token
// (offline_access) and the right to start payments for the customer
// (payment:request:create, which passing the access token to Klarna
// Payments needs:
// https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/integrate-with-klarna-payments/).
var Scopes = []string{"openid", "offline_access", "payment:request:create", "profile:name", "profile:email"}

// RefreshTokenTTL is how long a refresh token lives. Klarna's page says 60
// days in one version and 90 days by default in another
// (https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/integrate-with-klarna-payments/);
// the token response does not say, so the shorter is assumed.
const RefreshTokenTTL = 60 * 24 * time.Hour

// Token endpoint authentication methods (OpenID Connect Core 9): a Klarna
// client is registered with one of them, and Klarna's token endpoint
// refuses the other.
const (
	AuthBasic = "client_secret_basic" // Authorization: Basic, the default
	AuthPost  = "client_secret_post"  // client_id and client_secret in the form
)

// Config is what the client needs.
type Config struct {
	Issuer       string // the region's OIDC issuer (Issuer)
	ClientID     string
	ClientSecret secret.Secret // empty for a public client
	// TokenAuth is the method the client is registered with (AuthBasic or
	// AuthPost; "" is AuthBasic), used at the token endpoint (code exchange
	// and refresh) and the revocation endpoint. A public client (no secret)
	// sends its client_id in the form.
	TokenAuth   string
	RedirectURL string       // SHOP_BASE_URL + "/auth/klarna/callback"
	HTTP        *http.Client // the shop's outbound client
	// Clock is the provider's time: token lifetimes and ID token expiry.
	Clock clock.Clock
	Log   *slog.Logger
	// Backoff is the wait before each retry of a token call that surely did
	// not use the code or refresh token; nil means 250ms then 1s.
	Backoff []time.Duration
}

// Client talks to Klarna's identity provider. Safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client

	mu   sync.Mutex
	disc *discovered
}

// discovered is what the discovery document yields.
type discovered struct {
	verifier      *oidc.IDTokenVerifier
	oauth         *oauth2.Config
	tokenPath     string
	revocationURL string
	userinfoURL   string
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = []time.Duration{250 * time.Millisecond, time.Second}
	}
	if cfg.TokenAuth == "" {
		cfg.TokenAuth = AuthBasic
	}
	base := cfg.HTTP
	if base == nil {
		base = http.DefaultClient
	}
	hc := *base
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = labelled{next: next}
	return &Client{cfg: cfg, http: &hc}
}

// Clock is the provider's time the client reads token lifetimes on; a keeper
// of the tokens ages them on the same clock.
func (c *Client) Clock() clock.Clock { return c.cfg.Clock }

// Issuer is the OIDC issuer the client signs in with: its identities and
// grants belong to it.
func (c *Client) Issuer() string { return c.cfg.Issuer }

// basic reports whether the client authenticates with client_secret_basic.
// A public client has no secret to send and always uses the form.
func (c *Client) basic() bool {
	return c.cfg.TokenAuth != AuthPost && !c.cfg.ClientSecret.IsZero()
}

// authMethod is the token endpoint authentication method the client uses,
// as discovery names it: "none" for a public client.
func (c *Client) authMethod() string {
	switch {
	case c.basic():
		return AuthBasic
	case c.cfg.ClientSecret.IsZero():
		return "none"
	}
	return AuthPost
}

// labelled names the calls go-oidc makes on its own (discovery, the JWKS)
// for the outbound log, which never logs a URL as sent.
type labelled struct{ next http.RoundTripper }

func (l labelled) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, ok := outbound.OpFrom(r.Context()); !ok {
		name := "jwks"
		if strings.HasSuffix(r.URL.Path, "/openid-configuration") {
			name = "discovery"
		}
		r = r.WithContext(outbound.WithOp(r.Context(), outbound.Op{Provider: "klarna", Name: name, Path: r.URL.Path}))
	}
	return l.next.RoundTrip(r)
}

// ctx carries the client's HTTP client for oauth2 and go-oidc, and the
// operation label for the log.
func (c *Client) ctx(ctx context.Context, name, path string) context.Context {
	ctx = oidc.ClientContext(ctx, c.http)
	return outbound.WithOp(ctx, outbound.Op{Provider: "klarna", Name: name, Path: path})
}

// discover reads the issuer's discovery document once; a failure is
// retried on the next call. The sandbox answers discovery at
// <issuer>/.well-known/openid-configuration like Klarna.
func (c *Client) discover(ctx context.Context) (*discovered, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.disc != nil {
		return c.disc, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.http), c.cfg.Issuer)
	if err != nil {
		return nil, &Error{Op: opDiscovery, err: fmt.Errorf("at %s: %w", c.cfg.Issuer, err)}
	}
	var extra struct {
		RevocationEndpoint string   `json:"revocation_endpoint"`
		UserinfoEndpoint   string   `json:"userinfo_endpoint"`
		AuthMethods        []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := p.Claims(&extra); err != nil {
		return nil, &Error{Op: opDiscovery, err: fmt.Errorf("discovery document: %w", err)}
	}
	// The registered method must be one the issuer takes, or every token
	// call is refused with 401 invalid_client: say so now, naming the
	// setting. A document that lists none is not checked (OpenID Connect
	// Discovery 1.0 makes client_secret_basic the default then, and
	// Klarna's documents list them).
	if m := c.authMethod(); len(extra.AuthMethods) > 0 && !slices.Contains(extra.AuthMethods, m) {
		return nil, &Error{Op: opDiscovery, err: fmt.Errorf("the issuer's token endpoint takes %s, not %s: set KLARNA_TOKEN_AUTH to the method the client is registered with",
			strings.Join(extra.AuthMethods, ", "), m)}
	}
	ep := p.Endpoint()
	// The registered method only: Klarna's token endpoint refuses the other
	// with 401 invalid_client (see the package documentation).
	// AuthStyleInHeader form-encodes client_id and client_secret before the
	// Basic header's base64, as RFC 6749 2.3.1 says and Ory decodes them.
	ep.AuthStyle = oauth2.AuthStyleInParams
	if c.basic() {
		ep.AuthStyle = oauth2.AuthStyleInHeader
	}
	tu, err := url.Parse(ep.TokenURL)
	if err != nil || ep.TokenURL == "" || ep.AuthURL == "" {
		return nil, &Error{Op: opDiscovery, err: errors.New("the discovery document lacks usable authorization or token endpoints")}
	}
	c.disc = &discovered{
		verifier: p.Verifier(&oidc.Config{
			ClientID:             c.cfg.ClientID,
			Now:                  c.cfg.Clock.Now,
			SupportedSigningAlgs: []string{oidc.RS256},
		}),
		oauth: &oauth2.Config{
			ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret.Reveal(),
			Endpoint: ep, RedirectURL: c.cfg.RedirectURL, Scopes: Scopes,
		},
		tokenPath:     tu.Path,
		revocationURL: extra.RevocationEndpoint,
		userinfoURL:   extra.UserinfoEndpoint,
	}
	return c.disc, nil
}

// AuthRequest is one sign-in in progress: the shop keeps State, Nonce and
// Verifier in the customer's session and sends the browser to URL.
type AuthRequest struct {
	State    string
	Nonce    string
	Verifier string // PKCE code_verifier; only its S256 challenge leaves the shop
	URL      string
}

// NewAuthRequest starts a sign-in: fresh state, nonce and PKCE verifier, and
// the authorization URL (code flow, S256).
func (c *Client) NewAuthRequest(ctx context.Context) (AuthRequest, error) {
	d, err := c.discover(ctx)
	if err != nil {
		return AuthRequest{}, err
	}
	ar := AuthRequest{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier()}
	ar.URL = d.oauth.AuthCodeURL(ar.State, oauth2.S256ChallengeOption(ar.Verifier), oidc.Nonce(ar.Nonce))
	return ar, nil
}

// Identity is who signed in, from the verified ID token.
type Identity struct {
	Sub           string
	Email         string
	EmailVerified bool
	GivenName     string
	FamilyName    string
}

// Name is the full name.
func (i Identity) Name() string { return strings.TrimSpace(i.GivenName + " " + i.FamilyName) }

// Tokens are what a token call returned, with expiries on the provider clock.
type Tokens struct {
	AccessToken   secret.Secret
	AccessExpires time.Time
	RefreshToken  secret.Secret // zero when none was issued
	Scope         string
}

// Exchange trades the callback's code for tokens (with the PKCE verifier) and
// verifies the ID token: signature against the issuer's JWKS, issuer,
// audience, expiry, the nonce sent with the authorization request, and the
// access token hash. Tokens whose ID token fails verification are revoked
// and not returned.
func (c *Client) Exchange(ctx context.Context, code, verifier, nonce string) (Identity, Tokens, error) {
	d, err := c.discover(ctx)
	if err != nil {
		return Identity{}, Tokens{}, err
	}
	var tok *oauth2.Token
	err = c.retry(ctx, func(ctx context.Context) error {
		var err error
		tok, err = d.oauth.Exchange(c.ctx(ctx, opCode, d.tokenPath), code, oauth2.VerifierOption(verifier))
		return err
	})
	if err != nil {
		return Identity{}, Tokens{}, classify(opCode, err)
	}
	toks, err := c.tokens(opCode, tok, nil)
	if err != nil {
		return Identity{}, Tokens{}, err
	}
	id, err := c.verify(ctx, d, tok, nonce, toks.AccessToken.Reveal())
	if err != nil {
		if !toks.RefreshToken.IsZero() {
			if rerr := c.Revoke(ctx, toks.RefreshToken); rerr != nil {
				c.cfg.Log.Warn("klarnasignin: revoking tokens with an unverified ID token", "error", rerr)
			}
		}
		return Identity{}, Tokens{}, err
	}
	return id, toks, nil
}

// verify checks the ID token of a code exchange: signature against the
// issuer's JWKS, issuer, audience, expiry, the nonce of the authorization
// request, and at_hash.
func (c *Client) verify(ctx context.Context, d *discovered, tok *oauth2.Token, nonce, accessToken string) (Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, refuse(opCode, badIDToken, http.StatusOK, "the token response has no id_token")
	}
	idt, err := c.verifyIDToken(ctx, d, opCode, raw, accessToken)
	if err != nil {
		return Identity{}, err
	}
	if nonce == "" || idt.Nonce != nonce {
		return Identity{}, refuse(opCode, badIDToken, http.StatusOK, "nonce does not match the authorization request")
	}
	var cl struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		GivenName     string `json:"given_name"`
		FamilyName    string `json:"family_name"`
	}
	if err := idt.Claims(&cl); err != nil {
		return Identity{}, refuse(opCode, badIDToken, http.StatusOK, "claims: %v", err)
	}
	return Identity{Sub: idt.Subject, Email: cl.Email, EmailVerified: cl.EmailVerified, GivenName: cl.GivenName, FamilyName: cl.FamilyName}, nil
}

// verifyIDToken checks what every ID token must pass, from a code exchange
// or a refresh (OIDC Core 3.1.3.7): signed (RS256) by a key in this issuer's
// JWKS, iss this issuer, aud naming this client (and azp this client when
// there are several audiences), not expired, a sub, and at_hash matching the
// access token it came with, when present.
func (c *Client) verifyIDToken(ctx context.Context, d *discovered, op, raw, accessToken string) (*oidc.IDToken, error) {
	idt, err := d.verifier.Verify(oidc.ClientContext(ctx, c.http), raw)
	if err != nil && keyFetchFailed(err) {
		return nil, refuse(op, keysUnavailable, http.StatusOK, "%v", err)
	}
	if err != nil {
		return nil, refuse(op, badIDToken, http.StatusOK, "%v", err)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return nil, refuse(op, badIDToken, http.StatusOK, "at_hash: %v", err)
		}
	}
	var cl struct {
		AZP string `json:"azp"`
	}
	if err := idt.Claims(&cl); err != nil {
		return nil, refuse(op, badIDToken, http.StatusOK, "claims: %v", err)
	}
	if len(idt.Audience) > 1 && cl.AZP != c.cfg.ClientID {
		return nil, refuse(op, badIDToken, http.StatusOK, "several audiences and azp %q is not this client", cl.AZP)
	}
	if idt.Subject == "" {
		return nil, refuse(op, badIDToken, http.StatusOK, "no sub")
	}
	return idt, nil
}

// keyFetchFailed reports whether go-oidc's Verify failed because it could
// not fetch the issuer's JWKS (a network error, a non-200 answer, an
// unreadable key set, or the context ending while it waited), not because
// the token is bad. go-oidc reports both the same way, as text: its
// RemoteKeySet answers "fetching keys <cause>" when the token's key is not
// cached and the fetch fails (oidc/jwks.go, v3.21.0), and Verify wraps that
// with %v, so no error value survives to compare. A token signed by a key
// the issuer does not list fails after a successful fetch, with "failed to
// verify id token signature", and is refused as before. The test
// TestRefreshWhileTheJWKSFailsKeepsTheGrant pins the text against the
// go-oidc in go.mod.
func keyFetchFailed(err error) bool { return strings.Contains(err.Error(), "fetching keys") }

// tokens checks a token response and converts it. previous is the refresh
// token that was used, kept when the answer carries no new one (RFC 6749 6:
// the old one then stays valid).
func (c *Client) tokens(op string, tok *oauth2.Token, previous *secret.Secret) (Tokens, error) {
	// token_type: Klarna's samples write both "bearer" and "Bearer", and OAuth
	// 2.0 makes the value case-insensitive (RFC 6749 section 5.1).
	if !strings.EqualFold(tok.TokenType, "bearer") {
		return Tokens{}, refuse(op, badTokens, http.StatusOK, "token_type %q is not Bearer", tok.TokenType)
	}
	// expires_in: 300 in one sample, 299 in the other; 0 would mean "not
	// said", and Klarna says "about five minutes".
	life := time.Duration(tok.ExpiresIn) * time.Second
	if life <= 0 {
		life = 5 * time.Minute
	}
	now := c.cfg.Clock.Now()
	t := Tokens{AccessToken: secret.New(tok.AccessToken), AccessExpires: now.Add(life), RefreshToken: secret.New(tok.RefreshToken)}
	if t.RefreshToken.IsZero() && previous != nil {
		t.RefreshToken = *previous
	}
	if s, ok := tok.Extra("scope").(string); ok {
		t.Scope = s
	}
	return t, nil
}

// Refresh spends refreshToken, of the grant whose ID token named sub, for
// new tokens (grant_type=refresh_token, the client authenticated with its
// registered method). The refresh token is single use: after a nil error
// only the returned one works.
//
// Klarna's refresh answer carries an ID token. It is verified as OpenID
// Connect Core 12.2 requires: signature against this issuer's JWKS, the
// same issuer and this client as audience (the same as the original's: one
// client, one issuer), not expired, and the same sub as the grant's. An
// answer without an ID token is accepted (12.2: it "might not contain" one).
// One that fails is refused with an error InvalidIDToken reports: Klarna
// spent the old refresh token, so the new one is revoked at once (best
// effort) and the grant is over; the caller asks the customer to sign in
// again.
//
// An ID token that cannot be checked because the issuer's JWKS could not
// be fetched (IDTokenUnchecked) is not a bad one: the new tokens are
// returned with that error, not revoked. Klarna issued them and spent the
// old refresh token, so dropping them would end a good grant over a failure
// of the moment. They came straight from the token endpoint, over TLS, in
// exchange for the refresh token and the client's credentials: as far as
// they go, the same trust as an answer without an ID token, which 12.2
// allows. The caller keeps them and uses none of the unchecked ID token's
// claims (the grant's identity stays what the sign-in's verified ID token
// said); the next refresh's ID token is checked again.
//
// Errors, all *Error: InvalidGrant (Klarna ended the grant: 400
// invalid_grant or 401 token_inactive; never retry), InvalidIDToken (see
// above), IDTokenUnchecked (see above: the only error with tokens), OutcomeUnknown (the request may have reached Klarna and used the
// token: sending it again would look like reuse and revoke the grant),
// anything else (the token was not used: a later refresh may try again).
// Retries happen here, only where the token is surely unused: connection
// refused before sending, 500 and 503.
func (c *Client) Refresh(ctx context.Context, refreshToken secret.Secret, sub string) (Tokens, error) {
	d, err := c.discover(ctx)
	if err != nil {
		return Tokens{}, err
	}
	var tok *oauth2.Token
	err = c.retry(ctx, func(ctx context.Context) error {
		// A fresh token source per try: its only job is the one refresh call.
		src := d.oauth.TokenSource(c.ctx(ctx, opRefresh, d.tokenPath), &oauth2.Token{RefreshToken: refreshToken.Reveal()})
		var err error
		tok, err = src.Token()
		return err
	})
	if err != nil {
		return Tokens{}, classify(opRefresh, err)
	}
	// An error here: Klarna answered 200, so the old token is spent, and the
	// answer is unusable (OutcomeUnknown).
	toks, err := c.tokens(opRefresh, tok, &refreshToken)
	if err != nil {
		return Tokens{}, err
	}
	if err := c.verifyRefreshed(ctx, d, tok, sub, toks.AccessToken.Reveal()); err != nil {
		if IDTokenUnchecked(err) {
			return toks, err
		}
		if rt := toks.RefreshToken; !rt.IsZero() && rt.Reveal() != refreshToken.Reveal() {
			if rerr := c.Revoke(ctx, rt); rerr != nil {
				c.cfg.Log.Warn("klarnasignin: revoking tokens refreshed with an unverified ID token", "error", rerr)
			}
		}
		return Tokens{}, err
	}
	return toks, nil
}

// verifyRefreshed checks the ID token of a refresh answer, if it has one
// (OIDC Core 12.2; see Refresh).
func (c *Client) verifyRefreshed(ctx context.Context, d *discovered, tok *oauth2.Token, sub, accessToken string) error {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil
	}
	idt, err := c.verifyIDToken(ctx, d, opRefresh, raw, accessToken)
	if err != nil {
		return err
	}
	if sub == "" || idt.Subject != sub {
		return refuse(opRefresh, badIDToken, http.StatusOK, "sub is not the grant's (OIDC Core 12.2)")
	}
	return nil
}

// Revoke revokes a refresh token (RFC 7009), which ends its grant at Klarna.
// The client authenticates as at the token endpoint, with its registered
// method.
func (c *Client) Revoke(ctx context.Context, token secret.Secret) error {
	form := url.Values{"token": {token.Reveal()}, "token_type_hint": {"refresh_token"}}
	if !c.basic() {
		form.Set("client_id", c.cfg.ClientID)
		if !c.cfg.ClientSecret.IsZero() {
			form.Set("client_secret", c.cfg.ClientSecret.Reveal())
		}
	}
	return c.call(ctx, opRevoke, "revocation_endpoint", func(d *discovered) string { return d.revocationURL },
		func(ctx context.Context, target string) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if c.basic() {
					// RFC 6749 2.3.1: each part form-encoded, then Basic.
					req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret.Reveal()))
				}
			}
			return req, err
		})
}

// UserInfo asks Klarna's userinfo endpoint whether it accepts accessToken
// now: nil when it does, an error TokenInactive reports when it does not
// (revoked, expired, or a grant Klarna no longer knows), any other error when
// Klarna could not say. The claims are not needed: the ID token gave them.
func (c *Client) UserInfo(ctx context.Context, accessToken secret.Secret) error {
	return c.call(ctx, opUserinfo, "userinfo_endpoint", func(d *discovered) string { return d.userinfoURL },
		func(ctx context.Context, target string) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err == nil {
				req.Header.Set("Authorization", "Bearer "+accessToken.Reveal())
			}
			return req, err
		})
}

// call makes op's request (newReq) to the discovered endpoint (named
// endpoint in the discovery document), retried as retry allows; any answer
// but 200 is read as an OAuth 2.0 error.
func (c *Client) call(ctx context.Context, op, endpoint string, target func(*discovered) string,
	newReq func(ctx context.Context, target string) (*http.Request, error)) error {
	d, err := c.discover(ctx)
	if err != nil {
		return err
	}
	t := target(d)
	if t == "" {
		return &Error{Op: op, err: errors.New("the discovery document names no " + endpoint)}
	}
	u, _ := url.Parse(t)
	return classify(op, c.retry(ctx, func(ctx context.Context) error {
		req, err := newReq(c.ctx(ctx, op, u.Path), t)
		if err != nil {
			return err
		}
		res, err := c.http.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode == http.StatusOK {
			// The answer is not needed, but reading it lets the connection
			// be reused, and the recorded exchange shows what came.
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
			return nil
		}
		return readError(op, res)
	}))
}

// maxDrain is the most of an unneeded answer call reads before closing it.
const maxDrain = 64 << 10

// retry runs call, again after each backoff while it fails in a way that
// surely left the code or token unused: the connection was never made, or
// the server answered 500 or 503 (fosite rolls its transaction back on a
// server error). A 502 or 504 comes from a proxy that may have passed the
// request on, and a timeout may fall after Klarna acted: neither is retried.
//
// call gets ctx marked as one call (outbound.NewCall) and must make its
// request with it, so the recorder numbers the tries.
func (c *Client) retry(ctx context.Context, call func(ctx context.Context) error) error {
	callCtx := outbound.NewCall(ctx)
	for attempt := 0; ; attempt++ {
		err := call(callCtx)
		if err == nil || attempt >= len(c.cfg.Backoff) || !unsent(err) {
			return err
		}
		if outbound.Sleep(ctx, c.cfg.Backoff[attempt]) != nil {
			return err
		}
	}
}

// unsent reports whether err proves the request did not use the token.
func unsent(err error) bool {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode == http.StatusInternalServerError || re.Response.StatusCode == http.StatusServiceUnavailable
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status == http.StatusInternalServerError || e.Status == http.StatusServiceUnavailable
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
