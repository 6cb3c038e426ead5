package redact

import (
	"strings"
	"sync"
)

// Rules name where a provider's exchanges carry secrets. Names match
// without regard to case.
type Rules struct {
	Headers []string // request and response headers
	JSON    []string // object fields at any depth, in JSON bodies
	Form    []string // fields of application/x-www-form-urlencoded bodies
	Query   []string // URL query parameters (also in URLs inside bodies and headers)
	Path    []string // path template parameters: "customer_token" in "/tokens/{customer_token}/order"
}

// Common applies to every provider: OAuth 2.0 and OpenID Connect's
// credentials and tokens under their standard names, and cookies.
// client_id is not a secret and is kept: it tells a reader which client
// called.
var Common = Rules{
	Headers: []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key"},
	JSON: []string{"access_token", "refresh_token", "id_token", "client_secret", "password",
		"code_verifier", "token", "api_key"},
	// "code" is a secret in a token request's form (RFC 6749 4.1.3) and in a
	// URL; in JSON it is an error code, and kept.
	Form: []string{"client_secret", "code", "code_verifier", "refresh_token", "access_token", "id_token",
		"token", "password", "client_assertion"},
	Query: []string{"token", "access_token", "refresh_token", "id_token", "id_token_hint", "code",
		"client_secret", "code_verifier"},
	Path: []string{"token"},
}

// Providers adds each provider's own names, by outbound.Op's provider.
var Providers = map[string]Rules{
	// Vipps MobilePay: POST /accesstoken/get sends the client secret and
	// every call the subscription key as headers
	// (https://developer.vippsmobilepay.com/docs/APIs/access-token-api/);
	// the landing page's redirectUrl carries a token query (Query: token).
	// The Webhooks API's register answer carries the secret that signs the
	// deliveries (JSON: secret).
	"vipps": {Headers: []string{"client_secret", "Ocp-Apim-Subscription-Key"}, JSON: []string{"secret"}},
	// Klarna Payments and Sign in with Klarna: Basic auth (Common), the
	// session's client_token (meant for the browser, but it still authorizes
	// the widget), the widget's authorization_token (in JSON and in the
	// create-order path), the account-linking customer_token and the Sign in
	// with Klarna access token passed in a session, and the Customer Token
	// API's token_id (in JSON and in its paths).
	"klarna": {
		JSON: []string{"client_token", "authorization_token", "customer_token", "klarna_access_token", "token_id"},
		Path: []string{"authorization_token", "customer_token", "token_id"},
	},
	// Alternative Payments: the OAuth token (Common: access_token), the
	// checkout JWT of POST /v1/checkout-auth/init (Common: token), card
	// tokens in payment objects, and the webhook secret_key of POST
	// /webhooks (every delivery presents it as a Bearer token).
	"altpay": {JSON: []string{"card_provider_token", "secret_key"}},
}

// ruleset is Rules merged and indexed, lower case.
type ruleset struct {
	headers, json, form, query, params map[string]bool
}

func set(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			m[strings.ToLower(s)] = true
		}
	}
	return m
}

// compiled caches each provider's ruleset: Rules are read once, at first use.
var compiled sync.Map // provider -> *ruleset

func rulesFor(provider string) *ruleset {
	if r, ok := compiled.Load(provider); ok {
		return r.(*ruleset)
	}
	p := Providers[provider]
	r, _ := compiled.LoadOrStore(provider, &ruleset{
		headers: set(Common.Headers, p.Headers),
		json:    set(Common.JSON, p.JSON),
		form:    set(Common.Form, p.Form),
		query:   set(Common.Query, p.Query),
		params:  set(Common.Path, p.Path),
	})
	return r.(*ruleset)
}
