// Package klarnasignin emulates Sign in with Klarna, Klarna's OpenID Connect
// identity provider, below /klarna/login:
//
//   - discovery and the JWKS at both path families Klarna publishes: the
//     /eu/lp/idp family its guides and clients use, and the family directly
//     below the issuer that a newer capture of its discovery document shows;
//   - the authorize endpoint (the code flow, PKCE with S256 or plain) with a
//     Klarna-styled sign-in and consent page, or straight back with a code
//     when the setting klarna_auto_consent names a test identity;
//   - the token endpoint with client_secret_basic or client_secret_post: the
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
//   - fosite's errors and refresh handling: https://github.com/ory/fosite/blob/master/errors.go,
//     https://github.com/ory/fosite/blob/master/handler/oauth2/flow_refresh.go
//
// It never imports the shop's Sign in with Klarna client: both follow the
// documented contract, and their tests hold them to the documented examples
// (testdata).
package klarnasignin
