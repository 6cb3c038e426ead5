package control

import (
	"net/url"
	"strings"
)

// Config is what the sandbox was provisioned with: exactly the credentials the
// shop is configured with, so wrong values are rejected the way the real
// provider rejects them. A provider whose Enabled is false runs against its
// real test environment and is not emulated.
type Config struct {
	BaseURL     string // the sandbox's own origin, e.g. http://localhost:8081
	ShopBaseURL string // the shop's origin: CORS, redirect URIs and return URLs
	DataDir     string // where the sandbox keeps its state (package store)

	Klarna KlarnaConfig
	Vipps  VippsConfig
	Altpay AltpayConfig
}

// KlarnaConfig covers Klarna Payments (Basic auth) and Sign in with Klarna (OIDC client).
type KlarnaConfig struct {
	Enabled  bool
	Username string // Europe's merchant account (/klarna/api)
	Password string
	// North America's merchant account (/klarna/api-na): another account,
	// with its own credentials.
	NAUsername   string
	NAPassword   string
	ClientID     string
	ClientSecret string
	// TokenAuth is the one token endpoint authentication method the shop's
	// Sign in with Klarna client is registered with: client_secret_basic or
	// client_secret_post.
	TokenAuth string
}

// VippsConfig covers the access token and ePayment APIs.
type VippsConfig struct {
	Enabled         bool
	ClientID        string
	ClientSecret    string
	SubscriptionKey string
	MSN             string
}

// AltpayConfig covers the Alternative Payments partner API.
type AltpayConfig struct {
	Enabled      bool
	ClientID     string
	ClientSecret string
}

// ShopHTTP reports whether u is a plain-http URL on the shop's own
// configured origin (SHOP_BASE_URL, e.g. http://localhost:8080). The real
// providers want https for return URLs and webhook endpoints; the sandbox
// also takes http there, because a shop run locally has no TLS, and refuses
// any other http URL as the real API does.
func (c Config) ShopHTTP(u *url.URL) bool {
	shop, err := url.Parse(c.ShopBaseURL)
	return err == nil && shop.Host != "" && strings.EqualFold(shop.Scheme, "http") &&
		strings.EqualFold(u.Scheme, "http") && strings.EqualFold(u.Host, shop.Host)
}

// EndpointAllowed is the rule both Vipps MobilePay ("must use HTTPS",
// https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/api-guide/)
// and Alternative Payments ("your HTTPS endpoint",
// https://docs.alternativepayments.io/getting-started/webhooks) state for a
// webhook endpoint: an absolute https URL, with no credentials or fragment;
// plain http only on the shop's own origin (ShopHTTP).
func (c Config) EndpointAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return false
	}
	return strings.EqualFold(u.Scheme, "https") || c.ShopHTTP(u)
}
