// Package klarnasignin is the shop's Sign in with Klarna client: the OpenID
// Connect code flow (golang.org/x/oauth2) with state, nonce and an S256 PKCE
// challenge, ID token verification against the issuer's keys
// (github.com/coreos/go-oidc), refresh with single-use refresh tokens and a
// verified ID token, and revocation. A Client serves one region's issuer. Package klarnasignin/grants keeps each account's tokens and
// hands out a fresh access token, which reaches Klarna Payments as
// customer.klarna_access_token (package klarna).
//
// # Issuers and discovery
//
// Klarna's regions are separate, each with its own issuer. Klarna's OpenID
// Connect page names them: Europe https://login.klarna.com, North America
// https://login.klarna.com/na/lp/idp; on the test environment (playground)
// https://login.playground.klarna.com and
// https://login.playground.klarna.com/na/lp/idp. Europe's issuer is the login
// host itself, although its discovery document names endpoints below
// /eu/lp/idp; Issuer maps KLARNA_LOGIN_URL and a region to the issuer. (One
// copy of the "integrate with Klarna payments" page lists the North
// American playground token URL as .../eu/lp/idp/oauth2/token, which reads
// as a typo: the client never builds endpoint URLs, it reads them from the
// issuer's discovery document.) Klarna's pages and captured discovery
// documents show different token paths (/eu/lp/idp/oauth2/token and
// /oauth2/token); the revocation endpoint is known only from discovery. A
// North American discovery document is not published. Klarna does not say
// that PKCE is required; discovery advertises S256, which the client always
// sends.
//   - https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/openidconnect/
//   - https://docs.klarna.com/acquirer/klarna/sign-in-with-klarna/integrate-sign-in-with-klarna/openidconnect/
//   - https://docs.klarna.com/acquirer/klarna-direct/sign-in-with-klarna/openidconnect-cic-support/
//
// # Client authentication
//
// "Obtain a client with either the client_secret_basic or
// client_secret_post authentication methods selected": a client is
// registered with one method, and Klarna's page says to authenticate at the
// token endpoint on every request with it: client_secret_basic is an
// Authorization: Basic header (base64 of client_id:client_secret, with the
// Basic prefix; without it Klarna answers 400 "Invalid authorization
// header"), client_secret_post is both in the form and no Authorization
// header. The shop's method is KLARNA_TOKEN_AUTH (Config.TokenAuth,
// client_secret_basic by default), used for the code exchange, refresh and
// revocation. In Basic, each part is form-encoded before base64 (RFC 6749
// 2.3.1; golang.org/x/oauth2's AuthStyleInHeader), which Ory decodes.
//
// Klarna's token server is Ory Hydra (its ory_ac_, ory_at_, ory_rt_
// tokens). Ory's client authentication (fosite client_authentication.go,
// used by the token and revocation endpoints alike) refuses a client that
// uses another method than its token_endpoint_auth_method with 401
// invalid_client, error_description "Client authentication failed (e.g.,
// unknown client, no client authentication included, or unsupported
// authentication method). The OAuth 2.0 Client supports client
// authentication method 'client_secret_basic', but method
// 'client_secret_post' was requested. You must configure the OAuth 2.0
// client's 'token_endpoint_auth_method' value to accept
// 'client_secret_post'." (or the other way round). The shop reads that as
// a configuration error: a refresh keeps the grant and is tried again later.
//   - https://docs.klarna.com/acquirer/klarna/sign-in-with-klarna/integrate-sign-in-with-klarna/openidconnect/
//   - https://github.com/ory/fosite/blob/master/client_authentication.go
//   - https://github.com/ory/fosite/blob/master/revoke_handler.go
//
// # Tokens and lifetimes
//
// An access token lives about five minutes (expires_in is 300 in one sample,
// 299 in another) and is treated as opaque ("Validation should only be
// performed on the id_token"): only the ID token is verified. A refresh
// (grant_type=refresh_token, form-encoded) answers with new access, ID and
// refresh tokens ("Refresh tokens can only be used once"), and the refresh
// token sent is dead from then on, so the new one must be stored before
// anything else. Klarna gives refresh tokens 60 days on one version of its
// "integrate with Klarna payments" page (and its Klarna checkout page), "90
// days by default. You can also request a different length" on another,
// and "long-lived (90 days by default) ... rolling" on its tokens page;
// the token response does not say, so RefreshTokenTTL assumes the shorter,
// rolling from each refresh.
//
// The ID token of a refresh answer is verified as OpenID Connect Core 12.2
// requires of one: its iss, aud (and azp) and sub the same as the original
// ID token's, signed by the issuer's key, not expired. The shop keeps the
// grant's sub with the identity, and one client per issuer with this client
// id as audience, so it checks: the issuer's JWKS signature, iss this
// issuer, aud this client (azp this client when there are several), exp,
// at_hash when present, and sub equal to the grant's. An answer without an
// ID token is accepted (12.2: it "might not contain an id_token"). A failed
// check refuses the answer (InvalidIDToken): the old refresh token is spent
// at Klarna already, so the client revokes the new one and the keeper
// (package grants) marks the grant dead without storing anything from the
// answer; the customer is asked to sign in with Klarna again. An ID token
// that cannot be checked because the issuer's JWKS could not be fetched
// (IDTokenUnchecked: go-oidc says "fetching keys") is no such failure: the
// new tokens are kept, nothing is revoked, the grant goes on, and none of
// that ID token's claims are used; a sign-in that meets it is refused as
// Klarna not answering, to be started again. auth_time is not compared (the
// shop does not keep the original's).
//   - https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse token_type is "bearer" in one
//
// sample and "Bearer" in the other. The shop asks for openid,
// offline_access (a refresh token), payment:request:create (to start Klarna
// Payments for the customer), profile:name and profile:email.
//   - https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/integrate-with-klarna-payments/
//   - https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/sign-in-with-klarna-tokens/
//   - https://docs.klarna.com/conversion-boosters/sign-in-with-klarna/additional-resources/other-operations
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
