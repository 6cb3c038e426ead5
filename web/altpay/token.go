package altpay

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"refshop/web/clock"
	"refshop/web/outbound"
	"refshop/web/secret"
)

// TokenSource holds the process's one OAuth access token (client
// credentials, POST /oauth/token with Basic auth) and renews it shortly
// before it expires. However many requests need a token at the same moment,
// one fetch runs and the others wait for it.
//
// golang.org/x/oauth2/clientcredentials does the exchange itself (Basic auth,
// the form body, the reply's expires_in as a number or a string). Its own
// cache, oauth2.ReuseTokenSource, also serialises fetches, but it judges expiry
// on the wall clock (an unexported time.Now) with a fixed 10 s margin, so a
// test cannot move its time. This cache does the same job on an injected
// clock: the expiry is now + expires_in on that clock, and waiters give up
// when their own context ends.
type TokenSource struct {
	c     *Client // its HTTP client, retry policy and log
	conf  clientcredentials.Config
	clock clock.Clock

	fetch chan struct{} // a one-slot semaphore: who holds it fetches

	mu      sync.Mutex
	token   secret.Secret
	renewAt time.Time
}

// renewMargin is how long before expiry a token is renewed: a minute, or a
// fifth of a short lifetime, so a request never leaves with a token about to
// lapse in flight.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(time.Minute, lifetime/5)
}

// noExpiry is how long a token without expires_in is kept. OAuth says such
// a token's lifetime is the server's business; refetching often is safe.
const noExpiry = time.Minute

func newTokenSource(c *Client, cfg Config) *TokenSource {
	return &TokenSource{
		c: c,
		conf: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret.Reveal(),
			TokenURL:     cfg.BaseURL + "/oauth/token",
			// The docs show Basic auth only. Auto-detection would retry a
			// refused request with the secret in the body.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		clock: cfg.Clock,
		fetch: make(chan struct{}, 1),
	}
}

// Token returns a valid access token, fetching one when none is cached or the
// cached one is due for renewal.
func (s *TokenSource) Token(ctx context.Context) (secret.Secret, error) {
	if t, ok := s.cached(); ok {
		return t, nil
	}
	select {
	case s.fetch <- struct{}{}:
	case <-ctx.Done():
		return secret.Secret{}, noAnswer(opToken, ctx.Err())
	}
	defer func() { <-s.fetch }()
	// Whoever held the slot before us may have fetched one already.
	if t, ok := s.cached(); ok {
		return t, nil
	}
	tok, lifetime, err := s.exchange(ctx)
	if err != nil {
		return secret.Secret{}, err
	}
	s.mu.Lock()
	s.token = tok
	s.renewAt = s.clock.Now().Add(lifetime - renewMargin(lifetime))
	renewAt := s.renewAt
	s.mu.Unlock()
	s.c.log.InfoContext(ctx, "altpay: OAuth token fetched; every call of this process shares it",
		"access_token", tok.Tag(), "lifetime", lifetime, "renew_after", renewAt)
	return tok, nil
}

func (s *TokenSource) cached() (secret.Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, !s.token.IsZero() && s.clock.Now().Before(s.renewAt)
}

// Invalidate drops tok when it is still the cached one: the API refused it
// (revoked, or expired early), so the next Token fetches a new one.
func (s *TokenSource) Invalidate(tok secret.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token.Reveal() == tok.Reveal() {
		s.token = secret.Secret{}
		s.c.log.Info("altpay: OAuth token dropped after the API refused it (401); the next call fetches a new one",
			"access_token", tok.Tag())
	}
}

// exchange runs the client-credentials exchange with bounded retries on
// network errors and 5xx answers.
func (s *TokenSource) exchange(ctx context.Context) (secret.Secret, time.Duration, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.c.hc)
	ctx = outbound.WithOp(ctx, outbound.Op{Provider: "altpay", Name: opToken, Path: "/oauth/token"})
	var t *oauth2.Token
	err := outbound.Retry(ctx, s.c.retry, func(ctx context.Context, attempt int) (bool, error) {
		var err error
		if t, err = s.conf.Token(ctx); err != nil {
			err = tokenError(err)
			return s.c.retryLater(ctx, opToken, attempt, err), err
		}
		return false, nil
	})
	if ie, ok := err.(*outbound.Interrupted); ok {
		return secret.Secret{}, 0, noAnswer(opToken, ie.Err)
	}
	if err != nil {
		return secret.Secret{}, 0, err
	}
	if t.AccessToken == "" {
		return secret.Secret{}, 0, &Error{Op: opToken, Kind: KindUnavailable, Message: "the reply has no access_token"}
	}
	return secret.New(t.AccessToken), lifetime(t), nil
}

// lifetime reads expires_in from the raw reply (a number, or a string as some
// providers send it), so the expiry is measured on our clock, not oauth2's.
func lifetime(t *oauth2.Token) time.Duration {
	var secs float64
	switch v := t.Extra("expires_in").(type) {
	case float64:
		secs = v
	case json.Number:
		secs, _ = v.Float64()
	case string:
		secs, _ = strconv.ParseFloat(v, 64)
	}
	if secs <= 0 {
		return noExpiry
	}
	return time.Duration(secs * float64(time.Second))
}

// opToken names the token exchange, as the sandbox does.
const opToken = "oauth_token"

// tokenError turns what oauth2 returns into an *Error: an error answer
// (RetrieveError: 403 "Invalid credentials" for wrong credentials), no answer,
// or a reply oauth2 could not read. The RetrieveError's text, which quotes the
// reply, is not kept.
func tokenError(err error) *Error {
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re) && re.Response != nil:
		return decodeError(opToken, re.Response.StatusCode, re.Response.Header, re.Body)
	case errors.As(err, &ue):
		return noAnswer(opToken, err)
	}
	return &Error{Op: opToken, Kind: KindUnavailable, Message: "unreadable reply", err: err}
}
