// Package klarnasignin emulates Sign in with Klarna, Klarna's OpenID Connect
// identity provider, below /klarna/login, in both Klarna regions. Each
// region is its own issuer, as Klarna's OpenID Connect page lists them
// (Europe: the login host, https://login.playground.klarna.com on the test
// environment; North America: https://login.playground.klarna.com/na/lp/idp):
// Europe's issuer is /klarna/login (its endpoints below /eu/lp/idp, as its
// discovery document names them), North America's /klarna/login/na/lp/idp
// (its endpoints below it; Klarna publishes no North American discovery
// document, so its revocation endpoint at <issuer>/oauth2/revoke, like
// Europe's, is an INFERENCE). Each has its own signing key, discovery,
// JWKS, sign-in pages and subs; a code or token is known only at the
// endpoints of the issuer that made it (elsewhere: invalid_grant, 401 at
// userinfo, a no-op revocation).
//
//   - discovery and the JWKS at both path families Klarna publishes for
//     Europe: the /eu/lp/idp family its guides and clients use, and the
//     family directly below the issuer that a newer capture of its
//     discovery document shows;
//   - the authorize endpoint (the code flow, PKCE with S256 or plain) with a
//     Klarna-styled sign-in and consent page, or straight back with a code
//     when the setting klarna_auto_consent names a test identity;
//   - the token endpoint, where the shop's client is registered with one
//     method (control.KlarnaConfig.TokenAuth, from KLARNA_TOKEN_AUTH; empty
//     is client_secret_basic; a client without a secret is public): Klarna's
//     page says a client is obtained with "either the client_secret_basic
//     or client_secret_post authentication methods selected", and Ory's
//     fosite refuses the other method, at the token and the revocation
//     endpoint, with 401 invalid_client and the hint "The OAuth 2.0 Client
//     supports client authentication method '<registered>', but method
//     '<used>' was requested. You must configure the OAuth 2.0 client's
//     'token_endpoint_auth_method' value to accept '<used>'."; the
//     authorization_code grant, and the refresh_token grant with single-use
//     rotation (every refresh answers a new refresh token and the used one
//     stops working); access tokens live 5 minutes (klarna_access_token_ttl);
//   - userinfo and token revocation (RFC 7009).
//
// Klarna's token prefixes (ory_ac_, ory_at_, ory_rt_) point to Ory Hydra and
// its OAuth library fosite. Where Klarna documents nothing, the sandbox does
// what fosite does: a reused refresh token or code revokes the whole grant,
// and errors are fosite's {error, error_description} bodies.
//
// Klarna Payments (package klarna) asks Recognise whether a
// customer.klarna_access_token is valid, so a signed-in customer's widget
// skips its login step.
//
// It follows Klarna's public documentation:
//   - OpenID Connect integration: https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/openidconnect/
//   - tokens with Klarna Payments (token endpoint, refresh, rotation): https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/integrate-with-klarna-payments/
//   - token lifetimes: https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/sign-in-with-klarna-tokens/
//   - refresh, userinfo, JWKS: https://docs.klarna.com/sign-in-with-klarna/additional-resources/other-operations/
//   - scopes and claims: https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/scopes-and-claims/
//   - the discovery document: https://login.klarna.com/.well-known/openid-configuration
//   - client authentication and the issuers per region: https://docs.klarna.com/acquirer/klarna/sign-in-with-klarna/integrate-sign-in-with-klarna/openidconnect/
//   - fosite's client authentication: https://github.com/ory/fosite/blob/master/client_authentication.go
//   - fosite's errors and refresh handling: https://github.com/ory/fosite/blob/master/errors.go,
//     https://github.com/ory/fosite/blob/master/handler/oauth2/flow_refresh.go
//
// It never imports the shop's Sign in with Klarna client: both follow the
// documented contract, and their tests hold them to the documented examples
// (testdata).
package klarnasignin
