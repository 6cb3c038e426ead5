// Package klarnasignin is the shop's Sign in with Klarna client: the OpenID
// Connect code flow (golang.org/x/oauth2) with state, nonce and an S256 PKCE
// challenge, ID token verification against the issuer's keys
// (github.com/coreos/go-oidc), refresh with single-use refresh tokens, and
// revocation. Package klarnasignin/grants keeps each account's tokens and
// hands out a fresh access token, which reaches Klarna Payments as
// customer.klarna_access_token (package klarna).
//
// # Issuers and discovery
//
// The client is given an issuer and reads every endpoint from the issuer's
// discovery document, never from constants: the issuer differs per region
// (Europe https://login.klarna.com, North America
// https://login.klarna.com/na/lp/idp, the test environment
// https://login.playground.klarna.com), and Klarna's pages and captured
// discovery documents show different token paths (/eu/lp/idp/oauth2/token and
// /oauth2/token). Klarna's pages name no North America test issuer, and do
// not say that PKCE is required; discovery advertises S256, which the client
// always sends. The revocation endpoint is known only from discovery.
//   - https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/openidconnect/
//
// # Client authentication
//
// Klarna registers a client for client_secret_basic (client id and secret in
// an Authorization: Basic header) or client_secret_post (both in the form,
// no Authorization header), and its token endpoint expects the registered
// method. This client always posts them in the form (a public client, with no
// secret, sends client_id alone); a client registered for
// client_secret_basic would be refused with invalid_client.
//   - https://docs.klarna.com/acquirer/klarna/sign-in-with-klarna/integrate-sign-in-with-klarna/openidconnect/
//
// # Tokens and lifetimes
//
// An access token lives about five minutes (expires_in is 300 in one sample,
// 299 in another) and is treated as opaque: only the ID token is verified. A
// refresh (grant_type=refresh_token, form-encoded) answers with new access,
// ID and refresh tokens, and the refresh token sent is dead from then on, so
// the new one must be stored before anything else. Klarna gives refresh
// tokens 60 days on one version of its page and 90 days by default on
// another; RefreshTokenTTL assumes the shorter. token_type is "bearer" in one
// sample and "Bearer" in the other. The shop asks for openid,
// offline_access (a refresh token), payment:request:create (to start Klarna
// Payments for the customer), profile:name and profile:email.
//   - https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/integrate-with-klarna-payments/
//   - https://docs.klarna.com/sign-in-with-klarna/additional-resources/other-operations
//
// # Errors and retries
//
// Token errors are OAuth 2.0 {error, error_description} answers, returned as
// *Error. Klarna does not document what happens when a used refresh token
// comes back. Its token server appears to be Ory Hydra (the tokens' ory_
// prefixes), which then revokes the whole grant and answers 400
// invalid_grant (older versions 401 token_inactive): both mean the customer
// must sign in again (InvalidGrant). The token endpoint takes no idempotency
// key, so a refresh whose answer was lost is never sent again
// (OutcomeUnknown); only failures that prove the token unused (no
// connection, 500, 503) are retried. An expired klarna_access_token does not
// fail a payment session: the widget asks the customer to log in instead.
//   - https://github.com/ory/fosite
package klarnasignin
